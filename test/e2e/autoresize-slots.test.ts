// The autoresizer and an inactive replication slot on a replica: a
// 2-instance Cluster with its own WAL volumes and
// replicationSlots.synchronizeReplicas, so a physical slot created on the
// primary is copied to the replica, where it holds WAL back too; the
// replica's WAL volume filled by a real file past the policy's threshold
// (the primary's stays below it). The in-cluster controller judges the
// replica on its own slots and must:
// - not grow any volume and write no ledger entry;
// - say it with one AutoResizeBlocked Event (reason code slot-retention)
//   naming the replica's WAL PVC, once over several passes, and none for the
//   primary's;
// - export cnpg_disk_resize_blocked = 1 for the replica's WAL volume with
//   reason slot-retention (and 0 for the primary's).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  clusterEvents,
  controllerImage,
  controllerLogs,
  controllerMetrics,
  deployController,
  ledgerEntries,
  leaseHolder,
  removeController,
  sample,
} from './lib/autoresizer.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, fillVolume, instancePods, psql, pvcs, type InstancePod } from './lib/cnpg.js';
import { Kube, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgslot';
const SLOT = 'e2e_inactive';
const MiB = 2 ** 20;
const WAL_SIZE = 512 * MiB;
const REASON = 'slot-retention';
// The WAL volumes only. A slot may retain at most 32Mi; the pending-WAL check
// is off (no archiving here), so only the slot can stop a resize.
const POLICY = [
  'walStorage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 60 }',
  '    expansion: { step: 256Mi, limit: 2Gi }',
  '    strategy:',
  '      walSafetyPolicy: { maxSlotRetentionBytes: 32Mi, maxPendingWALFiles: 0 }',
].join('\n');
let ns = '';
let ctrlNs = '';
let primary: InstancePod | undefined;
let replica: InstancePod | undefined;

async function leaderMetrics(): Promise<string> {
  const leader = await leaseHolder(kube, ctrlNs);
  if (!leader) throw new Error('no controller holds the Lease');
  return controllerMetrics(kube, ctrlNs, leader);
}

async function passesDone(): Promise<number> {
  return sample(await leaderMetrics(), 'cnpg_disk_loop_duration_seconds_count') ?? 0;
}

async function blockedEvents(pvc: string): Promise<Awaited<ReturnType<typeof clusterEvents>>> {
  return (await clusterEvents(kube, ns, CLUSTER)).filter(
    (e) => e.reason === 'AutoResizeBlocked' && e.message.includes(`${pvc} `),
  );
}

describe('autoresizer: an inactive slot on a replica → its WAL volume blocked', () => {
  beforeAll(async () => {
    const image = await controllerImage(cfg);
    ns = await kube.createNamespace('ar-slots');
    ctrlNs = await kube.createNamespace('ar-slots-ctrl');
    await deployController(kube, cli, { ctrlNs, watchNs: ns, image, interval: '10s' });
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 2,
      dataSize: '256Mi',
      walSize: '512Mi',
      extraSpec: ['  replicationSlots:', '    updateInterval: 5', '    synchronizeReplicas: { enabled: true }'],
    });
    const pods = await instancePods(kube, ns, CLUSTER);
    primary = pods.find((p) => p.role === 'primary');
    replica = pods.find((p) => p.role !== 'primary');
    expect(primary).toBeDefined();
    expect(replica).toBeDefined();
    const p = primary?.name ?? '';
    const r = replica?.name ?? '';
    await psql(kube, ns, p, `SELECT pg_create_physical_replication_slot('${SLOT}', true)`);
    // ~100 MB of WAL the slot now has to keep, on the primary and (copied) on the replica.
    await psql(
      kube,
      ns,
      p,
      "CREATE TABLE fill AS SELECT g, repeat('x', 900) AS pad FROM generate_series(1, 100000) g; SELECT pg_switch_wal(); CHECKPOINT",
    );
    await waitFor(`${SLOT} on ${r} in psql`, kube.t(60_000), async () =>
      (await psql(kube, ns, r, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${SLOT}'`)) === '1'
        ? true
        : undefined,
    );
    // What the controller's sources (the replica's /metrics through the pod
    // proxy) report before the volume fills: the slot, inactive, over the limit.
    await waitFor(
      `the replica's slot retaining > 64 MiB in wal health (pod-proxy)`,
      kube.t(3 * 60_000),
      async () => {
        const doc = await cli.json<{
          clusters: {
            instances: { pod: string; slots?: { name: string; active: boolean; retainedBytes?: string }[] }[];
          }[];
        }>(['wal', 'health', '-n', ns, CLUSTER, '--source', 'pod-proxy']);
        const s = doc.clusters[0]?.instances.find((i) => i.pod === r)?.slots?.find((x) => x.name === SLOT);
        return s && !s.active && Number(s.retainedBytes ?? 0) > 64 * MiB ? s : undefined;
      },
      async () => (await cli.run(['wal', 'health', '-n', ns, CLUSTER, '--source', 'pod-proxy', '-o', 'json'])).stdout,
      5_000,
    );
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
    await fillVolume(kube, ns, r, MOUNTS.wal, 0.75);
  });

  afterAll(async () => {
    cli.dispose();
    await removeController(kube, ctrlNs, ns);
  });

  it("blocks the replica's WAL volume: one AutoResizeBlocked Event over several passes, no growth, no ledger", async () => {
    const replicaWal = `${replica?.name ?? ''}-wal`;
    const primaryWal = `${primary?.name ?? ''}-wal`;
    const [first] = await waitFor(
      `an AutoResizeBlocked Event for ${replicaWal}`,
      kube.t(3 * 60_000),
      async () => {
        const ev = await blockedEvents(replicaWal);
        return ev.length > 0 ? ev : undefined;
      },
      async () => `${(await kube.run(['-n', ns, 'get', 'events'])).stdout}\n${await controllerLogs(kube, ctrlNs)}`,
      3_000,
    );
    expect(first?.type).toBe('Warning');
    expect(first?.message.startsWith(`${REASON}:`), first?.message).toBe(true);
    const start = await passesDone();
    await waitFor('four more passes', kube.t(3 * 60_000), async () =>
      (await passesDone()) >= start + 4 ? true : undefined,
    );
    const events = await blockedEvents(replicaWal);
    expect(events).toHaveLength(1);
    expect(events[0]?.count ?? 1).toBe(1);
    // The primary's WAL volume is below the threshold: nothing to announce.
    expect(await blockedEvents(primaryWal)).toEqual([]);
    const all = await pvcs(kube, ns, CLUSTER);
    expect(all).toHaveLength(4);
    for (const p of all) {
      expect(p.requested, p.name).toBe(p.role === 'PG_WAL' ? WAL_SIZE : 256 * MiB);
      expect(await ledgerEntries(kube, ns, p.name), p.name).toEqual([]);
    }
  });

  it("exports cnpg_disk_resize_blocked = 1 for the replica's WAL volume with reason slot-retention", async () => {
    const text = await leaderMetrics();
    const of = (pod: string) => ({ cluster_namespace: ns, cluster: CLUSTER, pod, volume_type: 'wal' });
    const r = of(replica?.name ?? '');
    const p = of(primary?.name ?? '');
    expect(sample(text, 'cnpg_disk_resize_blocked', { ...r, reason: REASON })).toBe(1);
    for (const other of ['archive-unhealthy', 'pending-wal', 'rate-limit'])
      expect(sample(text, 'cnpg_disk_resize_blocked', { ...r, reason: other }), other).toBe(0);
    expect(sample(text, 'cnpg_disk_percent_used', r)).toBeGreaterThan(60);
    // The primary is judged on its own volume, below the threshold: not blocked.
    expect(sample(text, 'cnpg_disk_resize_blocked', { ...p, reason: REASON })).toBe(0);
    expect(sample(text, 'cnpg_disk_percent_used', p)).toBeLessThan(60);
    expect(sample(text, 'cnpg_disk_blocked_volumes', { reason: REASON })).toBe(1);
  });
});
