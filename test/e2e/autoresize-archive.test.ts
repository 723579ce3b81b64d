// The autoresizer with WAL archiving broken: a Cluster with its own WAL
// volume, archiving to the real object store, then failing for real (the
// store's credentials replaced by a wrong key), and a WAL volume filled by a
// real file past the policy's threshold (WAL safety not acknowledged, the
// archive check on, as by default). The in-cluster controller must:
// - not grow the volume and write no ledger entry;
// - say it with one AutoResizeBlocked Event (reason code archive-unhealthy in
//   its message) on the Cluster, once for the change of state, not once per
//   pass (several passes are counted on its own loop histogram);
// - export cnpg_disk_resize_blocked = 1 for that volume with that reason;
// - and, in a real Prometheus scraping the controller through the API
//   server, fire CnpgDiskAutoresizeWalRisk with the volume's labels, from
//   the rules `disk install --prometheus-rule` prints; every query of the
//   dashboard `disk install --dashboard` prints must run there.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { archiverStats, setArchiveCredentials, switchWal } from './lib/archive.js';
import {
  clusterEvents,
  controllerImage,
  controllerLogs,
  controllerMetrics,
  deployController,
  ledgerEntries,
  leaseHolder,
  POD_LABEL,
  removeController,
  sample,
} from './lib/autoresizer.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, fillVolume, instancePods, pvcs } from './lib/cnpg.js';
import { Kube, waitFor } from './lib/kube.js';
import { LocalPrometheus } from './lib/prometheus.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const store = cfg.objectStore;
const CLUSTER = 'pgarc';
const SECRET = 'archive-creds';
const MiB = 2 ** 20;
const WAL_SIZE = 512 * MiB;
const REASON = 'archive-unhealthy';
const ALERT = 'CnpgDiskAutoresizeWalRisk';
// The WAL volume only (the data volume has no policy). No walSafetyPolicy:
// requireArchiveHealthy is on and acknowledgeWALRisk off, as by default.
const POLICY = [
  'walStorage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 60 }',
  '    expansion: { step: 256Mi, limit: 2Gi }',
].join('\n');
let ns = '';
let ctrlNs = '';
let primary = '';
let walPvc = '';
let prometheus: LocalPrometheus | undefined;

interface PrintedList {
  items: {
    kind: string;
    spec?: { groups: { name: string; rules: { alert: string; for: string }[] }[] };
    data?: Record<string, string>;
  }[];
}

/** What `disk install --prometheus-rule --dashboard` prints for this controller (not applied). */
async function printedInstall(image: string): Promise<PrintedList> {
  return cli.json<PrintedList>(
    [
      'disk',
      'install',
      '--namespace',
      ctrlNs,
      '--image',
      image,
      '--watch-namespace',
      ns,
      '--prometheus-rule',
      '--dashboard',
    ],
    [0],
  );
}

let printed: PrintedList = { items: [] };

async function leaderMetrics(): Promise<string> {
  const leader = await leaseHolder(kube, ctrlNs);
  if (!leader) throw new Error('no controller holds the Lease');
  return controllerMetrics(kube, ctrlNs, leader);
}

/** Passes the leader has finished (its loop-duration histogram's count). */
async function passesDone(): Promise<number> {
  return sample(await leaderMetrics(), 'cnpg_disk_loop_duration_seconds_count') ?? 0;
}

async function blockedEvents(): Promise<Awaited<ReturnType<typeof clusterEvents>>> {
  return (await clusterEvents(kube, ns, CLUSTER)).filter(
    (e) => e.reason === 'AutoResizeBlocked' && e.message.includes(walPvc),
  );
}

