// RBAC with restricted identities: client-certificate users of the real
// kube-apiserver (test/infra) bound to Roles/ClusterRoles made here. The
// API server's RBAC authorizer decides; the CLI asks it first
// (SelfSubjectAccessReview), picks the sources it may use, and says which
// permission would enable the others.
//
// Real: API server, RBAC, node proxy, pod proxy, tmpfs filesystems.
// Simulated: the kubelets (statfs-based /stats/summary, no exec) and, in
// namespace `team`, the instances' metrics exporters on :9187 (cnpg_disk_*
// from statfs, archiver gauges), reached through the real pod proxy.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { df } from './harness.js';
import { cli, expectCleanError, json, requireBuiltCli, type CliResult } from '../helpers/cli.js';
import { moduleLog, packagesIn } from '../helpers/module-log.js';
import {
  grantClusterWide,
  grantInNamespace,
  metricsExporter,
  READ_ONLY_RULES,
  Seeder,
  waitForPermission,
  type Rule,
  type SeededCluster,
} from './seed.js';

interface Doc {
  sources: { source: string; fact: string; outcome: string; permission?: string; detail?: string }[];
  problems: string[];
  clusters: {
    name: string;
    volumes: { pvc: string; expandable?: boolean; filesystem?: Record<string, string> & { source: string } }[];
  }[];
}

const MiB = 1024 * 1024;
const OBJECTS: Rule[] = [
  { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods', 'persistentvolumeclaims', 'events'], verbs: ['get', 'list'] },
];
const STORAGE_CLASSES: Rule = { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list'] };
const POD_PROXY: Rule = { apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] };
const NODE_PROXY: Rule = { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] };

