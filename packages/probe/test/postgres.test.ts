/**
 * The probe against a real PostgreSQL 15 primary and a streaming replica,
 * each with data and WAL on their own tmpfs mounts in the CloudNativePG
 * layout. Archiving first works (cp into a directory), then fails
 * (archive_command = 'false'); slots are inactive on both instances.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveHealthy, decodeProbeReport, type ProbeReport } from '@cnpg-disk/core';
import { querySql, renderMetrics, reportToJson, runProbe } from '../src/index.js';
import { startPostgres, waitFor, type PgInstance } from './helpers/postgres.js';
import { df, fillUntilEnospc, runCleanups, sh, shAsync, tempDir } from './helpers/sys.js';

let primary: PgInstance;
let replica: PgInstance;
let archiveDir: string;

function probe(pg: PgInstance, instance: string): Promise<ProbeReport> {
  return runProbe({
    instance,
    namespace: 'db',
    cluster: 'pg',
    mounts: { root: pg.root },
    sql: { host: pg.socketDir, port: pg.port, statementTimeoutMs: 3000 },
  });
}

async function one<T = unknown>(pg: PgInstance, text: string): Promise<T> {
  const rows = await pg.sql(text);
  return Object.values(rows[0] as Record<string, unknown>)[0] as T;
}

/** Writes some WAL and switches to a new segment. */
async function writeAndSwitch(pg: PgInstance): Promise<void> {
  await pg.sql(`insert into t select g, repeat('x', 200) from generate_series(1, 2000) g`);
  await pg.sql('select pg_switch_wal()');
}

function readyOnDisk(pg: PgInstance): number {
  return readdirSync(join(pg.walDir, 'archive_status')).filter((n) => n.endsWith('.ready')).length;
}

beforeAll(async () => {
  const dir = tempDir('cnpg-probe-archive-');
  archiveDir = join(dir, 'archive');
  mkdirSync(archiveDir);
  sh('chown', ['postgres:postgres', archiveDir]);
  primary = await startPostgres({
    walSize: '48m',
    conf: ['archive_mode = on', `archive_command = 'cp %p ${archiveDir}/%f'`, 'max_slot_wal_keep_size = 64MB'],
  });
  await primary.sql('create table t (id int, pad text)');
  replica = await startPostgres({ walSize: '48m', replicaOf: primary });
  await waitFor('the replica to stream', async () =>
    (await one<number>(primary, 'select count(*)::int from pg_stat_replication')) > 0 ? true : undefined,
  );
}, 120_000);

afterAll(() => runCleanups());

