// The autoresizer in a real cluster: the image built from the Linux binary
// with buildah (scripts/release/image.ts), imported into the node's
// containerd, deployed with `disk install --apply`; a real Cluster whose data
// volume a real file fills past the policy's threshold is grown online by the
// controller (PVC request, then capacity, then the filesystem inside the
// running pod), with an AutoResized Event on the Cluster and one ledger entry;
// then a second instance, created by CloudNativePG at the declared size, is
// grown to its sibling's size (the sibling floor).
//
// On a cluster other than the local one (AKS...), set
// CNPG_E2E_AUTORESIZER_IMAGE to an image pushed from the same archives.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { build, version } from '../../scripts/release/build.js';
import { buildImage, LOCAL_IMAGE } from '../../scripts/release/image.js';
import { target } from '../../scripts/release/targets.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, dfInPod, instancePods, pvcs, waitHealthy } from './lib/cnpg.js';
import { Kube, exec, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pg';
const POLICY = [
  'storage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 70 }',
  '    expansion: { step: 256Mi, limit: 2Gi }',
  '    strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } }',
].join('\n');
let ns = '';
let ctrlNs = '';
let tmp = '';

describe('autoresizer (in-cluster controller)', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-autoresize-'));
    let image = process.env['CNPG_E2E_AUTORESIZER_IMAGE'] ?? '';
    if (!image) {
      if (!cfg.local)
        throw new Error('set CNPG_E2E_AUTORESIZER_IMAGE to the pushed controller image (docs/autoresize.md)');
      const t = target('linux-x64');
      const res = await build({ targets: [t], programs: ['cli'], out: join(tmp, 'build') });
      const bin = res.binaries[0]?.file ?? '';
      const archive = join(tmp, 'image.oci.tar');
      await buildImage(bin, t, archive, version());
      const sock = join(process.env['CNPG_E2E_RUN'] ?? '/run/cnpg-disk-e2e', 'containerd', 'containerd.sock');
      const r = await exec('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'import', archive], {
        timeoutMs: 300_000,
      });
      expect(r.code, r.stderr).toBe(0);
      image = LOCAL_IMAGE(version());
    }
    ns = await kube.createNamespace('autoresize');
    ctrlNs = await kube.createNamespace('autoresizer');
    const install = await cli.run([
      'disk',
      'install',
      '--namespace',
      ctrlNs,
      '--image',
      image,
      '--watch-namespace',
      ns,
      '--source',
      'cluster-status,pod-proxy,kubelet-summary',
      '--interval',
      '10s',
      '--apply',
    ]);
    expect(install.code, install.stderr).toBe(0);
    await kube.ok(['-n', ctrlNs, 'rollout', 'status', 'deployment/cnpg-disk-autoresizer', '--timeout=300s'], {
      timeoutMs: 320_000,
    });
    await createCluster(kube, cfg, ns, { name: CLUSTER, instances: 1, dataSize: '512Mi' });
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
  });

  afterAll(async () => {
    if (ctrlNs) {
      const logs = await kube.run([
        '-n',
        ctrlNs,
        'logs',
        '-l',
        'app.kubernetes.io/name=cnpg-disk-autoresizer',
        '--tail=40',
      ]);
      console.error(`[e2e] controller logs:\n${logs.stdout}`);
    }
    if (ns) await kube.deleteNamespace(ns);
    if (ctrlNs) await kube.deleteNamespace(ctrlNs);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    for (const r of ['clusterrole', 'clusterrolebinding']) {
      await kube.run(['delete', r, 'cnpg-disk-autoresizer-cluster', '--ignore-not-found']);
    }
  });

  it('two replicas, exactly one holds the Lease', async () => {
    const lease = await kube.json<{ spec: { holderIdentity?: string } }>([
      '-n',
      ctrlNs,
      'get',
      'lease',
      'cnpg-disk-autoresizer',
    ]);
    const pods = await kube.json<{ items: { metadata: { name: string } }[] }>([
      '-n',
      ctrlNs,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=cnpg-disk-autoresizer',
    ]);
    expect(pods.items).toHaveLength(2);
    expect(pods.items.map((p) => p.metadata.name)).toContain(lease.spec.holderIdentity);
  });

  it('a filling data volume is grown online: request, capacity, filesystem; an event; one ledger entry', async () => {
    const [pod] = await instancePods(kube, ns, CLUSTER);
    const name = pod?.name ?? '';
    const before = await dfInPod(kube, ns, name, MOUNTS.data);
    const fill = Math.floor(before.size * 0.85) - before.used;
    const r = await kube.exec(
      ns,
      name,
      'postgres',
      ['sh', '-c', `head -c ${fill} /dev/zero > ${MOUNTS.data}/e2e-fill && sync`],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const grown = await waitFor(
      'the filesystem to grow',
      kube.t(5 * 60_000),
      async () => {
        const df = await dfInPod(kube, ns, name, MOUNTS.data);
        return df.size > before.size * 1.3 ? df : undefined;
      },
      async () => (await kube.run(['-n', ns, 'get', 'pvc,events'])).stdout,
      5_000,
    );
    expect(grown.size).toBeGreaterThan(before.size);
    const [p] = await pvcs(kube, ns, CLUSTER);
    expect(p?.requested).toBe(768 * 2 ** 20);
    const pvc = await kube.json<{ metadata: { annotations: Record<string, string> } }>(['-n', ns, 'get', 'pvc', name]);
    const ledger = JSON.parse(pvc.metadata.annotations['disk.cnpg-plugin.dev/resize-ledger'] ?? '{}') as {
      entries?: unknown[];
    };
    expect(ledger.entries).toHaveLength(1);
    const events = await kube.json<{ items: { reason: string; involvedObject: { kind: string } }[] }>([
      '-n',
      ns,
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${CLUSTER}`,
    ]);
    expect(events.items.filter((e) => e.reason === 'AutoResized' && e.involvedObject.kind === 'Cluster')).toHaveLength(
      1,
    );
  });

  it('a new replica gets the sibling floor', async () => {
    await kube.ok(['-n', ns, 'patch', 'cluster', CLUSTER, '--type=merge', '-p', '{"spec":{"instances":2}}']);
    const sizes = await waitFor(
      'the new replica PVC grown to its sibling',
      kube.t(10 * 60_000),
      async () => {
        const list = await pvcs(kube, ns, CLUSTER);
        if (list.length < 2) return undefined;
        const req = list.map((x) => x.requested);
        return req.every((b) => b === req[0]) ? req : undefined;
      },
      async () => (await kube.run(['-n', ns, 'get', 'pvc,pods,events'])).stdout,
      5_000,
    );
    expect(sizes).toEqual([768 * 2 ** 20, 768 * 2 ** 20]);
    await waitHealthy(kube, ns, CLUSTER, 2, 10 * 60_000);
    const second = (await pvcs(kube, ns, CLUSTER)).find((x) => x.name !== `${CLUSTER}-1`);
    const pvc = await kube.json<{ metadata: { annotations: Record<string, string> } }>([
      '-n',
      ns,
      'get',
      'pvc',
      second?.name ?? '',
    ]);
    expect(pvc.metadata.annotations['disk.cnpg-plugin.dev/resize-ledger']).toContain('"why":"sibling-floor"');
  });
});
