// Disk-full rescue. An inactive slot keeps every WAL segment until the WAL
// volume is full: PostgreSQL stops, and CloudNativePG's instance manager
// then exits with code 4 on every start (no WAL disk space) and the operator
// stops reconciling PVC sizes. `diagnose` must name that cause and the fix,
// and `disk resize --apply` on the WAL PVC must bring the instance back
// without touching the Cluster spec.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cli } from './lib/cli.js';
import { MOUNTS, dfInPod, psql, waitHealthy, createCluster } from './lib/cnpg.js';
import { Kube, bytes, waitFor } from './lib/kube.js';
import {
  fillWalUntilExit4,
  postgresContainer as postgresContainerOf,
  type PostgresContainerStatus,
} from './lib/wal-full.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgfull';
const POD = `${CLUSTER}-1`;
const WAL_SIZE = '128Mi';
let ns = '';
let tmp = '';
let policyFile = '';
let generation = 0;

async function postgresContainer(): Promise<PostgresContainerStatus | undefined> {
  return postgresContainerOf(kube, ns, POD);
}

async function clusterSpec(): Promise<{ generation: number; walSize: string }> {
  const c = await kube.json<{ metadata: { generation: number }; spec: { walStorage: { size: string } } }>([
    '-n',
    ns,
    'get',
    'cluster.postgresql.cnpg.io',
    CLUSTER,
  ]);
  return { generation: c.metadata.generation, walSize: c.spec.walStorage.size };
}

describe('WAL disk full: diagnose and rescue by PVC resize', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-rescue-'));
    policyFile = join(tmp, 'policy.yaml');
    // Grow the WAL volume to 256Mi at once; no WAL gate may stop a rescue of
    // a stopped instance (there is no archive, the slot is the cause).
    writeFileSync(
      policyFile,
      [
        'walStorage:',
        '  resize:',
        '    enabled: true',
        '    triggers: { usageThreshold: 80 }',
        '    expansion: { step: 128Mi, limit: 1Gi }',
        '    strategy:',
        '      walSafetyPolicy: { maxPendingWALFiles: 0, maxSlotRetentionBytes: 0 }',
        '',
      ].join('\n'),
    );
    ns = await kube.createNamespace('rescue');
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '512Mi',
      walSize: WAL_SIZE,
    });
    generation = (await clusterSpec()).generation;
  });

  afterAll(async () => {
    cli.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (ns) await kube.deleteNamespace(ns);
  });

  it('fills the WAL volume until the instance exits with code 4', async () => {
    const { fill, container: c } = await fillWalUntilExit4(kube, ns, POD);
    expect(fill.code, fill.stdout).not.toBe(0);
    expect(fill.stderr).toMatch(/connection to server was lost|server closed the connection|No space left on device/);
    expect(c.ready).toBe(false);
  });

  it('diagnose names the full WAL disk and the PVC resize that fixes it', async () => {
    const doc = await cli.json<{ findings: { severity: string; code: string; subject: string; command?: string }[] }>(
      ['diagnose', '-n', ns, CLUSTER],
      [2], // a critical finding (docs/cli.md)
    );
    const f = doc.findings.find((x) => x.code === 'WAL_DISK_FULL_EXIT');
    expect(f, JSON.stringify(doc.findings)).toBeDefined();
    expect(f?.severity).toBe('critical');
    expect(f?.subject).toContain(POD);
    expect(f?.command).toMatch(/disk resize .*--volume wal --rescue --apply/);
  });

  it('nothing can measure the down instance, yet the plan takes its WAL volume as full (CloudNativePG exit 4)', async () => {
    const plan = await cli.json<{
      sources: { source: string; outcome: string }[];
      volumes: {
        pvc: string;
        filesystem?: object;
        walSpaceExhausted?: { exitedAt?: string; restarts?: number };
        decision: {
          verdict: string;
          newBytes?: string;
          warnings: { code: string }[];
          trace: { check: string; outcome: string }[];
        };
      }[];
    }>(['disk', 'resize', '-n', ns, CLUSTER, '--instance', POD, '--policy', policyFile, '-v'], [0]);
    const v = plan.volumes.find((x) => x.pvc === `${POD}-wal`);
    expect(v, JSON.stringify(plan.volumes)).toBeDefined();
    expect(v?.filesystem, 'a source measured the down instance: the fact would not be needed').toBeUndefined();
    expect(v?.walSpaceExhausted?.restarts).toBeGreaterThan(0);
    expect(v?.decision.verdict).toBe('resize');
    expect(Number(v?.decision.newBytes)).toBe(bytes(WAL_SIZE) + bytes('128Mi'));
    expect(v?.decision.warnings.map((w) => w.code)).toEqual(['filesystem-unmeasured', 'wal-health-unavailable']);
    expect(v?.decision.trace.find((t) => t.check === 'facts')?.outcome).toBe('warn');
    // No source measured any volume of the down instance (a source may still
    // be "used" for something else, e.g. the node's summary without this pod).
    const data = plan.volumes.find((x) => x.pvc === POD);
    expect(data, JSON.stringify(plan.volumes)).toBeDefined();
    expect(data?.filesystem, JSON.stringify(plan.sources)).toBeUndefined();
    const table = await cli.run(['disk', 'status', '-n', ns, CLUSTER]);
    expect(table.stdout).toMatch(/wal .*full \(exit 4\)/);
  });

  it('disk resize --apply on the WAL PVC brings the instance back, the Cluster spec untouched', async () => {
    const r = await cli.run([
      'disk',
      'resize',
      '-n',
      ns,
      CLUSTER,
      '--instance',
      POD,
      '--volume',
      'wal',
      '--policy',
      policyFile,
      '--apply',
      '--yes',
      '--wait',
      '-o',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { volumes: { result?: { status: string; toBytes?: string } }[] };
    expect(plan.volumes[0]?.result?.status).toBe('applied');
    expect(Number(plan.volumes[0]?.result?.toBytes)).toBe(bytes(WAL_SIZE) + bytes('128Mi'));

    await waitFor(
      'the instance to run and be ready again',
      kube.t(8 * 60_000),
      async () => ((await postgresContainer())?.ready ? true : undefined),
      async () => JSON.stringify(await postgresContainer(), null, 1),
      5_000,
    );
    await waitHealthy(kube, ns, CLUSTER, 1, 5 * 60_000);
    const df = await dfInPod(kube, ns, POD, MOUNTS.wal);
    if (cfg.local) expect(df.size).toBe(bytes(WAL_SIZE) + bytes('128Mi'));
    expect(Number(await psql(kube, ns, POD, 'SELECT 1'))).toBe(1);
    const spec = await clusterSpec();
    expect(spec.walSize).toBe(WAL_SIZE);
    expect(spec.generation).toBe(generation);
  });

  it('once it is back, the old exit 4 is history: no WAL_DISK_FULL_EXIT, the slot that caused it is still reported', async () => {
    const doc = await cli.json<{ findings: { code: string; subject: string }[] }>(['diagnose', '-n', ns, CLUSTER]);
    const codes = doc.findings.map((f) => f.code);
    expect(codes).not.toContain('WAL_DISK_FULL_EXIT');
    expect(codes).toContain('INACTIVE_SLOT');
    expect((await postgresContainer())?.lastState.terminated?.exitCode).toBe(4);
  });
});
