/**
 * WAL health that only the server can tell, over the local Unix socket:
 * recovery state and archiving settings, pg_stat_archiver, replication slots
 * with the WAL each retains. Every query is separate and guarded: a failure
 * becomes an entry in `errors` for the field it would have filled, never an
 * exception. A statement timeout bounds each query on the server, and a
 * client-side timeout bounds it even when the server does not answer.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { ArchiverStats, ProbeError, ProbePostgres, ReplicationSlot } from '@cnpg-disk/core';

/** Where CloudNativePG's instance manager puts the socket, then the Debian/upstream default. */
export const SOCKET_DIRS = ['/controller/run', '/var/run/postgresql'] as const;

export interface SqlOptions {
  /** Socket directory (or a host name). Default: the first of SOCKET_DIRS that holds the socket for `port`. */
  host?: string;
  port?: number;
  /** Default postgres. */
  user?: string;
  /** Default postgres. */
  database?: string;
  /** Server-side statement_timeout and client-side bound per query, ms. Default 5000. */
  statementTimeoutMs?: number;
  /** Connection timeout, ms. Default 5000. */
  connectTimeoutMs?: number;
}

export interface SqlFacts {
  postgres?: ProbePostgres;
  archivingConfigured?: boolean;
  archiver?: ArchiverStats;
  slots?: ReplicationSlot[];
  /** Only asked for when the filesystem could not be read (see probe.ts). */
  archiveStatus?: { ready: number; done: number };
  walDirBytes?: bigint;
  errors: ProbeError[];
}

export const DEFAULT_PORT = 5432;

export function defaultSocketDir(port: number, candidates: readonly string[] = SOCKET_DIRS): string {
  return candidates.find((d) => existsSync(join(d, `.s.PGSQL.${port}`))) ?? (candidates[0] as string);
}

function sqlError(field: string, err: unknown, what: string): ProbeError {
  const e = err as { code?: string; message?: string };
  const message = `${what}: ${e.message ?? String(err)}`.replace(/\s+/g, ' ');
  return typeof e.code === 'string' ? { field, code: e.code, message } : { field, message };
}

