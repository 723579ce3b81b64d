// `disk status` end to end: the built CLI (node bin/run.js) against a real
// kube-apiserver + etcd (test/infra) seeded with realistic CNPG objects.
//
// Real: the API server (storage, CRD validation, RBAC, audit), its node proxy
// and pod proxy, and the filesystems: every volume is a tmpfs mount with
// size= that we fill, and the numbers must equal `df` of that mount.
// Simulated: the kubelets (a handler serving /stats/summary from statfs of
// the mounts; it cannot exec, so the exec source fails like an unreachable
// node) and the pod/PVC statuses a kubelet or CSI resizer would write.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { df } from './harness.js';
import { cli, expectCleanError, json, requireBuiltCli, type CliResult } from '../helpers/cli.js';
import { metricsExporter, Seeder, type SeededCluster, type SeededVolume } from './seed.js';

interface Fs {
  totalBytes: string;
  usedBytes: string;
  availableBytes: string;
  inodesTotal?: string;
  inodesFree?: string;
  percentUsed: number;
  source: string;
}
interface Volume {
  instance: string;
  pvc: string;
  type: string;
  tablespace?: string;
  expandable?: boolean;
  requestBytes?: string;
  capacityBytes?: string;
  filesystem?: Fs;
  decision?: { verdict: string; newBytes?: string };
  policy: { source: string; enabled: boolean; errors: unknown[] };
}
interface Finding {
  severity: string;
  code: string;
  subject: string;
  message: string;
}
interface StatusDoc {
  apiVersion: string;
  kind: string;
  sources: { source: string; fact: string; outcome: string; permission?: string; detail?: string }[];
  problems: string[];
  summary: { clusters: number; volumes: number; critical: number; warning: number };
  clusters: {
    namespace: string;
    name: string;
    primary?: string;
    singleVolume: boolean;
    tablespaces: string[];
    instances: { pod: string; role: string; lastExitCode?: number; waiting?: string }[];
    volumes: Volume[];
    findings: Finding[];
  }[];
}

const MiB = 1024 * 1024;
const nodes = ['node-1', 'node-2', 'node-3'];
const ago = (min: number) => new Date(Date.now() - min * 60_000).toISOString();

