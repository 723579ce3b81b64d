/**
 * One measurement of one instance: the filesystems of its volumes, the WAL
 * directory, and (over SQL) archiving and slots, assembled into a ProbeReport.
 * Never throws for what it measures: each failure is an entry in `errors`
 * naming the field it left empty.
 */
import { join } from 'node:path';
import {
  PROBE_REPORT_API_VERSION,
  PROBE_REPORT_KIND,
  bigintReplacer,
  type ProbeError,
  type ProbeReport,
  type ProbeVolume,
  type WalHealth,
} from '@cnpg-disk/core';
import { discoverVolumes, errorOf, resolvedPaths, type MountOptions } from './mounts.js';
import { querySql, type SqlFacts, type SqlOptions } from './sql.js';
import { measureFilesystem } from './statfs.js';
import { readArchiveStatus, walDirBytes, type ArchiveStatusCounts } from './walfs.js';

export interface ProbeOptions {
  /** The instance (pod) name. */
  instance: string;
  namespace?: string;
  cluster?: string;
  mounts?: MountOptions;
  /** PGDATA. Default <data mount>/pgdata. */
  pgdata?: string;
  /** The WAL directory. Default <pgdata>/pg_wal (a symlink to the WAL volume when there is one). */
  walDir?: string;
  /** SQL connection, or false to measure the filesystem only. */
  sql?: SqlOptions | false;
  /** Clock, for tests. */
  now?: () => Date;
}

export function walDirOf(opts: Pick<ProbeOptions, 'mounts' | 'pgdata' | 'walDir'>): string {
  if (opts.walDir !== undefined) return opts.walDir;
  const pgdata = opts.pgdata ?? join(resolvedPaths(opts.mounts ?? {}).data, 'pgdata');
  return join(pgdata, 'pg_wal');
}

async function measureVolumes(opts: ProbeOptions, observedAt: string, errors: ProbeError[]): Promise<ProbeVolume[]> {
  const found = await discoverVolumes(opts.mounts ?? {});
  errors.push(...found.errors);
  return Promise.all(
    found.volumes.map(async (v) => {
      const vol: ProbeVolume = { ...v };
      const field = v.type === 'tablespace' ? `volumes.tablespace.${v.tablespace ?? ''}` : `volumes.${v.type}`;
      try {
        const m = await measureFilesystem(v.mountPath, { observedAt });
        vol.filesystem = m.facts;
        if (m.warning) errors.push({ field, message: m.warning });
      } catch (err) {
        errors.push(errorOf(field, err, `cannot statfs ${v.mountPath}`));
      }
      return vol;
    }),
  );
}

interface WalDirFacts {
  counts?: ArchiveStatusCounts;
  bytes?: bigint;
  errors: ProbeError[];
}

async function measureWalDir(walDir: string): Promise<WalDirFacts> {
  const out: WalDirFacts = { errors: [] };
  const [counts, bytes] = await Promise.allSettled([readArchiveStatus(walDir), walDirBytes(walDir)]);
  if (counts.status === 'fulfilled') out.counts = counts.value;
  else out.errors.push(errorOf('wal.archiveStatus', counts.reason, `cannot list ${join(walDir, 'archive_status')}`));
  if (bytes.status === 'fulfilled') out.bytes = bytes.value;
  else out.errors.push(errorOf('wal.walDirBytes', bytes.reason, `cannot list ${walDir}`));
  return out;
}

export async function runProbe(opts: ProbeOptions): Promise<ProbeReport> {
  const observedAt = (opts.now ?? (() => new Date()))().toISOString();
  const errors: ProbeError[] = [];
  const walDir = walDirOf(opts);

  const [volumes, walFs] = await Promise.all([measureVolumes(opts, observedAt, errors), measureWalDir(walDir)]);
  let sql: SqlFacts | undefined;
  if (opts.sql !== false) {
    // The server lists its own directories when the probe may not (pg_ls_archive_statusdir, pg_ls_waldir).
    sql = await querySql(opts.sql ?? {}, {
      archiveStatus: walFs.counts === undefined,
      walDirBytes: walFs.bytes === undefined,
    });
  }

  const wal: WalHealth = { instance: opts.instance, source: 'probe', observedAt };
  if (sql?.postgres?.inRecovery !== undefined) wal.isPrimary = !sql.postgres.inRecovery;
  if (sql?.archivingConfigured !== undefined) wal.archivingConfigured = sql.archivingConfigured;
  if (sql?.archiver) wal.archiver = sql.archiver;
  const counts = walFs.counts ?? sql?.archiveStatus;
  if (counts) {
    wal.readyFiles = counts.ready;
    wal.doneFiles = counts.done;
  }
  const bytes = walFs.bytes ?? sql?.walDirBytes;
  if (bytes !== undefined) wal.walDirBytes = bytes;
  if (sql?.slots) wal.slots = sql.slots;

  // When the server listed what the probe could not read, the field is filled: say how in `source`
  // instead of reporting an error for it.
  const viaSql: string[] = [];
  for (const e of walFs.errors) {
    const covered =
      (e.field === 'wal.archiveStatus' && sql?.archiveStatus !== undefined) ||
      (e.field === 'wal.walDirBytes' && sql?.walDirBytes !== undefined);
    if (covered) {
      viaSql.push(`${e.field.slice(4)} (${e.code ?? 'unreadable'})`);
      continue;
    }
    // The SQL fallback for the same field failed too: one error that says both.
    const fallback = sql?.errors.find((s) => s.field === e.field);
    errors.push(fallback ? { ...e, message: `${e.message}; over SQL: ${fallback.message}` } : e);
  }
  if (viaSql.length > 0) wal.source = `probe; over SQL: ${viaSql.join(', ')}`;
  const dirFields = new Set(walFs.errors.map((e) => e.field));
  if (sql) errors.push(...sql.errors.filter((e) => !dirFields.has(e.field)));

  const report: ProbeReport = {
    apiVersion: PROBE_REPORT_API_VERSION,
    kind: PROBE_REPORT_KIND,
    instance: opts.instance,
    observedAt,
    volumes,
    wal,
    errors,
  };
  if (opts.namespace) report.namespace = opts.namespace;
  if (opts.cluster) report.cluster = opts.cluster;
  if (sql?.postgres) report.postgres = sql.postgres;
  return report;
}

/** The report as JSON text: byte counts as decimal strings (core's codec reads it back). */
export function reportToJson(report: ProbeReport, indent = 2): string {
  return JSON.stringify(report, bigintReplacer, indent);
}