describe.runIf(store !== undefined)('autoresizer: WAL archiving broken → blocked, event, metric, alert', () => {
  beforeAll(async () => {
    if (!store) return;
    const image = await controllerImage(cfg);
    ns = await kube.createNamespace('ar-archive');
    ctrlNs = await kube.createNamespace('ar-archive-ctrl');
    await deployController(kube, cli, { ctrlNs, watchNs: ns, image, interval: '10s' });
    printed = await printedInstall(image);
    await setArchiveCredentials(kube, ns, { secret: SECRET, connectionString: store.connectionString });
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '256Mi',
      walSize: '512Mi',
      archive: { destinationPath: `${store.endpoint}/${ns}`, secret: SECRET, key: 'AZURE_CONNECTION_STRING' },
      parameters: { archive_timeout: '0' },
    });
    primary = (await instancePods(kube, ns, CLUSTER)).find((p) => p.role === 'primary')?.name ?? '';
    expect(primary).not.toBe('');
    walPvc = `${primary}-wal`;
    // Archiving works first, so what follows is a change to failing.
    const seg = await switchWal(kube, ns, primary);
    await waitFor(`segment ${seg} archived`, kube.t(3 * 60_000), async () => {
      const a = await archiverStats(kube, ns, primary);
      return a.lastArchived >= seg ? a : undefined;
    });
    const before = await archiverStats(kube, ns, primary);
    await setArchiveCredentials(kube, ns, {
      secret: SECRET,
      connectionString: store.badConnectionString,
      cluster: CLUSTER,
    });
    await waitFor(
      'a failed archive attempt',
      kube.t(3 * 60_000),
      async () => {
        await switchWal(kube, ns, primary);
        return (await archiverStats(kube, ns, primary)).failed > before.failed ? true : undefined;
      },
      undefined,
      10_000,
    );
    // The controller's sources (the instance's /metrics through the pod
    // proxy) see it too before the volume fills: the CLI reads the same.
    await waitFor(
      'wal health (pod-proxy) to report the archiver unhealthy',
      kube.t(3 * 60_000),
      async () => {
        const doc = await cli.json<{
          clusters: { instances: { pod: string; archiver?: { healthy: boolean } }[] }[];
        }>(['wal', 'health', '-n', ns, CLUSTER, '--source', 'pod-proxy']);
        const i = doc.clusters[0]?.instances.find((x) => x.pod === primary);
        return i?.archiver?.healthy === false ? true : undefined;
      },
      undefined,
      5_000,
    );
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
    await fillVolume(kube, ns, primary, MOUNTS.wal, 0.75);
  });

  afterAll(async () => {
    cli.dispose();
    await prometheus?.stop();
    await removeController(kube, ctrlNs, ns);
  });

  it('blocks the WAL volume: one AutoResizeBlocked Event over several passes, no growth, no ledger entry', async () => {
    const [first] = await waitFor(
      'an AutoResizeBlocked Event for the WAL volume',
      kube.t(3 * 60_000),
      async () => {
        const ev = await blockedEvents();
        return ev.length > 0 ? ev : undefined;
      },
      async () => `${(await kube.run(['-n', ns, 'get', 'events'])).stdout}\n${await controllerLogs(kube, ctrlNs)}`,
      3_000,
    );
    expect(first?.type).toBe('Warning');
    expect(first?.message.startsWith(`${REASON}:`), first?.message).toBe(true);
    // Several more passes (10 s interval) in the same state: no new Event.
    const start = await passesDone();
    await waitFor('four more passes', kube.t(3 * 60_000), async () =>
      (await passesDone()) >= start + 4 ? true : undefined,
    );
    const events = await blockedEvents();
    expect(events).toHaveLength(1);
    expect(events[0]?.count ?? 1).toBe(1);
    const wal = (await pvcs(kube, ns, CLUSTER)).find((p) => p.name === walPvc);
    expect(wal?.requested).toBe(WAL_SIZE);
    expect(wal?.capacity).toBe(WAL_SIZE);
    for (const p of await pvcs(kube, ns, CLUSTER)) expect(await ledgerEntries(kube, ns, p.name), p.name).toEqual([]);
  });

  it('exports cnpg_disk_resize_blocked = 1 for the volume with reason archive-unhealthy', async () => {
    const text = await leaderMetrics();
    const volume = { cluster_namespace: ns, cluster: CLUSTER, pod: primary, volume_type: 'wal' };
    expect(sample(text, 'cnpg_disk_resize_blocked', { ...volume, reason: REASON })).toBe(1);
    for (const other of ['pending-wal', 'slot-retention', 'rate-limit'])
      expect(sample(text, 'cnpg_disk_resize_blocked', { ...volume, reason: other }), other).toBe(0);
    expect(sample(text, 'cnpg_disk_blocked_volumes', { reason: REASON })).toBe(1);
    expect(sample(text, 'cnpg_disk_percent_used', volume)).toBeGreaterThan(60);
  });

  it(`fires ${ALERT} in a real Prometheus scraping the controller, from the printed rules`, async () => {
    const rule = printed.items.find((i) => i.kind === 'PrometheusRule');
    const groups = rule?.spec?.groups ?? [];
    const walRisk = groups.flatMap((g) => g.rules).find((r) => r.alert === ALERT);
    expect(walRisk?.for).toBe('5m');
    // The printed rules as they are, but `for: 5m` shortened to 20s so the
    // test waits seconds, not minutes: the expression and labels are the product's.
    const rules = {
      groups: groups.map((g) => ({
        ...g,
        rules: g.rules.map((r) => (r.alert === ALERT ? { ...r, for: '20s' } : r)),
      })),
    };
    const pods = await kube.json<{ items: { metadata: { name: string } }[] }>([
      '-n',
      ctrlNs,
      'get',
      'pods',
      '-l',
      POD_LABEL,
    ]);
    expect(pods.items).toHaveLength(2);
    prometheus = await LocalPrometheus.start({
      kubeconfig: cfg.kubeconfig,
      jobName: 'cnpg-disk-autoresizer',
      targets: pods.items.map((p) => ({ namespace: ctrlNs, pod: p.metadata.name, port: 8080, path: '/metrics' })),
      rules,
    });
    const prom = prometheus;
    const firing = await waitFor(
      `${ALERT} firing`,
      kube.t(3 * 60_000),
      async () =>
        (await prom.alerts()).find(
          (a) => a.labels['alertname'] === ALERT && a.labels['cluster_namespace'] === ns && a.state === 'firing',
        ),
      async () => `${JSON.stringify(await prom.alerts(), null, 1)}\n${prom.recentLog()}`,
      2_000,
    );
    expect(firing.labels).toMatchObject({
      severity: 'critical',
      cluster_namespace: ns,
      cluster: CLUSTER,
      pod: primary,
      volume_type: 'wal',
      reason: REASON,
    });
    expect(firing.annotations['summary']).toContain(`wal volume of ${ns}/${primary}`);
    expect(firing.annotations['summary']).toContain(REASON);
  });

  it('every query of the printed dashboard runs in that Prometheus', async () => {
    const prom = prometheus;
    if (!prom) throw new Error('Prometheus did not start (the test before failed)');
    const cm = printed.items.find((i) => i.kind === 'ConfigMap' && i.data?.['cnpg-disk-autoresizer.json']);
    const dash = JSON.parse(cm?.data?.['cnpg-disk-autoresizer.json'] ?? '{}') as {
      panels?: { title: string; targets: { expr: string }[] }[];
      templating?: { list: { name: string; query?: { query: string } }[] };
    };
    const panels = dash.panels ?? [];
    expect(panels.length).toBeGreaterThan(5);
    // Grafana's variable: label_values(metric, label) → our namespace is among its values.
    const variable = dash.templating?.list.find((v) => v.name === 'cluster_namespace')?.query?.query ?? '';
    const m = /^label_values\((\w+), (\w+)\)$/.exec(variable);
    expect(m, variable).not.toBeNull();
    expect(await prom.labelValues(m?.[1] ?? '', m?.[2] ?? '')).toContain(ns);
    const results = new Map<string, number>();
    for (const p of panels) {
      for (const t of p.targets) {
        // The variable as Grafana substitutes it when our namespace is chosen.
        const q = t.expr.replaceAll('$cluster_namespace', ns);
        const r = await prom.query(q);
        expect(r.status, `${p.title}: ${q}: ${r.error ?? ''}`).toBe('success');
        results.set(p.title, r.data?.result.length ?? 0);
      }
    }
    console.log(`dashboard queries (series returned): ${JSON.stringify(Object.fromEntries(results))}`);
    // The panels about this state show it.
    const blocked = await prom.query(
      panels.find((p) => p.title === 'Blocked volumes')?.targets[0]?.expr ?? 'absent(nothing)',
    );
    expect(blocked.data?.result.find((s) => s.metric['reason'] === REASON)?.value[1]).toBe('1');
    for (const title of ['Leader replicas', 'Volume usage', 'Available bytes', 'Volume size'])
      expect(results.get(title), title).toBeGreaterThan(0);
    // Still not grown after all of it.
    const wal = (await pvcs(kube, ns, CLUSTER)).find((p) => p.name === walPvc);
    expect(wal?.requested).toBe(WAL_SIZE);
  });
});
