// The `probe` source end to end: the built CLI against a real kube-apiserver,
// reading the cnpg-disk-probe sidecar (which the CNPG-I plugin adds to
// instance pods) through the real pod proxy. Behind each pod's address runs
// the real probe library measuring that instance's real tmpfs mounts, as the
// sidecar does; one instance's postgres container is crash-looping (exit 4),
// which the sidecar outlives.
//
// Proven: the probe source comes first in the automatic order when a pod has
// the sidecar, and its figures equal `df` of each mount, also for the
// crash-looping instance; `--source probe` on a Cluster without the sidecar
// says so; the source needs `get pods/proxy` like the pod proxy source.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportToJson, runProbe } from '@cnpg-disk/probe';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { cli, json, requireBuiltCli } from '../helpers/cli.js';
import { df } from './harness.js';
import { Seeder, type SeededCluster, type SeededVolume } from './seed.js';

interface StatusDoc {
  sources: { source: string; fact: string; outcome: string; detail?: string; permission?: string }[];
  clusters: {
    name: string;
    volumes: {
      instance: string;
      pvc: string;
      type: string;
      filesystem?: { totalBytes: string; usedBytes: string; availableBytes: string; source: string };
    }[];
  }[];
}

const MiB = 1024 * 1024;

/** The sidecar: GET /status answers the probe's report of this instance's mounts (no SQL: postgres may be down). */
function probeSidecar(pod: string, volumes: SeededVolume[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/status') {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    const data = volumes.find((v) => v.type === 'data');
    const wal = volumes.find((v) => v.type === 'wal');
    const tablespaces = Object.fromEntries(
      volumes.filter((v) => v.type === 'tablespace').map((v) => [v.tablespace ?? '', v.mount.path]),
    );
    void runProbe({
      instance: pod,
      namespace: 'probe',
      cluster: 'pg',
      mounts: {
        ...(data ? { dataPath: data.mount.path } : {}),
        ...(wal ? { walPath: wal.mount.path } : {}),
        tablespaces,
      },
      sql: false,
    }).then(
      (report) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(reportToJson(report));
      },
      (e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      },
    );
  };
}

describe('the probe source against a real kube-apiserver', { timeout: 90_000 }, () => {
  let api: ApiServerHandle;
  let net: TestNetwork;
  let seed: Seeder;
  let kubeconfig: string;
  let pg: SeededCluster;

  beforeAll(async () => {
    requireBuiltCli();
    await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (net = n))]);
    seed = await Seeder.create(api, net);
    kubeconfig = await api.kubeconfigFor('probe-tester', ['system:masters']);
    await seed.storageClasses();
    await seed.node('node-1');
    pg = await seed.cluster({
      namespace: 'probe',
      name: 'pg',
      instances: 2,
      walStorage: true,
      tablespaces: ['idx'],
      nodes: ['node-1'],
      sizeBytes: 32 * MiB,
      usage: { data: 0.5, wal: 0.9, 'tbs:idx': 0.1 },
      pods: { 'pg-2': 'crashloop-exit4' },
      probeSidecar: true,
      instanceManager: { port: 9188, handler: (pod, _primary, volumes) => probeSidecar(pod, volumes) },
    });
    await seed.cluster({ namespace: 'plain', name: 'nosidecar', nodes: ['node-1'] });
  }, 240_000);

  afterAll(async () => {
    await seed?.close();
    await net?.close();
    await api?.stop();
  });

  it('comes first when the sidecar is there, and its figures equal df, the crash-looping instance included', async () => {
    const r = await cli(['disk', 'status', '-n', 'probe', 'pg', '-o', 'json'], { kubeconfig });
    const doc = json<StatusDoc>(r);
    expect(doc.sources[0]).toMatchObject({
      source: 'probe',
      fact: 'filesystem',
      outcome: 'used',
      detail: '6 volume(s)',
    });
    expect(doc.sources).toContainEqual(expect.objectContaining({ source: 'probe', fact: 'wal', outcome: 'used' }));
    const vols = doc.clusters[0]?.volumes ?? [];
    expect(vols).toHaveLength(6);
    for (const v of pg.volumes) {
      const got = vols.find((x) => x.pvc === v.pvc);
      const d = await df(v.mount.path);
      expect(got?.filesystem, v.pvc).toMatchObject({
        source: 'probe',
        totalBytes: d.totalBytes,
        usedBytes: d.usedBytes,
        availableBytes: d.availableBytes,
      });
    }
    expect(vols.find((v) => v.pvc === 'pg-2-wal')?.filesystem?.source).toBe('probe');
  });

  it('--source probe on a Cluster without the sidecar says why nothing was measured', async () => {
    const r = await cli(['disk', 'status', '-n', 'plain', 'nosidecar', '--source', 'probe', '-o', 'json'], {
      kubeconfig,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no instance to measure has the cnpg-disk-probe sidecar');
  });

  it('needs get pods/proxy: without it the probe source is denied with that rule', async () => {
    const limited = await api.kubeconfigFor('probe-reader', ['probe-readers']);
    const role = (kind: string, name: string, rules: unknown[]) =>
      api.request('POST', `/apis/rbac.authorization.k8s.io/v1/${kind === 'ClusterRole' ? 'clusterroles' : ''}`, {
        body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name }, rules },
      });
    await role('ClusterRole', 'probe-reader', [
      { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['pods', 'persistentvolumeclaims', 'events'], verbs: ['get', 'list'] },
      { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['list'] },
    ]);
    await api.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'probe-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'probe-reader' },
        subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'probe-readers' }],
      },
    });
    const r = await cli(['disk', 'status', '-n', 'probe', 'pg', '--source', 'probe', '-o', 'json'], {
      kubeconfig: limited,
    });
    const doc = json<StatusDoc>(r);
    expect(doc.sources).toContainEqual(
      expect.objectContaining({ source: 'probe', outcome: 'denied', permission: 'get pods/proxy in namespace probe' }),
    );
    // Nothing measured: the crash-looping instance is still critical from its pod status (exit code 4).
    expect(doc.clusters[0]?.volumes.every((v) => v.filesystem === undefined)).toBe(true);
    expect(r.code).toBe(2);
  });
});
