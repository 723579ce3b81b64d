// WAL safety on stale facts, against a real kube-apiserver + etcd: the
// instances' /metrics pages are served through the API server's real pod
// proxy by simulated exporters (test/api/seed.ts) that behave like
// CloudNativePG's cache: the first scrape shows healthy slots, every later
// one a new inactive slot holding 100 MiB. Simulated: the exporter and the
// kubelet (which cannot exec, so the exec re-read fails like an unreachable
// node and the write path falls back to waiting out metricsQueriesTTL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { cli, json, requireBuiltCli } from '../helpers/cli.js';
import { metricsExporter, Seeder } from './seed.js';

const POLICY = [
  'walStorage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 80 }',
  '    expansion: { step: 32Mi, limit: 1Gi }',
  '    strategy: { walSafetyPolicy: { maxSlotRetentionBytes: 1Mi } }',
  '',
].join('\n');

interface PlanDoc {
  summary: { exitCode: number };
  volumes: {
    instance: string;
    pvc: string;
    decision: { verdict: string };
    result?: { status: string; message: string; freshDecision?: { verdict: string; reason?: string } };
    walRecheck?: { how: string; outcome: string; observedAt?: string; staleObservedAt?: string; message: string };
  }[];
}

describe('disk resize --apply on WAL facts from CloudNativePG metrics cache', { timeout: 180_000 }, () => {
  let api: ApiServerHandle;
  let net: TestNetwork;
  let seed: Seeder;
  const scrapes = new Map<string, number>();
  const nodes = ['node-a'];

  /** A cluster whose exporters show a new inactive slot from their second scrape on. */
  async function seedCluster(name: string, ttl: string): Promise<void> {
    await seed.cluster({
      namespace: 'stale',
      name,
      instances: 2,
      walStorage: true,
      nodes,
      usage: { data: 0.3, wal: 0.88 },
      monitoring: { metricsQueriesTTL: ttl },
      annotations: { 'disk.cnpg-plugin.dev/resize-policy': POLICY },
      instanceManager: {
        port: 9187,
        handler: (pod, primary, vols) =>
          metricsExporter(vols, primary, {
            extraLines: () => {
              const n = (scrapes.get(pod) ?? 0) + 1;
              scrapes.set(pod, n);
              return n === 1
                ? []
                : [
                    'cnpg_pg_replication_slots_active{slot_name="late",slot_type="physical"} 0',
                    `cnpg_pg_replication_slots_pg_wal_lsn_diff{slot_name="late",slot_type="physical"} ${100 * 2 ** 20}`,
                  ];
            },
          }),
      },
    });
  }

  async function requests(name: string): Promise<string[]> {
    const r = await api.request('GET', `/api/v1/namespaces/stale/persistentvolumeclaims`);
    const items = r.json<{
      items: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[];
    }>().items;
    return items
      .filter((p) => new RegExp(`^${name}-\\d+-wal$`).test(p.metadata.name))
      .map((p) => `${p.metadata.name}=${p.spec.resources.requests.storage}`)
      .sort();
  }

  const resize = async (name: string) =>
    cli(['disk', 'resize', name, '-n', 'stale', '--volume', 'wal', '--apply', '--yes', '-o', 'json'], {
      kubeconfig: await api.kubeconfigFor('admin', ['system:masters']),
      killAfterMs: 120_000,
    });

  beforeAll(async () => {
    requireBuiltCli();
    await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (net = n))]);
    seed = await Seeder.create(api, net);
    await seed.storageClasses();
    await Promise.all(nodes.map((n) => seed.node(n)));
    await Promise.all([
      seedCluster('cached', '3s'),
      seedCluster('live', '0s'),
      seedCluster('long', '10m'),
      seedCluster('auto', '3s'),
      seedCluster('auto-long', '10m'),
    ]);
  }, 240_000);

  afterAll(async () => {
    await seed?.close();
    await net?.close();
    await api?.stop();
  }, 60_000);

  it('first scrape healthy, the next shows a new inactive slot: no write, blocked slot-retention on every instance', async () => {
    const before = await requests('cached');
    const r = await resize('cached');
    expect(r.code, r.stderr).toBe(1);
    const doc = json<PlanDoc>(r);
    expect(doc.volumes).toHaveLength(2);
    for (const v of doc.volumes) {
      // The plan (on the cached page) said resize; the fresh facts said otherwise, and won.
      expect(v.decision.verdict, v.pvc).toBe('resize');
      expect(v.result?.status, v.pvc).toBe('not-applied');
      expect(v.result?.freshDecision, v.pvc).toMatchObject({ verdict: 'blocked', reason: 'slot-retention' });
      expect(v.walRecheck, v.pvc).toMatchObject({ how: 'rescrape', outcome: 'changed' });
      // The facts' age is said honestly: the first page was up to the TTL (3 s) older than its scrape.
      expect(Date.parse(v.walRecheck!.observedAt!) - Date.parse(v.walRecheck!.staleObservedAt!)).toBeGreaterThan(3000);
    }
    // exec was tried first (the admin may exec) and the simulated kubelet cannot: then the wait.
    expect(r.stderr).toMatch(/trying exec to read them again/);
    expect(r.stderr).toMatch(/waiting \d+ s for CloudNativePG's metrics cache \(metricsQueriesTTL 3 s\)/);
    expect(await requests('cached')).toEqual(before);
  });

  it('metricsQueriesTTL 0: the page is live, so the first scrape is acted on without a second one', async () => {
    const r = await resize('live');
    expect(r.code, r.stderr).toBe(0);
    const doc = json<PlanDoc>(r);
    for (const v of doc.volumes) {
      expect(v.result?.status, v.pvc).toBe('applied');
      expect(v.walRecheck, v.pvc).toBeUndefined();
    }
    expect(scrapes.get('live-1')).toBe(1);
    expect(scrapes.get('live-2')).toBe(1);
    expect(await requests('live')).toEqual(['live-1-wal=96Mi', 'live-2-wal=96Mi']);
  });

  it('a TTL longer than the write may wait, and no exec: no write, the WAL facts too stale', async () => {
    const before = await requests('long');
    const r = await resize('long');
    expect(r.code, r.stderr).toBe(1);
    const doc = json<PlanDoc>(r);
    for (const v of doc.volumes) {
      expect(v.result?.status, v.pvc).toBe('not-applied');
      expect(v.walRecheck, v.pvc).toMatchObject({ how: 'none', outcome: 'stale' });
      expect(v.result?.message).toMatch(/may predate this run .*waiting out metricsQueriesTTL \(600 s\)/);
    }
    expect(await requests('long')).toEqual(before);
  });

  interface AutoReport {
    exitCode: number;
    clusters: {
      volumes: { pvc: string; type: string; action: string; verdict: string; reason?: string; message: string }[];
    }[];
  }
  const autoresize = async (name: string) =>
    cli(['disk', 'autoresize', name, '-n', 'stale', '-o', 'json'], {
      kubeconfig: await api.kubeconfigFor('admin', ['system:masters']),
      killAfterMs: 120_000,
    });

  it('the autoresizer (one pass) reads the WAL facts again the same way: held on the new slot, nothing written', async () => {
    const before = await requests('auto');
    const r = await autoresize('auto');
    expect(r.code, r.stderr).toBe(1);
    const wal = json<AutoReport>(r).clusters[0]!.volumes.filter((v) => v.type === 'wal');
    expect(wal).toHaveLength(2);
    for (const v of wal) {
      expect(v, v.pvc).toMatchObject({ action: 'held', verdict: 'blocked', reason: 'slot-retention' });
    }
    expect(r.stderr).toMatch(/waiting \d+ s for CloudNativePG's metrics cache/);
    expect(await requests('auto')).toEqual(before);
  });

  it('the autoresizer with facts too stale to confirm: unknown (fail closed), nothing written', async () => {
    const before = await requests('auto-long');
    const r = await autoresize('auto-long');
    const wal = json<AutoReport>(r).clusters[0]!.volumes.filter((v) => v.type === 'wal');
    for (const v of wal) {
      expect(v.action, v.pvc).toBe('unknown');
      expect(v.message, v.pvc).toMatch(/may predate this run/);
    }
    expect(await requests('auto-long')).toEqual(before);
  });
});
