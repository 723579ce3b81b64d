// WAL archiving to a real object store (Azure Blob: Azurite on the local
// cluster, a storage account elsewhere) through barman-cloud: healthy, then
// failing for real (store stopped, or wrong credentials), with the `.ready`
// backlog growing, then healthy again once the store is fixed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { archiverStats, setArchiveCredentials, switchWal as switchWalOn, type ArchiverStats } from './lib/archive.js';
import { Cli } from './lib/cli.js';
import { clusterStatus, condition, instancePods, createCluster } from './lib/cnpg.js';
import { Kube, exec, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const store = cfg.objectStore;
const CLUSTER = 'pgarc';
const SECRET = 'archive-creds';
let ns = '';
let primary = '';
let tmp = '';
let policyFile = '';

// A WAL policy that wants to grow the WAL volume at once (any use above 1 %),
// so the only thing that can stop it is the WAL safety check under test.
const WAL_POLICY = `walStorage:
  resize:
    enabled: true
    triggers: { usageThreshold: 1 }
    expansion: { step: 25%, minStep: 32Mi, limit: 4Gi }
    strategy:
      walSafetyPolicy: { requireArchiveHealthy: true, maxPendingWALFiles: 0 }
`;

interface WalInstance {
  pod: string;
  verdict: string;
  readyFiles?: number;
  archiver?: { healthy: boolean; failedCount: number | null; lastFailedWal?: string };
}

/** `wal health` as the CLI reports the primary. */
async function cliWalHealth(): Promise<WalInstance> {
  const doc = await cli.json<{ kind: string; clusters: { instances: WalInstance[] }[] }>([
    'wal',
    'health',
    '-n',
    ns,
    CLUSTER,
  ]);
  expect(doc.kind).toBe('WalHealthReport');
  const i = doc.clusters[0]?.instances.find((x) => x.pod === primary);
  if (!i) throw new Error(`wal health has no instance ${primary}`);
  return i;
}

/** The engine's decision for the primary's WAL volume in a `disk resize` preview. */
async function cliWalDecision(): Promise<{ verdict: string; reason?: string; message: string }> {
  const doc = await cli.json<{
    kind: string;
    mode: string;
    volumes: { instance: string; type: string; decision: { verdict: string; reason?: string; message: string } }[];
  }>(['disk', 'resize', '-n', ns, CLUSTER, '--policy', policyFile]);
  expect(doc.kind).toBe('ResizePlan');
  expect(doc.mode).toBe('preview');
  const v = doc.volumes.find((x) => x.instance === primary && x.type === 'wal');
  if (!v) throw new Error('the resize plan has no WAL volume for the primary');
  return v.decision;
}

async function archiver(): Promise<ArchiverStats> {
  return archiverStats(kube, ns, primary);
}

async function readyCount(): Promise<number> {
  const r = await kube.exec(ns, primary, 'postgres', [
    'sh',
    '-c',
    'ls /var/lib/postgresql/wal/pg_wal/archive_status/ | grep -c "\\.ready$" || true',
  ]);
  return Number(r.stdout.trim());
}

async function switchWal(): Promise<string> {
  return switchWalOn(kube, ns, primary);
}

/** Replaces the connection string (and touches the Cluster once it exists: lib/archive.ts). */
async function setCredentials(connectionString: string): Promise<void> {
  await setArchiveCredentials(kube, ns, {
    secret: SECRET,
    connectionString,
    ...(primary ? { cluster: CLUSTER } : {}),
  });
}

async function archivingCondition(): Promise<string> {
  return condition(await clusterStatus(kube, ns, CLUSTER), 'ContinuousArchiving')?.status ?? 'absent';
}

async function expectHealthy(): Promise<void> {
  const seg = await switchWal();
  await waitFor(`segment ${seg} archived`, kube.t(3 * 60_000), async () => {
    const a = await archiver();
    return a.lastArchived >= seg ? a : undefined;
  });
  await waitFor('ContinuousArchiving=True', kube.t(2 * 60_000), async () =>
    (await archivingCondition()) === 'True' ? true : undefined,
  );
  await waitFor('the .ready backlog to drain', kube.t(3 * 60_000), async () =>
    (await readyCount()) === 0 ? true : undefined,
  );
  const wal = await waitFor('wal health to report the archiver healthy', kube.t(2 * 60_000), async () => {
    const w = await cliWalHealth();
    return w.archiver?.healthy === true && w.readyFiles === 0 ? w : undefined;
  });
  expect(wal.verdict).toBe('healthy');
  const decision = await cliWalDecision();
  expect(decision.reason, decision.message).not.toBe('archive-unhealthy');
  expect(decision.verdict).toBe('resize');
}

async function expectFailing(): Promise<void> {
  const before = await archiver();
  await switchWal();
  await waitFor('a failed archive attempt', kube.t(3 * 60_000), async () =>
    (await archiver()).failed > before.failed ? true : undefined,
  );
  const backlog1 = await readyCount();
  expect(backlog1).toBeGreaterThanOrEqual(1);
  await switchWal();
  await switchWal();
  const backlog2 = await waitFor('the .ready backlog to grow', kube.t(60_000), async () => {
    const n = await readyCount();
    return n > backlog1 ? n : undefined;
  });
  expect(backlog2).toBeGreaterThan(backlog1);
  await waitFor('ContinuousArchiving=False', kube.t(3 * 60_000), async () =>
    (await archivingCondition()) === 'False' ? true : undefined,
  );
  // The CLI sees the same: archiver failing, the backlog the pod has, and a
  // WAL resize held back because archiving is unhealthy.
  const wal = await cliWalHealth();
  expect(wal.archiver?.healthy).toBe(false);
  expect(wal.verdict).not.toBe('healthy');
  expect(wal.readyFiles).toBeGreaterThanOrEqual(backlog2);
  await switchWal();
  const grown = await waitFor('wal health to report a larger .ready backlog', kube.t(60_000), async () => {
    const w = await cliWalHealth();
    return (w.readyFiles ?? 0) > (wal.readyFiles ?? 0) ? w : undefined;
  });
  expect(grown.readyFiles).toBe(await readyCount());
  const decision = await cliWalDecision();
  expect(decision.verdict).toBe('blocked');
  expect(decision.reason).toBe('archive-unhealthy');
}

describe.runIf(store !== undefined)('WAL archiving to an Azure Blob store', () => {
  beforeAll(async () => {
    if (!store) return;
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-archive-'));
    policyFile = join(tmp, 'policy.yaml');
    writeFileSync(policyFile, WAL_POLICY);
    ns = await kube.createNamespace('archive');
    await setCredentials(store.connectionString);
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '512Mi',
      walSize: '512Mi',
      archive: { destinationPath: `${store.endpoint}/${ns}`, secret: SECRET, key: 'AZURE_CONNECTION_STRING' },
      parameters: { archive_timeout: '0' },
    });
    primary = (await instancePods(kube, ns, CLUSTER)).find((p) => p.role === 'primary')?.name ?? '';
    expect(primary).not.toBe('');
  });

  afterAll(async () => {
    cli.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (store?.control) await exec('bash', [store.control, 'start']);
    if (ns) await kube.deleteNamespace(ns);
  });

  it('archives WAL segments to the store', async () => {
    await expectHealthy();
    expect((await archiver()).archived).toBeGreaterThan(0);
  });

  it('fails with wrong credentials, the .ready backlog grows, and recovers when they are fixed', async () => {
    await setCredentials(store?.badConnectionString ?? '');
    await expectFailing();
    await setCredentials(store?.connectionString ?? '');
    await expectHealthy();
  });

  describe.runIf(store?.control !== undefined)('local store', () => {
    it('fails while the store is stopped and recovers when it is back', async () => {
      const stop = await exec('bash', [store?.control ?? '', 'stop']);
      expect(stop.code, stop.stderr).toBe(0);
      await expectFailing();
      const start = await exec('bash', [store?.control ?? '', 'start']);
      expect(start.code, start.stderr).toBe(0);
      await expectHealthy();
    });
  });
});