/** RFC 3339 in UTC with milliseconds, computed by the server (no client time-zone parsing). */
const iso = (col: string) => `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const SETTINGS_SQL = `select current_setting('server_version') as version,
  pg_is_in_recovery() as in_recovery,
  current_setting('archive_mode') as archive_mode,
  current_setting('archive_command') as archive_command,
  current_setting('archive_library', true) as archive_library`;

const ARCHIVER_SQL = `select archived_count::text as archived_count, failed_count::text as failed_count,
  last_archived_wal, ${iso('last_archived_time')} as last_archived_time,
  last_failed_wal, ${iso('last_failed_time')} as last_failed_time
  from pg_stat_archiver`;

/**
 * Retention is measured from the current WAL position on a primary and from
 * the replay position on a replica (where pg_current_wal_lsn() fails). When
 * the recovery state is unknown the server chooses per row.
 */
export function slotsSql(inRecovery: boolean | undefined): string {
  const pos =
    inRecovery === undefined
      ? 'case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end'
      : inRecovery
        ? 'pg_last_wal_replay_lsn()'
        : 'pg_current_wal_lsn()';
  return `select slot_name::text as slot_name, slot_type, active, wal_status,
  safe_wal_size::text as safe_wal_size,
  pg_wal_lsn_diff(${pos}, restart_lsn)::text as retained
  from pg_replication_slots order by slot_name`;
}

const ARCHIVE_STATUS_SQL = `select count(*) filter (where name like '%.ready')::int as ready,
  count(*) filter (where name like '%.done')::int as done
  from pg_ls_archive_statusdir()`;

const WAL_DIR_SQL = `select coalesce(sum(size), 0)::text as bytes from pg_ls_waldir()`;

/** Whether this instance itself archives WAL, from its settings (see docs/probe.md). */
export function archivingActive(p: ProbePostgres): boolean | undefined {
  if (p.archiveMode === undefined) return undefined;
  const hasArchiver = p.archiveCommandSet === true || (p.archiveLibrary ?? '') !== '';
  if (!hasArchiver) return false;
  if (p.archiveMode === 'always') return true;
  if (p.archiveMode === 'on') return p.inRecovery === undefined ? undefined : !p.inRecovery;
  return false;
}

/** A decimal string from the server → BigInt, or undefined for NULL. */
function big(v: unknown): bigint | undefined {
  if (v === null || v === undefined) return undefined;
  const s = String(v);
  // pg_wal_lsn_diff returns numeric: a whole number, possibly written with a ".0" scale.
  const m = /^(-?\d+)(?:\.0*)?$/.exec(s);
  if (!m) throw new Error(`not a whole number: ${s}`);
  return BigInt(m[1] as string);
}

export interface SqlNeeds {
  /** Ask the server for the archive_status counts (the directory could not be read). */
  archiveStatus?: boolean;
  /** Ask the server for the size of pg_wal (the directory could not be read). */
  walDirBytes?: boolean;
}

export async function querySql(opts: SqlOptions, needs: SqlNeeds = {}): Promise<SqlFacts> {
  const port = opts.port ?? DEFAULT_PORT;
  const timeout = opts.statementTimeoutMs ?? 5000;
  const facts: SqlFacts = { errors: [] };
  const client = new Client({
    host: opts.host ?? defaultSocketDir(port),
    port,
    user: opts.user ?? 'postgres',
    database: opts.database ?? 'postgres',
    application_name: 'cnpg-disk-probe',
    statement_timeout: timeout,
    lock_timeout: timeout,
    query_timeout: timeout + 1000,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
  });
  // A connection error after connect (server restart) must not become an uncaught 'error' event.
  client.on('error', () => undefined);
  const fields = ['postgres', 'wal.archiver', 'wal.slots'];
  if (needs.archiveStatus) fields.push('wal.archiveStatus');
  if (needs.walDirBytes) fields.push('wal.walDirBytes');
  try {
    await client.connect();
  } catch (err) {
    const where = `${String(client.host)}:${port}`;
    for (const f of fields) facts.errors.push(sqlError(f, err, `cannot connect to PostgreSQL at ${where}`));
    await client.end().catch(() => undefined);
    return facts;
  }
  try {
    try {
      const r = await client.query(SETTINGS_SQL);
      const row = r.rows[0] as Record<string, unknown>;
      const command = String(row['archive_command'] ?? '');
      const library = row['archive_library'];
      const p: ProbePostgres = {
        version: String(row['version']),
        inRecovery: row['in_recovery'] === true,
        archiveMode: String(row['archive_mode']),
        // PostgreSQL ≤ 14 shows "(disabled)" when archive_mode is off.
        archiveCommandSet: command !== '' && command !== '(disabled)',
      };
      if (typeof library === 'string' && library !== '') p.archiveLibrary = library;
      facts.postgres = p;
      const active = archivingActive(p);
      if (active !== undefined) facts.archivingConfigured = active;
    } catch (err) {
      facts.errors.push(sqlError('postgres', err, 'cannot read recovery state and archiving settings'));
    }

    try {
      const r = await client.query(ARCHIVER_SQL);
      const row = r.rows[0] as Record<string, unknown>;
      const a: ArchiverStats = {
        archivedCount: Number(row['archived_count']),
        failedCount: Number(row['failed_count']),
      };
      if (row['last_archived_wal']) a.lastArchivedWal = String(row['last_archived_wal']);
      if (row['last_archived_time']) a.lastArchivedTime = String(row['last_archived_time']);
      if (row['last_failed_wal']) a.lastFailedWal = String(row['last_failed_wal']);
      if (row['last_failed_time']) a.lastFailedTime = String(row['last_failed_time']);
      facts.archiver = a;
    } catch (err) {
      facts.errors.push(sqlError('wal.archiver', err, 'cannot read pg_stat_archiver'));
    }

    try {
      const r = await client.query(slotsSql(facts.postgres?.inRecovery));
      facts.slots = r.rows.map((row: Record<string, unknown>) => {
        const slot: ReplicationSlot = {
          name: String(row['slot_name']),
          type: row['slot_type'] === 'logical' ? 'logical' : 'physical',
          active: row['active'] === true,
        };
        const retained = big(row['retained']);
        // A slot ahead of the position it is measured from retains nothing.
        if (retained !== undefined) slot.retainedBytes = retained < 0n ? 0n : retained;
        if (typeof row['wal_status'] === 'string') slot.walStatus = row['wal_status'];
        const safe = big(row['safe_wal_size']);
        if (safe !== undefined) slot.safeWalSizeBytes = safe;
        return slot;
      });
    } catch (err) {
      facts.errors.push(sqlError('wal.slots', err, 'cannot read pg_replication_slots'));
    }

    if (needs.archiveStatus) {
      try {
        const row = (await client.query(ARCHIVE_STATUS_SQL)).rows[0] as Record<string, unknown>;
        facts.archiveStatus = { ready: Number(row['ready']), done: Number(row['done']) };
      } catch (err) {
        facts.errors.push(sqlError('wal.archiveStatus', err, 'cannot list pg_wal/archive_status over SQL'));
      }
    }
    if (needs.walDirBytes) {
      try {
        const row = (await client.query(WAL_DIR_SQL)).rows[0] as Record<string, unknown>;
        facts.walDirBytes = big(row['bytes']) ?? 0n;
      } catch (err) {
        facts.errors.push(sqlError('wal.walDirBytes', err, 'cannot list pg_wal over SQL'));
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return facts;
}