describe('disk status against a real kube-apiserver', { timeout: 90_000 }, () => {
  let api: ApiServerHandle;
  let net: TestNetwork;
  let seed: Seeder;
  let kubeconfig: string;
  const clusters: SeededCluster[] = [];

  beforeAll(async () => {
    requireBuiltCli();
    await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (net = n))]);
    seed = await Seeder.create(api, net);
    kubeconfig = await api.kubeconfigFor('status-tester', ['system:masters']);
    await seed.storageClasses();
    await Promise.all([...nodes, 'node-notjson', 'node-shape', 'node-negative', 'node-error'].map((n) => seed.node(n)));
    // Malformed kubelet answers (each node serves one kind of garbage).
    seed.kubelets.get('node-notjson')!.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"node": {"nodeName": "node-notjson"}, "pods": [ {"podRef": trunc');
    };
    seed.kubelets.get('node-shape')!.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ node: { nodeName: 'node-shape' }, pods: { 'bad-1': 'not a list' } }));
    };
    const negative = seed.kubelets.get('node-negative')!;
    negative.override = (_req: IncomingMessage, res: ServerResponse) => {
      void negative.summary().then((doc) => {
        const d = doc as { pods: { volume: Record<string, number>[] }[] };
        for (const p of d.pods) {
          for (const v of p.volume) {
            v['usedBytes'] = -4096;
            v['availableBytes'] = -1;
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(d));
      });
    };
    seed.kubelets.get('node-error')!.override = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('summary unavailable: cadvisor not started');
    };

    const size = 64 * MiB;
    const specs = [
      // shop: a single-volume 1-instance cluster (healthy), a 3-instance
      // cluster with a separate WAL volume whose primary WAL is 85% full
      // (warning), and one with tablespaces, one of them 95% full (critical).
      {
        namespace: 'shop',
        name: 'orders',
        nodes,
        labels: { team: 'orders' },
        usage: { data: 0.5 },
      },
      {
        namespace: 'shop',
        name: 'billing',
        instances: 3,
        walStorage: true,
        nodes,
        labels: { team: 'billing' },
        usage: (i: string, v: string) => (i === 'billing-1' && v === 'wal' ? 0.85 : 0.3),
      },
      {
        namespace: 'shop',
        name: 'events',
        tablespaces: ['hist', 'idx'],
        nodes: ['node-2'],
        labels: { team: 'analytics' },
        usage: { data: 0.4, 'tbs:hist': 0.95, 'tbs:idx': 0.1 },
      },
      // ok: everything below 80%.
      {
        namespace: 'ok',
        name: 'healthy',
        instances: 3,
        walStorage: true,
        nodes,
        usage: (i: string) => (i === 'healthy-1' ? 0.4 : 0.2),
        // Healthy needs WAL facts too (unknown WAL state is never healthy):
        // a disk-aware metrics exporter behind the pod proxy gives them.
        instanceManager: {
          port: 9187,
          handler: (_p: string, primary: boolean, vols: SeededVolume[]) => metricsExporter(vols, primary),
        },
      },
      // down: an instance crash-looping after postgres exited with code 4 on
      // a full WAL volume, another whose WAL PVC is stuck resizing with a
      // failed-resize event; and a cluster on a storage class that cannot grow.
      {
        namespace: 'down',
        name: 'crash',
        instances: 3,
        walStorage: true,
        nodes,
        usage: (i: string, v: string) => (i === 'crash-2' && v === 'wal' ? 0.99 : 0.3),
        pods: { 'crash-2': 'crashloop-exit4' as const },
        pvcs: {
          'crash-3-wal': {
            request: '96Mi',
            conditions: [
              {
                type: 'Resizing',
                status: 'True',
                message: 'waiting for the external resizer',
                lastTransitionTime: ago(45),
              },
            ],
            allocated: '96Mi',
            allocatedStatus: 'ControllerResizeInProgress',
          },
        },
        events: [
          {
            involved: 'crash-3-wal',
            reason: 'VolumeResizeFailed',
            message: 'resize volume "pv-down-crash-3-wal" by resizer "csi.cnpg-disk.test" failed: quota exceeded',
            count: 4,
          },
        ],
      },
      { namespace: 'down', name: 'legacy', storageClass: 'fixed', nodes: ['node-3'], usage: { data: 0.3 } },
      // policy: an invalid policy annotation, and a valid one that asks for a resize.
      {
        namespace: 'policy',
        name: 'badpolicy',
        nodes: ['node-1'],
        usage: { data: 0.3 },
        annotations: {
          'disk.cnpg-plugin.dev/resize-policy':
            'storage:\n  resize:\n    enabled: true\n    triggers:\n      usageThreshold: 150\n    expansion:\n      step: "-5%"\n',
        },
      },
      {
        namespace: 'policy',
        name: 'notyaml',
        nodes: ['node-1'],
        usage: { data: 0.3 },
        annotations: { 'disk.cnpg-plugin.dev/resize-policy': 'storage: [resize: {enabled: true' },
      },
      {
        namespace: 'policy',
        name: 'autogrow',
        nodes: ['node-2'],
        usage: { data: 0.88 },
        annotations: {
          'disk.cnpg-plugin.dev/resize-policy': [
            'storage:',
            '  resize:',
            '    enabled: true',
            '    triggers: { usageThreshold: 80 }',
            '    expansion: { step: 32Mi, limit: 1Gi }',
            '    strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } }',
            '',
          ].join('\n'),
        },
      },
      // bad: clusters on kubelets that answer garbage; `mixed` has one good node.
      { namespace: 'bad', name: 'notjson', nodes: ['node-notjson'] },
      { namespace: 'bad', name: 'shape', nodes: ['node-shape'] },
      { namespace: 'bad', name: 'negative', nodes: ['node-negative'] },
      { namespace: 'bad', name: 'kubelet-down', nodes: ['node-error'] },
      { namespace: 'bad', name: 'mixed', instances: 2, nodes: ['node-1', 'node-negative'], usage: { data: 0.6 } },
    ];
    for (const s of specs) clusters.push(await seed.cluster({ sizeBytes: size, ...s }));
    // badwal: instance managers behind the real pod proxy answering garbage on
    // /pg/status (not JSON; no isPrimary; a negative backlog).
    const garbage: Record<string, string> = {
      'garbled-1': '<html>502 Bad Gateway</html>',
      'garbled-2': JSON.stringify({ isPrimary: 'yes', currentLsn: '0/3000060' }),
      'garbled-3': JSON.stringify({ isPrimary: false, currentLsn: '0/3000060', readyWalFiles: -3 }),
    };
    clusters.push(
      await seed.cluster({
        namespace: 'badwal',
        name: 'garbled',
        instances: 3,
        nodes,
        sizeBytes: size,
        instanceManager: {
          port: 8000,
          handler: (pod) => (req, res) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(req.url === '/pg/status' ? garbage[pod] : '{}');
          },
        },
      }),
    );
  }, 180_000);

  afterAll(async () => {
    await seed?.close();
    await Promise.all([api?.stop(), net?.close()]);
  }, 60_000);

  const status = (args: string[]): Promise<CliResult> => cli(['disk', 'status', ...args], { kubeconfig });
  // One `-A -o json` run serves several tests (each CLI run costs ~1.5 s of CPU).
  let everything: Promise<CliResult> | undefined;
  const allJson = (): Promise<CliResult> => (everything ??= status(['-A', '-o', 'json']));
  const volumesOf = (doc: StatusDoc) =>
    doc.clusters.flatMap((c) => c.volumes.map((v) => ({ ns: c.namespace, cluster: c.name, ...v })));
  const findingCodes = (doc: StatusDoc, name: string) =>
    doc.clusters.find((c) => c.name === name)?.findings.map((f) => `${f.severity} ${f.code} ${f.subject}`) ?? [];

  it('-A -o json: every byte and inode count equals df of the tmpfs behind the PVC', async () => {
    const r = await allJson();
    const doc = json<StatusDoc>(r);
    expect(doc.apiVersion).toBe('disk.cnpg-plugin.dev/v1alpha1');
    expect(doc.kind).toBe('DiskStatus');
    const good = clusters.filter((c) => c.namespace !== 'bad');
    expect(doc.clusters.map((c) => `${c.namespace}/${c.name}`).sort()).toEqual(
      clusters.map((c) => `${c.namespace}/${c.name}`).sort(),
    );
    const got = new Map(volumesOf(doc).map((v) => [`${v.ns}/${v.pvc}`, v]));
    let compared = 0;
    for (const c of good) {
      for (const v of c.volumes) {
        const vol = got.get(`${c.namespace}/${v.pvc}`);
        expect(vol, `${c.namespace}/${v.pvc} in the output`).toBeDefined();
        const want = await df(v.mount.path);
        expect(vol?.filesystem, `${c.namespace}/${v.pvc} measured`).toBeDefined();
        const fs = vol!.filesystem!;
        expect(
          {
            totalBytes: fs.totalBytes,
            usedBytes: fs.usedBytes,
            availableBytes: fs.availableBytes,
            inodesTotal: fs.inodesTotal,
            inodesFree: fs.inodesFree,
          },
          `${c.namespace}/${v.pvc}`,
        ).toEqual(want);
        // ok/healthy serves /metrics (its WAL facts); the pod proxy is tried before the kubelet summary
        expect(fs.source).toBe(c.namespace === 'ok' ? 'pod-proxy' : 'kubelet-summary');
        // percent used like df: used / (used + available)
        const pct = (Number(want.usedBytes) * 100) / (Number(want.usedBytes) + Number(want.availableBytes));
        expect(Math.abs(fs.percentUsed - pct)).toBeLessThan(0.1);
        compared++;
      }
    }
    expect(compared).toBe(good.reduce((n, c) => n + c.volumes.length, 0));
    // the tmpfs fill levels really differ (the numbers are not one constant)
    expect(new Set(volumesOf(doc).map((v) => v.filesystem?.usedBytes)).size).toBeGreaterThan(4);
    expect(doc.sources).toContainEqual(
      expect.objectContaining({ source: 'kubelet-summary', fact: 'filesystem', outcome: 'used' }),
    );
    // exec was permitted and tried, and failed against the simulated kubelet (no exec protocol)
    expect(doc.sources).toContainEqual(expect.objectContaining({ source: 'exec', outcome: 'unreachable' }));
    expect(r.code).toBe(2);
  });

  it('the table: one row per volume with human sizes, percent, policy and verdict; sources on stderr', async () => {
    const hits = () => new Map([...seed.kubelets].map(([n, k]) => [n, k.hits.get('/stats/summary') ?? 0]));
    const before = hits();
    const r = await status(['-n', 'shop']);
    // the kubelet summary is read once per node, not once per PVC (10 PVCs on 3 nodes)
    const delta = Object.fromEntries([...hits()].map(([n, c]) => [n, c - (before.get(n) ?? 0)]).filter(([, d]) => d));
    expect(delta).toEqual({ 'node-1': 1, 'node-2': 1, 'node-3': 1 });
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('\u001b['); // not a terminal: no colour
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^CLUSTER\s+INSTANCE\s+ROLE\s+VOLUME\s+PVC SIZE\s+FS SIZE\s+USED\s+AVAIL\s+USE%\s+POLICY\s+VERDICT\s*$/,
    );
    const rows = lines.filter((l) => /^(orders|billing|events)\s/.test(l));
    expect(rows).toHaveLength(1 + 3 * 2 + 3);
    const row = (cluster: string, instance: string, volume: string) =>
      rows.find((l) => new RegExp(`^${cluster}\\s+${instance}\\s+\\S+\\s+${volume}\\s`).test(l))?.split(/\s{2,}/);
    expect(row('orders', 'orders-1', 'data')).toEqual([
      'orders',
      'orders-1',
      'primary',
      'data',
      '64 MiB',
      '64 MiB',
      '32 MiB',
      '32 MiB',
      '50.0%',
      'off (defaults)',
      'disabled',
    ]);
    expect(row('billing', 'billing-1', 'wal')?.slice(2, 9)).toEqual([
      'primary',
      'wal',
      '64 MiB',
      '64 MiB',
      '54.4 MiB',
      '9.6 MiB',
      '85.0%',
    ]);
    expect(row('billing', 'billing-2', 'wal')?.[2]).toBe('replica');
    expect(row('events', 'events-1', 'tbs:hist')?.slice(6, 9)).toEqual(['60.8 MiB', '3.2 MiB', '95.0%']);
    // findings follow the table, worst first
    const findings = r.stdout.slice(r.stdout.indexOf('\n\n'));
    expect(findings).toMatch(
      /CRITICAL\s+shop\/events\/events-1-tbs-hist\s+tablespace hist volume events-1-tbs-hist is 9[45](\.\d+)?% full/,
    );
    expect(findings).toMatch(
      /WARNING\s+shop\/billing\/billing-1-wal\s+wal volume billing-1-wal is 8[45](\.\d+)?% full/,
    );
    expect(r.stderr).toMatch(
      /^sources: kubelet-summary \(filesystem, \d node\(s\); note: get nodes\/proxy is equivalent/m,
    );
  });

  it('-o wide adds PVC, storage class, expandability, inodes and source', async () => {
    const r = await status(['legacy', '-n', 'down', '-o', 'wide']);
    const head = r.stdout.split('\n')[0] ?? '';
    expect(head).toMatch(/PVC\s+STORAGECLASS\s+EXPAND\s+REQUEST\s+INODE%\s+BUDGET\s+NEXT SLOT\s+LAST RESIZE\s+SOURCE/);
    const row =
      r.stdout
        .split('\n')
        .find((l) => l.startsWith('legacy'))
        ?.split(/\s{2,}/) ?? [];
    expect(row.slice(11)).toEqual(['legacy-1', 'fixed', 'no', '64 MiB', '0.0%', '3/3', 'now', '-', 'kubelet-summary']);
  });

  it('exit codes follow the worst finding: 0 healthy, 1 warning, 2 critical', async () => {
    // (-n shop, critical, is the table test above)
    const runs = await Promise.all([
      status(['-n', 'ok']),
      status(['billing', '-n', 'shop']),
      status(['events', '-n', 'shop']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 1, 2]);
    // a cluster name shows only that cluster
    expect(
      runs[1]!.stdout
        .split('\n')
        .filter((l) => /^[a-z]/.test(l))
        .slice(1)
        .every((l) => l.startsWith('billing ')),
    ).toBe(true);
    expect(runs[1]!.stdout.split('\n').filter((l) => /^billing\s/.test(l))).toHaveLength(6);
  });

  it('-l selects Clusters by label; a cluster name narrows to one; the default namespace is the context one', async () => {
    const [billing, orders, none, dflt] = await Promise.all([
      status(['-n', 'shop', '-l', 'team=billing', '-o', 'json']),
      status(['-n', 'shop', '-l', 'team in (orders)', '-o', 'json']),
      status(['-A', '-l', 'team=nobody', '-o', 'json']),
      status([]),
    ]);
    expect(json<StatusDoc>(billing).clusters.map((c) => c.name)).toEqual(['billing']);
    expect(billing.code).toBe(1);
    expect(json<StatusDoc>(orders).clusters.map((c) => c.name)).toEqual(['orders']);
    // orders is below every threshold, but no source gives its WAL facts: WAL_UNKNOWN, a warning
    expect(orders.code).toBe(1);
    expect(json<StatusDoc>(orders).clusters[0]!.findings.map((f) => f.code)).toEqual(
      expect.arrayContaining(['WAL_UNKNOWN']),
    );
    expect(json<StatusDoc>(none).clusters).toEqual([]);
    expect(none.code).toBe(0);
    // the kubeconfig context's namespace is "default", which has no clusters
    expect(dflt.code).toBe(0);
    expect(dflt.stderr).toMatch(/no CloudNativePG clusters found/);
  });

  it('a Cluster name or an asked-for namespace that matches nothing: exit 3 with what exists, in every command', async () => {
    const runs = await Promise.all([
      status(['nope', '-n', 'shop']),
      cli(['wal', 'health', 'nope', '-n', 'shop'], { kubeconfig }),
      cli(['diagnose', 'nope', '-n', 'shop'], { kubeconfig }),
      cli(['disk', 'resize', 'nope', '-n', 'shop'], { kubeconfig }),
      cli(['disk', 'policy', 'validate', '--cluster', 'nope', '-n', 'shop'], { kubeconfig }),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(3);
      expect(expectCleanError(r.stderr)).toBe('error: there is no CloudNativePG Cluster "nope" in namespace shop');
      expect(r.stderr).toMatch(/hint: Clusters in namespace shop: billing, events, orders$/m);
      expect(r.stdout).toBe('');
    }
    const [emptyNs, emptyFleet, filtered] = await Promise.all([
      status(['-n', 'default']),
      status(['-A', '-l', 'team=nobody']),
      status(['-n', 'shop', '-l', 'team=nobody']),
    ]);
    expect(emptyNs.code).toBe(3);
    expect(expectCleanError(emptyNs.stderr)).toBe('error: there is no CloudNativePG Cluster in namespace default');
    expect(emptyNs.stderr).toMatch(/look in every namespace with -A/);
    // An empty fleet, and a selector that matches nothing, are answers, not errors.
    expect(emptyFleet.code).toBe(0);
    expect(filtered.code).toBe(0);
  });

  it('-A in the table prefixes the namespace', async () => {
    const r = await status(['-A']);
    expect(r.stdout).toMatch(/^shop\/orders\s+orders-1\s/m);
    expect(r.stdout).toMatch(/^down\/crash\s+crash-2\s/m);
    expect(r.code).toBe(2);
  });

  it('crash-looping instance (exit code 4), stuck resize with a failed-resize event, non-expandable class', async () => {
    const doc = json<StatusDoc>(await allJson());
    const crash = doc.clusters.find((c) => c.name === 'crash')!;
    expect(crash.instances.find((i) => i.pod === 'crash-2')).toMatchObject({
      lastExitCode: 4,
      waiting: 'CrashLoopBackOff',
    });
    // the kubelet summary still measures the volumes of the crash-looping pod
    expect(crash.volumes.find((v) => v.pvc === 'crash-2-wal')?.filesystem?.percentUsed).toBeGreaterThan(98.9);
    expect(findingCodes(doc, 'crash')).toEqual(
      expect.arrayContaining([
        'critical WAL_DISK_FULL_EXIT down/crash/crash-2',
        'critical VOLUME_NEAR_FULL down/crash/crash-2-wal',
        'warning RESIZE_STUCK down/crash/crash-3-wal',
        'warning RESIZE_FAILED_EVENT down/crash/crash-3-wal',
        'info RESIZE_IN_PROGRESS down/crash/crash-3-wal',
      ]),
    );
    const stuck = crash.findings.find((f) => f.code === 'RESIZE_STUCK')!;
    expect(stuck.message).toMatch(/Resizing for 4[5-9] min/);
    const wal3 = crash.volumes.find((v) => v.pvc === 'crash-3-wal')!;
    expect(wal3).toMatchObject({ requestBytes: String(96 * MiB), capacityBytes: String(64 * MiB) });
    const legacy = doc.clusters.find((c) => c.name === 'legacy')!;
    expect(legacy.volumes[0]).toMatchObject({ expandable: false });
    expect(findingCodes(doc, 'legacy')).toContain('info STORAGE_CLASS_NOT_EXPANDABLE down/legacy/legacy-1');
  });

  it('an invalid policy annotation is a policy-invalid finding (warning), never a silent default', async () => {
    const r = await status(['-n', 'policy', '-o', 'json']);
    const doc = json<StatusDoc>(r);
    expect(doc.clusters.map((c) => c.name).sort()).toEqual(['autogrow', 'badpolicy', 'notyaml']);
    for (const name of ['badpolicy', 'notyaml']) {
      const c = doc.clusters.find((x) => x.name === name)!;
      expect(c.volumes[0]!.policy.errors.length, name).toBeGreaterThan(0);
      expect(c.volumes[0]!.decision?.verdict, name).not.toBe('resize');
      expect(findingCodes(doc, name)).toContain(`warning POLICY_INVALID policy/${name}/${name}-1`);
    }
    const bad = doc.clusters.find((x) => x.name === 'badpolicy')!.findings.find((f) => f.code === 'POLICY_INVALID')!;
    expect(bad.message).toMatch(/usageThreshold/);
    expect(bad.message).toMatch(/step/);
    // a valid annotation is used: 88% > 80% → the engine asks for one 32Mi step
    const grow = doc.clusters.find((x) => x.name === 'autogrow')!.volumes[0]!;
    expect(grow.policy).toMatchObject({ source: 'annotation', enabled: true, errors: [] });
    expect(grow.decision).toMatchObject({ verdict: 'resize', newBytes: String(96 * MiB) });
    expect(r.code).toBe(1);
    const table = await status(['-n', 'policy']);
    expect(table.stdout).toMatch(/^badpolicy\s.*policy-invalid\s*$/m);
    expect(table.stdout).toMatch(/^autogrow\s.*resize→96Mi\s*$/m);
  });

  it('malformed kubelet summaries (not JSON, wrong shape, negative numbers, HTTP 500) are reported and never give a number', async () => {
    const r = await allJson();
    const doc = json<StatusDoc>(r);
    const vols = volumesOf(doc);
    const fsOf = (pvc: string) => vols.find((v) => v.pvc === pvc)?.filesystem;
    for (const pvc of ['notjson-1', 'shape-1', 'negative-1', 'kubelet-down-1', 'mixed-2']) {
      expect(fsOf(pvc), pvc).toBeUndefined();
    }
    // the good node of `mixed` still measures its instance, exactly
    const mixed1 = clusters.find((c) => c.name === 'mixed')!.volumes.find((v) => v.pvc === 'mixed-1')!;
    expect(fsOf('mixed-1')?.usedBytes).toBe((await df(mixed1.mount.path)).usedBytes);
    const problems = doc.problems.join('\n');
    expect(problems).toMatch(/kubelet summary of node node-notjson unavailable \(.*is not valid JSON\)/);
    expect(problems).toMatch(/kubelet summary of node node-shape is not a summary document/);
    expect(problems).toMatch(
      /kubelet summary of node node-negative: volume negative-1 of bad\/negative-1 has missing or malformed byte counts/,
    );
    expect(problems).toMatch(/kubelet summary of node node-error unavailable \(500/);
    for (const name of ['notjson', 'shape', 'negative', 'kubelet-down']) {
      expect(findingCodes(doc, name)).toContain(`info NOT_MEASURED bad/${name}`);
    }
    // Nothing unmeasured is judged: no near-full finding from a garbage number.
    const badFindings = doc.clusters.filter((c) => c.namespace === 'bad').flatMap((c) => c.findings);
    // (their WAL is unknown too: that is WAL_UNKNOWN, a warning, and no number)
    expect(badFindings.filter((f) => f.severity !== 'info' && f.code !== 'WAL_UNKNOWN')).toEqual([]);
    // the table shows "-" for what could not be measured, and -v says why
    const t = await status(['-n', 'bad', '-v']);
    // an unmeasured volume is not a finding above info; the unknown WAL state is a warning
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(/^negative\s+negative-1\s+primary\s+data\s+64 MiB\s+-\s+-\s+-\s+-\s/m);
    expect(t.stderr).toMatch(/problem: kubelet summary of node node-notjson unavailable/);
    expect(t.stderr).not.toMatch(/^\s+at /m);
  });

  it('malformed /pg/status payloads through the pod proxy: wal health reports them, never a made-up count', async () => {
    const r = await cli(['wal', 'health', 'garbled', '-n', 'badwal', '-o', 'json'], { kubeconfig });
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/\/pg\/status of garbled-1 is not JSON/);
    expect(text).toMatch(/\/pg\/status of garbled-2 is not an instance status \(no isPrimary\)/);
    expect(text).toMatch(/\/pg\/status of garbled-3: readyWalFiles -3 is not a count/);
    const doc = json<{ clusters: { instances: { pod: string; readyFiles?: number; verdict: string }[] }[] }>(r);
    const byPod = new Map(doc.clusters[0]!.instances.map((i) => [i.pod, i]));
    // the replica's status is read, its impossible backlog is dropped, not shown as a number
    expect(byPod.get('garbled-3')).toMatchObject({ verdict: 'healthy', source: 'pod-proxy' });
    expect(byPod.get('garbled-3')?.readyFiles).toBeUndefined();
    // the primary and one replica could not be judged: unknown, a warning (as in disk status and diagnose)
    expect(byPod.get('garbled-1')?.verdict).toBe('unknown');
    expect(byPod.get('garbled-2')?.verdict).toBe('unknown');
    expect(r.code).toBe(1);
  });

  it('-o yaml is the same versioned document as -o json, byte counts as strings', async () => {
    const [y, j] = await Promise.all([status(['-n', 'ok', '-o', 'yaml']), status(['-n', 'ok', '--json'])]);
    expect([y.code, j.code]).toEqual([0, 0]);
    const fromYaml = YAML.parse(y.stdout) as StatusDoc;
    const fromJson = json<StatusDoc>(j);
    expect(fromYaml.kind).toBe('DiskStatus');
    const strip = (d: StatusDoc) =>
      d.clusters.flatMap((c) =>
        c.volumes.map((v) => [v.pvc, v.requestBytes, v.filesystem?.totalBytes, v.filesystem?.usedBytes]),
      );
    expect(strip(fromYaml)).toEqual(strip(fromJson));
    expect(typeof fromYaml.clusters[0]!.volumes[0]!.filesystem!.totalBytes).toBe('string');
  });

  it('a usage error is one line and exit 64', async () => {
    const r = await status(['-n', 'shop', '-A']);
    expect(r.code).toBe(64);
    expect(expectCleanError(r.stderr)).toMatch(/--namespace and --all-namespaces cannot be used together/);
    const o = await status(['-o', 'xml']);
    expect(o.code).toBe(64);
    expect(expectCleanError(o.stderr)).toMatch(/xml/);
  });
});
