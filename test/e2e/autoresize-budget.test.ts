// The autoresizer's budget in a real cluster: a policy with
// maxActionsPerDay: 1 on a data volume (threshold 70 %, step 256Mi). A file
// fills it past the threshold: one resize (512Mi → 768Mi) spends the budget,
// and the leader's cnpg_disk_resize_budget_remaining goes 1 → 0. Filled past
// the threshold again, the volume is blocked with reason rate-limit: one
// AutoResizeBlocked Event naming it (not one per pass), the
// cnpg_disk_resize_blocked{reason="rate-limit"} gauge 1, no second ledger
// entry and no write to the PVC.
//
// The window is 24 h: this file cannot wait for it. It proves the window
// another way: the one ledger entry is moved by hand to 25 h ago (the ledger
// is the PVC's annotation, the only record the engine counts), and the next
// pass has budget again and grows the volume (768Mi → 1Gi), the entry that
// left the window pruned from the ledger.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  clusterEvents,
  controllerImage,
  controllerMetrics,
  deployController,
  ledgerEntries,
  leaseHolder,
  removeController,
  sample,
} from './lib/autoresizer.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, fillVolume, instancePods, pvcs } from './lib/cnpg.js';
import { Kube, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgbudget';
const POD = `${CLUSTER}-1`;
const MiB = 2 ** 20;
const POLICY = [
  'storage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 70 }',
  '    expansion: { step: 256Mi, limit: 2Gi }',
  '    strategy: { maxActionsPerDay: 1, walSafetyPolicy: { acknowledgeWALRisk: true } }',
].join('\n');
const LABELS = (ns: string) => ({ cluster_namespace: ns, cluster: CLUSTER, pod: POD, volume_type: 'data' });
let ns = '';
let ctrlNs = '';

async function requested(): Promise<number> {
  return (await pvcs(kube, ns, CLUSTER)).find((p) => p.name === POD)?.requested ?? 0;
}

/** The leader's /metrics (per-volume series are the leader's decisions). */
async function leaderMetrics(): Promise<string> {
  const holder = await leaseHolder(kube, ctrlNs);
  if (!holder) throw new Error('no Lease holder');
  return controllerMetrics(kube, ctrlNs, holder);
}

async function rateLimitEvents() {
  return (await clusterEvents(kube, ns, CLUSTER)).filter(
    (e) => e.reason === 'AutoResizeBlocked' && e.message.includes('rate-limit'),
  );
}

const state = async () => (await kube.run(['-n', ns, 'get', 'pvc,events'])).stdout;

describe('autoresizer: budget exhausted → blocked until the window', () => {
  beforeAll(async () => {
    const image = await controllerImage(cfg);
    ns = await kube.createNamespace('ar-budget');
    ctrlNs = await kube.createNamespace('ar-budget-ctl');
    await deployController(kube, cli, { ctrlNs, watchNs: ns, image, interval: '10s' });
    await createCluster(kube, cfg, ns, { name: CLUSTER, instances: 1, dataSize: '512Mi' });
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
    expect((await instancePods(kube, ns, CLUSTER)).map((p) => p.name)).toEqual([POD]);
  });

  afterAll(async () => {
    await removeController(kube, ctrlNs, ns);
  });

  it('one resize spends the budget of 1: 512Mi → 768Mi, one ledger entry, budget left 1 → 0', async () => {
    const before = await waitFor('the leader to report the budget of the data volume', kube.t(2 * 60_000), async () =>
      sample(await leaderMetrics(), 'cnpg_disk_resize_budget_remaining', LABELS(ns)),
    );
    expect(before).toBe(1);
    await fillVolume(kube, ns, POD, MOUNTS.data, 0.85, 'e2e-fill-1');
    await waitFor(
      'the first resize',
      kube.t(4 * 60_000),
      async () => ((await requested()) > 512 * MiB ? true : undefined),
      state,
      3_000,
    );
    expect(await requested()).toBe(768 * MiB);
    expect(await ledgerEntries(kube, ns, POD)).toHaveLength(1);
    const after = await waitFor(
      'the budget metric to drop to 0',
      kube.t(60_000),
      async () => {
        const v = sample(await leaderMetrics(), 'cnpg_disk_resize_budget_remaining', LABELS(ns));
        return v === 0 ? v : undefined;
      },
      leaderMetrics,
    );
    expect(after).toBe(0);
  });

  it('filled over the threshold again: blocked by rate-limit, one Event, the gauge, no second entry, no write', async () => {
    // The filesystem must have grown before it is filled again.
    await waitFor('the filesystem to reach 768Mi', kube.t(2 * 60_000), async () => {
      const p = (await pvcs(kube, ns, CLUSTER)).find((x) => x.name === POD);
      return p && p.capacity === 768 * MiB ? true : undefined;
    });
    expect(await rateLimitEvents()).toHaveLength(0);
    await fillVolume(kube, ns, POD, MOUNTS.data, 0.85, 'e2e-fill-2');
    const [blocked] = await waitFor(
      'an AutoResizeBlocked Event naming rate-limit',
      kube.t(3 * 60_000),
      async () => {
        const ev = await rateLimitEvents();
        return ev.length > 0 ? ev : undefined;
      },
      state,
      3_000,
    );
    expect(blocked?.type).toBe('Warning');
    const text = await leaderMetrics();
    expect(sample(text, 'cnpg_disk_resize_blocked', { ...LABELS(ns), reason: 'rate-limit' })).toBe(1);
    expect(sample(text, 'cnpg_disk_resize_budget_remaining', LABELS(ns))).toBe(0);
    // Four more passes (10 s each): still one Event, counted once; no write.
    await new Promise((r) => setTimeout(r, 45_000));
    const events = await rateLimitEvents();
    expect(events).toHaveLength(1);
    expect(events[0]?.count ?? 1).toBe(1);
    expect(events[0]?.series?.count ?? 1).toBe(1);
    expect(await requested()).toBe(768 * MiB);
    expect(await ledgerEntries(kube, ns, POD)).toHaveLength(1);
    expect(sample(await leaderMetrics(), 'cnpg_disk_resize_blocked', { ...LABELS(ns), reason: 'rate-limit' })).toBe(1);
  });

  it('the entry moved out of the 24 h window by hand: budget again, 768Mi → 1Gi, the old entry pruned', async () => {
    const pvc = await kube.json<{ metadata: { annotations: Record<string, string> } }>(['-n', ns, 'get', 'pvc', POD]);
    const ledger = JSON.parse(pvc.metadata.annotations['disk.cnpg-plugin.dev/resize-ledger'] ?? '{}') as {
      entries: { at: string }[];
    };
    expect(ledger.entries).toHaveLength(1);
    const old = new Date(Date.now() - 25 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    ledger.entries[0]!.at = old;
    await kube.ok([
      '-n',
      ns,
      'annotate',
      'pvc',
      POD,
      '--overwrite',
      `disk.cnpg-plugin.dev/resize-ledger=${JSON.stringify(ledger)}`,
    ]);
    await waitFor(
      'the resize after the window',
      kube.t(3 * 60_000),
      async () => ((await requested()) > 768 * MiB ? true : undefined),
      state,
      3_000,
    );
    expect(await requested()).toBe(1024 * MiB);
    const entries = await ledgerEntries(kube, ns, POD);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ by: 'engine', from: '768Mi', to: '1Gi' });
    expect(entries[0]?.['at']).not.toBe(old);
  });
});
