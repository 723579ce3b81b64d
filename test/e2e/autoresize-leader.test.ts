// The autoresizer's leader killed in the middle of a resize: two replicas;
// a file fills the data volume past the threshold; as soon as the leader logs
// that it is waiting to read the instance's WAL facts again before its write
// (the resize is decided and due), its process is killed with SIGKILL through
// the node's containerd (no SIGTERM: it cannot finish the write or release
// the Lease) and its pod force-deleted (so kubelet does not restart it under
// the same identity). The other replica takes the Lease when it expires
// (lease 15 s, retry 2 s: measured from the kill), and the volume is grown
// exactly once: one ledger entry, one step (512Mi → 768Mi), no second write
// in the passes after.
//
// Local cluster only: the kill goes through the node's containerd.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  clusterEvents,
  controllerImage,
  deployController,
  ledgerEntries,
  leaseHolder,
  LEASE,
  POD_LABEL,
  removeController,
} from './lib/autoresizer.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, dfInPod, fillVolume, pvcs } from './lib/cnpg.js';
import { Kube, exec, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pglead';
const POD = `${CLUSTER}-1`;
const MiB = 2 ** 20;
const LEASE_MS = 15_000;
const RETRY_MS = 2_000;
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

interface ControllerPod {
  metadata: { name: string; deletionTimestamp?: string };
  status: { containerStatuses?: { containerID?: string }[] };
}

async function controllerPods(): Promise<ControllerPod[]> {
  return (await kube.json<{ items: ControllerPod[] }>(['-n', ctrlNs, 'get', 'pods', '-l', POD_LABEL])).items;
}

async function requested(): Promise<number> {
  return (await pvcs(kube, ns, CLUSTER)).find((p) => p.name === POD)?.requested ?? 0;
}

const state = async () =>
  `${(await kube.run(['-n', ns, 'get', 'pvc,events'])).stdout}\n${(await kube.run(['-n', ctrlNs, 'get', 'pods,lease', '-o', 'wide'])).stdout}`;

describe.runIf(cfg.local)('autoresizer: leader killed mid-resize → takeover, no double spend', () => {
  beforeAll(async () => {
    const image = await controllerImage(cfg);
    ns = await kube.createNamespace('ar-leader');
    ctrlNs = await kube.createNamespace('ar-leader-ctl');
    await deployController(kube, cli, { ctrlNs, watchNs: ns, image, interval: '10s' });
    await createCluster(kube, cfg, ns, { name: CLUSTER, instances: 1, dataSize: '512Mi' });
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
  });

  afterAll(async () => {
    await removeController(kube, ctrlNs, ns);
  });

  it('SIGKILL of the leader as its resize is due: the other replica leads within the lease, one grow of one step', async () => {
    const pods = await controllerPods();
    expect(pods).toHaveLength(2);
    const leader = await leaseHolder(kube, ctrlNs);
    expect(pods.map((p) => p.metadata.name)).toContain(leader);
    const leaderPod = pods.find((p) => p.metadata.name === leader);
    const containerId = leaderPod?.status.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '') ?? '';
    expect(containerId).toMatch(/^[0-9a-f]{64}$/);

    const since = new Date(Date.now() - 1000).toISOString();
    await fillVolume(kube, ns, POD, MOUNTS.data, 0.85);
    // The leader has decided the resize and waits for CloudNativePG's metrics
    // cache before its write: the moment to kill it.
    await waitFor(
      'the leader to decide the resize and wait before its write',
      kube.t(2 * 60_000),
      async () => {
        const logs = await kube.ok(['-n', ctrlNs, 'logs', leader ?? '', `--since-time=${since}`]);
        return /waiting \d+ s for CloudNativePG's metrics cache/.test(logs) && logs.includes(POD) ? true : undefined;
      },
      async () => (await kube.run(['-n', ctrlNs, 'logs', leader ?? '', '--tail=30'])).stdout,
      500,
    );
    expect(await requested()).toBe(512 * MiB);
    const sock = `${process.env['CNPG_E2E_RUN'] ?? '/run/cnpg-disk-e2e'}/containerd/containerd.sock`;
    const killedAt = Date.now();
    const kill = await exec('ctr', [
      '--address',
      sock,
      '-n',
      'k8s.io',
      'tasks',
      'kill',
      '--signal',
      'SIGKILL',
      containerId,
    ]);
    expect(kill.code, kill.stderr).toBe(0);
    await kube.ok(['-n', ctrlNs, 'delete', 'pod', leader ?? '', '--grace-period=0', '--force', '--wait=false']);

    const next = await waitFor(
      'another replica to take the Lease',
      kube.t(60_000),
      async () => {
        const h = await leaseHolder(kube, ctrlNs);
        return h && h !== leader ? h : undefined;
      },
      state,
      250,
    );
    const takeoverMs = Date.now() - killedAt;
    console.error(`[e2e] Lease ${LEASE}: ${leader} killed, ${next} leads after ${(takeoverMs / 1000).toFixed(1)} s`);
    // Not released (a graceful stop hands it over within one retry), and
    // taken within the lease duration plus the standby's retries (one to
    // see the last renewal, one to take it after expiry).
    expect(takeoverMs).toBeGreaterThan(LEASE_MS - 2 * RETRY_MS);
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_MS + 2 * RETRY_MS + 1_000);

    await waitFor(
      'the resize by the new leader',
      kube.t(3 * 60_000),
      async () => ((await requested()) > 512 * MiB ? true : undefined),
      state,
      2_000,
    );
    await waitFor('the filesystem to grow', kube.t(2 * 60_000), async () => {
      const df = await dfInPod(kube, ns, POD, MOUNTS.data);
      return df.size === 768 * MiB ? true : undefined;
    });
    // Three more passes: still one grow of one step.
    await new Promise((r) => setTimeout(r, 35_000));
    expect(await requested()).toBe(768 * MiB);
    const ledger = await ledgerEntries(kube, ns, POD);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ by: 'engine', from: '512Mi', to: '768Mi' });
    const resized = (await clusterEvents(kube, ns, CLUSTER)).filter((e) => e.reason === 'AutoResized');
    expect(resized).toHaveLength(1);
    expect(resized[0]?.count ?? 1).toBe(1);
  });
});