describe('RBAC: restricted identities against a real kube-apiserver', { timeout: 90_000 }, () => {
  let api: ApiServerHandle;
  let net: TestNetwork;
  let seed: Seeder;
  let app: SeededCluster;
  let secure: SeededCluster;
  let bundleDir: string;
  const kc = new Map<string, string>();

  beforeAll(async () => {
    requireBuiltCli();
    bundleDir = mkdtempSync(join(tmpdir(), 'cnpg-disk-rbac-'));
    await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (net = n))]);
    seed = await Seeder.create(api, net);
    await seed.storageClasses();
    await Promise.all(['rb-1', 'rb-2'].map((n) => seed.node(n)));
    // team/app: instances serve /metrics through the pod proxy (a disk-aware build).
    app = await seed.cluster({
      namespace: 'team',
      name: 'app',
      instances: 2,
      walStorage: true,
      nodes: ['rb-1', 'rb-2'],
      sizeBytes: 64 * MiB,
      usage: { data: 0.4, wal: 0.2 },
      instanceManager: { port: 9187, handler: (_pod, primary, vols) => metricsExporter(vols, primary) },
    });
    // vault/secure: nothing answers behind the pod proxy; only the kubelet summary can measure it.
    secure = await seed.cluster({
      namespace: 'vault',
      name: 'secure',
      nodes: ['rb-2'],
      sizeBytes: 64 * MiB,
      usage: { data: 0.55 },
    });

    const grants: [string, Rule[]][] = [
      ['reader', READ_ONLY_RULES],
      ['no-nodes-proxy', [...OBJECTS, STORAGE_CLASSES, POD_PROXY]],
      ['no-source', [...OBJECTS, STORAGE_CLASSES]],
      ['no-clusters', [OBJECTS[1]!, STORAGE_CLASSES, NODE_PROXY]],
    ];
    for (const [user, rules] of grants) await grantClusterWide(seed.client, user, rules);
    // A team's namespaced role, plus node proxy cluster-wide; no storage classes.
    await grantInNamespace(seed.client, 'team-only', 'team', OBJECTS);
    await grantClusterWide(seed.client, 'team-only', [NODE_PROXY]);
    for (const user of [...grants.map(([u]) => u), 'team-only']) kc.set(user, await api.kubeconfigFor(user));
    // RBAC follows an informer cache: wait until each grant is visible.
    await Promise.all([
      waitForPermission(api, 'reader', { verb: 'get', resource: 'nodes', subresource: 'proxy' }),
      waitForPermission(api, 'no-nodes-proxy', { verb: 'get', resource: 'pods', subresource: 'proxy' }),
      waitForPermission(api, 'no-source', { verb: 'list', resource: 'storageclasses', group: 'storage.k8s.io' }),
      waitForPermission(api, 'no-clusters', { verb: 'get', resource: 'nodes', subresource: 'proxy' }),
      waitForPermission(api, 'team-only', { verb: 'list', resource: 'pods', namespace: 'team' }),
      waitForPermission(api, 'team-only', { verb: 'get', resource: 'nodes', subresource: 'proxy' }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await seed?.close();
    await Promise.all([api?.stop(), net?.close()]);
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  }, 60_000);

  const as = (user: string, args: string[]): Promise<CliResult> => cli(args, { kubeconfig: kc.get(user)! });

  async function expectNumbersFromDf(doc: Doc, c: SeededCluster, source: string): Promise<void> {
    const vols = doc.clusters.find((x) => x.name === c.name)!.volumes;
    expect(vols).toHaveLength(c.volumes.length);
    for (const v of c.volumes) {
      const fs = vols.find((x) => x.pvc === v.pvc)?.filesystem;
      expect(fs?.source, v.pvc).toBe(source);
      const want = await df(v.mount.path);
      expect({ total: fs?.['totalBytes'], used: fs?.['usedBytes'], avail: fs?.['availableBytes'] }, v.pvc).toEqual({
        total: want.totalBytes,
        used: want.usedBytes,
        avail: want.availableBytes,
      });
    }
  }

  it('nodes/proxy denied: another source (the pod proxy) answers, and the output says which permission would enable the kubelet summary', async () => {
    const [j, table] = await Promise.all([
      as('no-nodes-proxy', ['disk', 'status', 'app', '-n', 'team', '-o', 'json']),
      as('no-nodes-proxy', ['disk', 'status', 'app', '-n', 'team']),
    ]);
    expect(j.code).toBe(0);
    const doc = json<Doc>(j);
    expect(doc.sources).toContainEqual(
      expect.objectContaining({ source: 'kubelet-summary', outcome: 'denied', permission: 'get nodes/proxy' }),
    );
    expect(doc.sources).toContainEqual(
      expect.objectContaining({
        source: 'exec',
        outcome: 'denied',
        permission: 'get, create pods/exec in namespace team',
      }),
    );
    expect(doc.sources).toContainEqual(
      expect.objectContaining({ source: 'pod-proxy', fact: 'filesystem', outcome: 'used' }),
    );
    await expectNumbersFromDf(doc, app, 'pod-proxy');
    expect(table.code).toBe(0);
    expect(table.stderr).toMatch(/^sources: .*pod-proxy \(filesystem/m);
    expect(table.stderr).toMatch(/^\s+denied: kubelet-summary — grant "get nodes\/proxy" to use it$/m);
  });

  it('nodes/proxy denied and nothing else can measure: exit 3 naming the permissions that would', async () => {
    const r = await as('no-nodes-proxy', ['disk', 'status', '-n', 'vault']);
    expect(r.code).toBe(3);
    expect(expectCleanError(r.stderr)).toMatch(/no source of filesystem facts/);
    expect(r.stderr).toMatch(/hint: grant "get nodes\/proxy" \(enables kubelet-summary\)/);
    expect(r.stderr).toMatch(/hint: grant "get, create pods\/exec in namespace vault" \(enables exec\)/);
  });

  it('everything denied (may list clusters, pods, PVCs; no exec, no pod or node proxy): exit 3 listing the missing rules', async () => {
    const [t, j] = await Promise.all([
      as('no-source', ['disk', 'status', '-n', 'vault']),
      as('no-source', ['disk', 'status', '-n', 'vault', '-o', 'json']),
    ]);
    for (const r of [t, j]) {
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(expectCleanError(r.stderr)).toMatch(/^error: no source of filesystem facts is permitted/);
      const hints = r.stderr.split('\n').filter((l) => l.includes('hint:'));
      expect(hints.map((h) => h.trim()).sort()).toEqual(
        [
          'hint: grant "get, create pods/exec in namespace vault" (enables exec)',
          'hint: grant "get nodes/proxy" (enables kubelet-summary)',
          'hint: grant "get pods/proxy in namespace vault" (enables pod-proxy)',
        ].sort(),
      );
    }
  });

  it('cannot list Clusters: exit 3 with the rule, namespaced or cluster-wide', async () => {
    const [ns, all] = await Promise.all([
      as('no-clusters', ['disk', 'status', '-n', 'team']),
      as('no-clusters', ['wal', 'health', '-A']),
    ]);
    expect(ns.code).toBe(3);
    expect(expectCleanError(ns.stderr)).toMatch(/not allowed to list CloudNativePG Clusters/);
    expect(ns.stderr).toMatch(/hint: grant: list clusters\.postgresql\.cnpg\.io in team$/m);
    expect(all.code).toBe(3);
    expect(all.stderr).toMatch(/hint: grant: list clusters\.postgresql\.cnpg\.io cluster-wide$/m);
  });

  it('a namespaced team role: works in its namespace (storage classes unreadable → expandability unknown), exit 3 with -A', async () => {
    const [ns, all] = await Promise.all([
      as('team-only', ['disk', 'status', '-n', 'team', '-o', 'json']),
      as('team-only', ['disk', 'status', '-A']),
    ]);
    // below every threshold, but this role reads the kubelet summary only: no
    // WAL facts, so WAL_UNKNOWN (a warning) — unknown is never healthy
    expect(ns.code).toBe(1);
    const doc = json<Doc>(ns);
    expect(doc.problems.join('\n')).toMatch(/list storageclasses failed \(403/);
    expect(doc.clusters[0]!.volumes.every((v) => v.expandable === undefined)).toBe(true);
    await expectNumbersFromDf(doc, app, 'kubelet-summary');
    expect(all.code).toBe(3);
    expect(all.stderr).toMatch(/cluster-wide/);
  });

  it('a read-only identity (get/list clusters, pods, PVCs, events, storage classes + get nodes/proxy) runs every read command', async () => {
    const bundle = join(bundleDir, 'reader.tar.gz');
    const runs: [string, string[]][] = [
      ['disk status json', ['disk', 'status', '-A', '-o', 'json']],
      ['disk status wide', ['disk', 'status', '-n', 'team', '-o', 'wide']],
      ['diagnose', ['diagnose', '-A']],
      ['diagnose --bundle', ['diagnose', 'app', '-n', 'team', '--bundle', bundle]],
      ['disk resize (preview)', ['disk', 'resize', 'app', '-n', 'team']],
      ['disk policy validate', ['disk', 'policy', 'validate', '--cluster', 'secure', '-n', 'vault']],
    ];
    const results = await Promise.all(runs.map(([, args]) => as('reader', args)));
    results.forEach((r, i) => {
      const what = `${runs[i]![0]}: exit ${r.code}\n${r.stderr}`;
      expect([0, 1, 2], what).toContain(r.code);
      expect(r.stderr, what).not.toMatch(/^(error|internal error):/m);
      expect(r.stdout.length, what).toBeGreaterThan(0);
    });
    const doc = json<Doc>(results[0]!);
    await expectNumbersFromDf(doc, secure, 'kubelet-summary');
    await expectNumbersFromDf(doc, app, 'kubelet-summary');
    expect(doc.sources).toContainEqual(
      expect.objectContaining({
        source: 'pod-proxy',
        outcome: 'denied',
        permission: 'get pods/proxy in namespace team',
      }),
    );
    expect(existsSync(bundle)).toBe(true);
    // The bundle works offline (no kubeconfig at all) and carries the same numbers.
    const offline = await cli(['disk', 'status', '--from-bundle', bundle, '-o', 'json']);
    expect([0, 1, 2], offline.stderr).toContain(offline.code);
    await expectNumbersFromDf(json<Doc>(offline), app, 'kubelet-summary');
  });

  it('a read-only disk status -A loads none of the generated Kubernetes API (plain JSON requests), and still measures', async () => {
    // The read-only path reads lists, node summaries and access reviews as
    // plain JSON; client-node's main module (every generated API group and
    // model, ~0.7 s of CPU under Node) is only for writes, exec, port-forward
    // and watches. The module hook records every module the run loads.
    const modules = moduleLog();
    try {
      const log = modules.newLog();
      const r = await cli(['disk', 'status', '-A', '-o', 'json'], {
        kubeconfig: kc.get('reader')!,
        nodeArgs: modules.nodeArgs,
        env: log.env,
      });
      expect([0, 1, 2], r.stderr).toContain(r.code);
      const loaded = log.read();
      expect(packagesIn(loaded).has('@oclif/core'), 'the hook records packages').toBe(true);
      const clientNode = loaded.filter((u) => u.includes('node_modules/@kubernetes/client-node/'));
      expect(clientNode.length, 'the kubeconfig types of client-node are used').toBeGreaterThan(0);
      expect(clientNode.filter((u) => /\/dist\/(gen\/|index\.js$|api\.js$)/.test(u))).toEqual([]);
      await expectNumbersFromDf(json<Doc>(r), secure, 'kubelet-summary');
    } finally {
      modules.remove();
    }
  });

  it('wal health needs a WAL source: with the read-only rules it says which (exit 3); adding get pods/proxy is enough', async () => {
    // The kubelet summary carries no WAL facts; /pg/status and /metrics come
    // through the pod proxy (a read: GET), the psql query through exec.
    const denied = await as('reader', ['wal', 'health', '-n', 'team']);
    expect(denied.code).toBe(3);
    expect(expectCleanError(denied.stderr)).toMatch(/no source of WAL facts is permitted/);
    expect(denied.stderr).toMatch(/hint: grant "get pods\/proxy in namespace team"/);
    // no-nodes-proxy = the read-only rules + get pods/proxy, without nodes/proxy
    const ok = await as('no-nodes-proxy', ['wal', 'health', '-n', 'team', '-o', 'json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('"app-1"');
  });
});