describe('a primary with its WAL on a separate volume', () => {
  it('reports both volumes, the WAL directory and the archiving settings', async () => {
    await primary.sql('checkpoint');
    const r = await probe(primary, 'pg-1');
    expect(r.errors).toEqual([]);
    expect(r.volumes.map((v) => v.type)).toEqual(['data', 'wal']);
    const wal = r.volumes.find((v) => v.type === 'wal');
    expect(wal?.mountPath).toBe(primary.walMount);
    expect(wal?.filesystem?.totalBytes).toBe(df(primary.walMount as string).size);
    expect(wal?.filesystem?.totalBytes).toBe(48n * 1024n * 1024n);
    expect(r.wal.isPrimary).toBe(true);
    expect(r.wal.archivingConfigured).toBe(true);
    expect(r.postgres).toMatchObject({ inRecovery: false, archiveMode: 'on', archiveCommandSet: true });
    expect(r.postgres?.version).toMatch(/^15\./);
    // The directory figures agree with what the server lists itself.
    expect(r.wal.walDirBytes).toBe(BigInt(await one<string>(primary, 'select sum(size)::text from pg_ls_waldir()')));
    expect(r.wal.readyFiles).toBe(
      await one<number>(primary, `select count(*)::int from pg_ls_archive_statusdir() where name like '%.ready'`),
    );
  });

  it('sees archiving succeed, then fail: .ready grows and archiving turns unhealthy', async () => {
    await writeAndSwitch(primary);
    await waitFor('a WAL file to be archived', async () =>
      (await one<number>(primary, 'select archived_count::int from pg_stat_archiver')) > 0 && readyOnDisk(primary) === 0
        ? true
        : undefined,
    );
    const ok = await probe(primary, 'pg-1');
    expect(ok.wal.readyFiles).toBe(0);
    expect(ok.wal.archiver?.archivedCount).toBeGreaterThan(0);
    expect(ok.wal.archiver?.lastArchivedWal).toMatch(/^[0-9A-F]{24}$/);
    expect(readdirSync(archiveDir)).toContain(ok.wal.archiver?.lastArchivedWal);
    expect(archiveHealthy(ok.wal.archiver!).healthy).toBe(true);
    const okMetrics = renderMetrics(ok);
    expect(okMetrics).toContain('cnpg_wal_archive_healthy{cluster_namespace="db",cluster="pg",pod="pg-1"} 1\n');
    expect(okMetrics).toContain('cnpg_wal_pending_archive_files{cluster_namespace="db",cluster="pg",pod="pg-1"} 0\n');

    await primary.sql(`alter system set archive_command = 'false'`);
    await primary.sql('select pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 4; i++) await writeAndSwitch(primary);
    await waitFor('archiving to fail', async () =>
      (await one<number>(primary, 'select failed_count::int from pg_stat_archiver')) > 0 ? true : undefined,
    );
    const bad = await probe(primary, 'pg-1');
    expect(bad.errors).toEqual([]);
    expect(bad.wal.readyFiles).toBeGreaterThanOrEqual(3);
    expect(Math.abs((bad.wal.readyFiles ?? 0) - readyOnDisk(primary))).toBeLessThanOrEqual(1);
    expect(bad.wal.archiver?.failedCount).toBeGreaterThan(0);
    expect(Date.parse(bad.wal.archiver?.lastFailedTime ?? '')).toBeGreaterThan(
      Date.parse(bad.wal.archiver?.lastArchivedTime ?? ''),
    );
    expect(archiveHealthy(bad.wal.archiver!).healthy).toBe(false);
    const m = renderMetrics(bad);
    expect(m).toContain('cnpg_wal_archive_healthy{cluster_namespace="db",cluster="pg",pod="pg-1"} 0\n');
    expect(m).toContain(
      `cnpg_wal_pending_archive_files{cluster_namespace="db",cluster="pg",pod="pg-1"} ${bad.wal.readyFiles}\n`,
    );
    // The backlog is on the WAL volume: its used bytes grew with it.
    expect(bad.volumes.find((v) => v.type === 'wal')?.filesystem?.usedBytes).toBeGreaterThan(
      ok.volumes.find((v) => v.type === 'wal')?.filesystem?.usedBytes ?? 0n,
    );
  });

  it('reports an inactive physical slot with the WAL it retains from the current position', async () => {
    await primary.sql(`select pg_create_physical_replication_slot('probe_idle', true)`);
    const restart = await one<string>(
      primary,
      `select restart_lsn::text from pg_replication_slots where slot_name = 'probe_idle'`,
    );
    for (let i = 0; i < 3; i++) await writeAndSwitch(primary);
    const before = await one<string>(primary, `select pg_wal_lsn_diff(pg_current_wal_lsn(), '${restart}')::text`);
    const r = await probe(primary, 'pg-1');
    const after = await one<string>(primary, `select pg_wal_lsn_diff(pg_current_wal_lsn(), '${restart}')::text`);
    const slot = r.wal.slots?.find((s) => s.name === 'probe_idle');
    expect(slot).toMatchObject({ type: 'physical', active: false, walStatus: 'reserved' });
    expect(slot?.retainedBytes).toBeGreaterThanOrEqual(BigInt(before));
    expect(slot?.retainedBytes).toBeLessThanOrEqual(BigInt(after));
    expect(slot?.retainedBytes).toBeGreaterThan(3n * 1024n * 1024n);
    // max_slot_wal_keep_size = 64MB: what is left before the slot would be lost.
    expect(slot?.safeWalSizeBytes).toBeLessThan(64n * 1024n * 1024n);
    expect(slot?.safeWalSizeBytes).toBeGreaterThan(0n);
    const m = renderMetrics(r);
    expect(m).toContain('cnpg_wal_inactive_slots{cluster_namespace="db",cluster="pg",pod="pg-1"} 1\n');
    expect(m).toContain(
      `cnpg_wal_slot_retention_bytes{cluster_namespace="db",cluster="pg",pod="pg-1",slot_name="probe_idle"} ${slot?.retainedBytes}\n`,
    );
  });

  it('writes a report that core decodes back to the same value', async () => {
    const r = await probe(primary, 'pg-1');
    expect(r.wal.slots?.length).toBeGreaterThan(0);
    expect(r.wal.archiver).toBeDefined();
    const json = reportToJson(r);
    expect(json).toMatch(/"totalBytes": "\d+"/);
    expect(json).toMatch(/"retainedBytes": "\d+"/);
    const decoded = decodeProbeReport(JSON.parse(json));
    expect(decoded).toEqual({ ok: true, value: r });
  });

  it('reports each SQL failure in its own field: a role without pg_monitor may not list pg_wal', async () => {
    await primary.sql('create role probe_min login');
    const facts = await querySql(
      { host: primary.socketDir, port: primary.port, user: 'probe_min' },
      { archiveStatus: true, walDirBytes: true },
    );
    // pg_stat_archiver and pg_replication_slots are readable by every role...
    expect(facts.postgres?.inRecovery).toBe(false);
    expect(facts.archiver?.archivedCount).toBeGreaterThan(0);
    expect(facts.slots?.map((s) => s.name)).toContain('probe_idle');
    // ...listing the WAL directory is not.
    expect(facts.archiveStatus).toBeUndefined();
    expect(facts.walDirBytes).toBeUndefined();
    expect(facts.errors).toEqual([
      expect.objectContaining({
        field: 'wal.archiveStatus',
        code: '42501',
        message: expect.stringContaining('permission denied'),
      }),
      expect.objectContaining({
        field: 'wal.walDirBytes',
        code: '42501',
        message: expect.stringContaining('permission denied'),
      }),
    ]);
  });

  it('reports a server it cannot reach in errors and still measures the volumes', async () => {
    const r = await runProbe({
      instance: 'pg-1',
      mounts: { root: primary.root },
      sql: { host: primary.socketDir, port: 1 },
    });
    expect(r.volumes.map((v) => v.filesystem !== undefined)).toEqual([true, true]);
    expect(r.wal.readyFiles).toBeGreaterThan(0);
    expect(r.errors.map((e) => e.field)).toEqual(['postgres', 'wal.archiver', 'wal.slots']);
    expect(r.errors[0]?.message).toMatch(/cannot connect to PostgreSQL at .*:1: .*ENOENT/);
  });
});

describe('a streaming replica', () => {
  it('measures slot retention from the replay position, on its own data', async () => {
    await replica.sql(`select pg_create_physical_replication_slot('replica_idle', true)`);
    const restart = await one<string>(
      replica,
      `select restart_lsn::text from pg_replication_slots where slot_name = 'replica_idle'`,
    );
    for (let i = 0; i < 2; i++) await writeAndSwitch(primary);
    const target = await one<string>(primary, 'select pg_current_wal_lsn()::text');
    await waitFor('the replica to replay', async () =>
      (await one<boolean>(replica, `select pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`)) ? true : undefined,
    );
    const r = await probe(replica, 'pg-2');
    const after = await one<string>(replica, `select pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '${restart}')::text`);
    expect(r.errors).toEqual([]);
    expect(r.wal.isPrimary).toBe(false);
    expect(r.postgres?.inRecovery).toBe(true);
    // archive_mode = on does not archive on a standby.
    expect(r.wal.archivingConfigured).toBe(false);
    expect(r.volumes.map((v) => v.type)).toEqual(['data', 'wal']);
    const slot = r.wal.slots?.find((s) => s.name === 'replica_idle');
    expect(slot).toMatchObject({ active: false, type: 'physical' });
    expect(slot?.retainedBytes).toBeGreaterThanOrEqual(
      BigInt(await one<string>(replica, `select pg_wal_lsn_diff('${target}', '${restart}')::text`)),
    );
    expect(slot?.retainedBytes).toBeLessThanOrEqual(BigInt(after));
    expect(slot?.retainedBytes).toBeGreaterThan(2n * 1024n * 1024n);
    // The primary's slot is not the replica's: the replica judges on its own slots.
    expect(r.wal.slots?.map((s) => s.name)).toEqual(['replica_idle']);
    const m = renderMetrics(r);
    expect(m).not.toContain('cnpg_wal_archive_healthy');
    expect(m).toContain('cnpg_wal_inactive_slots{cluster_namespace="db",cluster="pg",pod="pg-2"} 1\n');
  });
});

describe('the command without the right to read PGDATA', () => {
  it('falls back to SQL for a pg_wal it may not read', async () => {
    // Root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH: may read its own checkout, not postgres's 0700 PGDATA.
    const res = await shAsync('setpriv', [
      '--bounding-set=-dac_override,-dac_read_search',
      '--',
      process.execPath,
      '--import',
      'tsx',
      join(import.meta.dirname, '../src/bin.ts'),
      'once',
      '--instance',
      'pg-1',
      '--root',
      primary.root,
      '--pg-host',
      primary.socketDir,
      '--pg-port',
      String(primary.port),
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const decoded = decodeProbeReport(JSON.parse(res.stdout));
    if (!decoded.ok) throw new Error(decoded.problems.join('; '));
    const r = decoded.value;
    expect(r.errors).toEqual([]);
    expect(r.wal.source).toBe('probe; over SQL: archiveStatus (EACCES), walDirBytes (EACCES)');
    expect(r.wal.readyFiles).toBe(readyOnDisk(primary));
    expect(r.wal.walDirBytes).toBe(BigInt(await one<string>(primary, 'select sum(size)::text from pg_ls_waldir()')));
  });
});

describe('a full WAL volume under a running server', () => {
  it('is reported with 0 bytes available, not crashed on', async () => {
    const filler = fillUntilEnospc(primary.walMount as string);
    try {
      const r = await probe(primary, 'pg-1');
      const wal = r.volumes.find((v) => v.type === 'wal');
      expect(wal?.filesystem?.availableBytes).toBe(0n);
      expect(wal?.filesystem?.usedBytes).toBe(wal?.filesystem?.totalBytes);
      expect(r.wal.readyFiles).toBeGreaterThan(0);
      expect(renderMetrics(r)).toContain(
        'cnpg_disk_percent_used{cluster_namespace="db",cluster="pg",pod="pg-1",volume_type="wal",tablespace=""} 100\n',
      );
    } finally {
      rmSync(filler, { force: true });
    }
  });
});
