// The autoresizer rescues an instance down on exit code 4, with no person in
// the loop. An inactive slot fills the 128Mi WAL volume (lib/wal-full.ts, as
// in rescue.test.ts): PostgreSQL stops and CloudNativePG's instance manager
// exits with code 4 on every start. The controller (deployed with `disk
// install --apply`, --interval 10s) has nothing to measure the down instance
// with; it takes the WAL volume as full from the exit code and grows it by
// one step (128Mi → 256Mi) — ONCE: while the kubelet's back-off keeps the
// container down, its last state still says exit 4, and that old exit must
// not grow the volume again (the defect seen before: 128Mi → 256Mi → 384Mi).
// The instance then starts on the grown volume and is Ready; passes after
// that leave the volume and its one ledger entry alone.
//
// The policy annotation is set once the instance is down: set before, the
// controller would grow the filling volume while PostgreSQL still runs (the
// ordinary path autoresize.test.ts covers) and there would be no exit 4.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  clusterEvents,
  controllerImage,
  deployController,
  ledgerEntries,
  removeController,
} from './lib/autoresizer.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, dfInPod, psql, pvcs, waitHealthy } from './lib/cnpg.js';
import { Kube, bytes, waitFor } from './lib/kube.js';
import { fillWalUntilExit4, postgresContainer } from './lib/wal-full.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgdown';
const POD = `${CLUSTER}-1`;
const WAL_PVC = `${POD}-wal`;
const WAL_SIZE = '128Mi';
const GROWN = bytes(WAL_SIZE) + bytes('128Mi');
// WAL only; the slot is the cause and there is no archive, so no WAL gate may stop the rescue.
const POLICY = [
  'walStorage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 80 }',
  '    expansion: { step: 128Mi, limit: 1Gi }',
  '    strategy:',
  '      walSafetyPolicy: { maxPendingWALFiles: 0, maxSlotRetentionBytes: 0 }',
].join('\n');
let ns = '';
let ctrlNs = '';

async function walPvc(): Promise<{ requested: number; capacity: number }> {
  const p = (await pvcs(kube, ns, CLUSTER)).find((x) => x.name === WAL_PVC);
  if (!p) throw new Error(`${WAL_PVC} not found`);
  return p;
}

describe('autoresizer: exit-4 rescue without a person', () => {
  beforeAll(async () => {
    const image = await controllerImage(cfg);
    ns = await kube.createNamespace('ar-rescue');
    ctrlNs = await kube.createNamespace('ar-rescue-ctl');
    await deployController(kube, cli, { ctrlNs, watchNs: ns, image, interval: '10s' });
    await createCluster(kube, cfg, ns, { name: CLUSTER, instances: 1, dataSize: '512Mi', walSize: WAL_SIZE });
  });

  afterAll(async () => {
    await removeController(kube, ctrlNs, ns);
  });

  it('a slot fills the WAL volume until the instance exits with code 4', async () => {
    const { container } = await fillWalUntilExit4(kube, ns, POD);
    expect(container.ready).toBe(false);
    expect((await walPvc()).requested).toBe(bytes(WAL_SIZE));
  });

  it('the controller grows the WAL volume by one step, once, and the instance comes back Ready', async () => {
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
    const describeState = async () =>
      `${(await kube.run(['-n', ns, 'get', 'pvc,pods,events'])).stdout}\n${JSON.stringify(await postgresContainer(kube, ns, POD))}`;
    await waitFor(
      'the controller to grow the WAL PVC',
      kube.t(3 * 60_000),
      async () => ((await walPvc()).requested > bytes(WAL_SIZE) ? true : undefined),
      describeState,
      2_000,
    );
    // Every poll until the instance is Ready: the back-off window is where the
    // old exit 4 grew the volume a second time.
    const seen = new Set<number>();
    await waitFor(
      'the instance to run and be ready on the grown volume',
      kube.t(10 * 60_000),
      async () => {
        seen.add((await walPvc()).requested);
        return (await postgresContainer(kube, ns, POD))?.ready ? true : undefined;
      },
      describeState,
      3_000,
    );
    expect([...seen]).toEqual([GROWN]);
    await waitHealthy(kube, ns, CLUSTER, 1, 5 * 60_000);
    const pvc = await walPvc();
    expect(pvc.requested).toBe(GROWN);
    expect(pvc.capacity).toBe(GROWN);
    if (cfg.local) expect((await dfInPod(kube, ns, POD, MOUNTS.wal)).size).toBe(GROWN);
    expect(Number(await psql(kube, ns, POD, 'SELECT 1'))).toBe(1);
    const ledger = await ledgerEntries(kube, ns, WAL_PVC);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ by: 'engine', from: '128Mi', to: '256Mi' });
    const events = await clusterEvents(kube, ns, CLUSTER);
    expect(events.filter((e) => e.reason === 'AutoResized' && e.message.includes(WAL_PVC))).toHaveLength(1);
    // It was the exit 4 that started it: the container's last exit is still code 4.
    expect((await postgresContainer(kube, ns, POD))?.lastState.terminated?.exitCode).toBe(4);
  });

  it('passes after the rescue leave the volume and its one ledger entry alone', async () => {
    // Three intervals of the controller (10 s each).
    await new Promise((r) => setTimeout(r, 35_000));
    expect((await walPvc()).requested).toBe(GROWN);
    expect(await ledgerEntries(kube, ns, WAL_PVC)).toHaveLength(1);
  });
});
