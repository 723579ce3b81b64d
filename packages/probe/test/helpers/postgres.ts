/**
 * Real PostgreSQL 15 instances for the tests, laid out like a CloudNativePG
 * pod under a root prefix:
 *
 *   <root>/var/lib/postgresql/data          tmpfs (the data volume)
 *   <root>/var/lib/postgresql/data/pgdata   PGDATA
 *   <root>/var/lib/postgresql/wal           tmpfs (the WAL volume, optional)
 *   <root>/var/lib/postgresql/wal/pg_wal    WAL (initdb/pg_basebackup --waldir)
 *   <root>/run                              the socket directory
 *
 * PostgreSQL refuses to run as root, so every server command runs as the
 * unprivileged `postgres` user (runuser). WAL segments are 1 MiB so that WAL
 * switches stay small on small tmpfs mounts.
 */
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { mountTmpfs, onCleanup, sh, tempDir } from './sys.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const RUN_AS = 'postgres';

function uidGid(user: string): { uid: number; gid: number } {
  return { uid: Number(sh('id', ['-u', user]).trim()), gid: Number(sh('id', ['-g', user]).trim()) };
}

function own(path: string): void {
  const { uid, gid } = uidGid(RUN_AS);
  chownSync(path, uid, gid);
}

export function asPostgres(cmd: string, args: string[]): string {
  return sh('runuser', ['-u', RUN_AS, '--', cmd, ...args]);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface PgInstance {
  root: string;
  pgdata: string;
  walDir: string;
  socketDir: string;
  port: number;
  dataMount: string;
  walMount?: string;
  /** Runs SQL over the socket as postgres; returns the rows. */
  sql: (text: string) => Promise<Record<string, unknown>[]>;
  stop: () => void;
  log: () => string;
}

export interface StartOptions {
  /** tmpfs size of the data volume (mount syntax). Default 96m. */
  dataSize?: string;
  /** tmpfs size of a separate WAL volume; absent: WAL stays in PGDATA (single volume). */
  walSize?: string;
  /** Extra postgresql.conf lines. */
  conf?: string[];
  /** Make this instance a streaming replica of `primary` (pg_basebackup -R over loopback TCP). */
  replicaOf?: PgInstance;
}

async function query(socketDir: string, port: number, text: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ host: socketDir, port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return (await c.query(text)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

export async function startPostgres(opts: StartOptions = {}): Promise<PgInstance> {
  const root = tempDir('cnpg-probe-pg-');
  const pgHome = join(root, 'var/lib/postgresql');
  const dataMount = mountTmpfs(join(pgHome, 'data'), opts.dataSize ?? '96m');
  own(dataMount);
  const pgdata = join(dataMount, 'pgdata');
  let walMount: string | undefined;
  let walDir = join(pgdata, 'pg_wal');
  if (opts.walSize) {
    walMount = mountTmpfs(join(pgHome, 'wal'), opts.walSize);
    own(walMount);
    walDir = join(walMount, 'pg_wal');
  }
  const socketDir = join(root, 'run');
  mkdirSync(socketDir);
  own(socketDir);
  const port = await freePort();
  const logDir = join(root, 'log');
  mkdirSync(logDir);
  own(logDir);
  const logFile = join(logDir, 'postgres.log');

  if (opts.replicaOf) {
    const p = opts.replicaOf;
    asPostgres(`${PG_BIN}/pg_basebackup`, [
      '-h',
      '127.0.0.1',
      '-p',
      String(p.port),
      '-U',
      'postgres',
      '-D',
      pgdata,
      '-R',
      '-X',
      'stream',
      '--no-sync',
      ...(walMount ? ['--waldir', walDir] : []),
    ]);
  } else {
    asPostgres(`${PG_BIN}/initdb`, [
      '-D',
      pgdata,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '--wal-segsize=1',
      '-E',
      'UTF8',
      ...(walMount ? ['--waldir', walDir] : []),
    ]);
  }
  const conf = [
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    `listen_addresses = '127.0.0.1'`,
    'fsync = off',
    'min_wal_size = 4MB',
    'max_wal_size = 32MB',
    'wal_level = replica',
    'max_wal_senders = 5',
    'max_replication_slots = 5',
    'hot_standby = on',
    'shared_buffers = 16MB',
    ...(opts.conf ?? []),
  ];
  sh('runuser', ['-u', RUN_AS, '--', 'sh', '-c', `cat >> '${pgdata}/postgresql.conf'`], {
    input: `${conf.join('\n')}\n`,
  });
  asPostgres(`${PG_BIN}/pg_ctl`, ['start', '-w', '-t', '60', '-D', pgdata, '-l', logFile]);
  const stop = (): void => {
    try {
      asPostgres(`${PG_BIN}/pg_ctl`, ['stop', '-w', '-t', '30', '-m', 'immediate', '-D', pgdata]);
    } catch {
      // already stopped
    }
  };
  // Registered after the mounts: cleanups run last-in first-out, so the server stops before its unmount.
  onCleanup(stop);
  return {
    root,
    pgdata,
    walDir,
    socketDir,
    port,
    dataMount,
    ...(walMount ? { walMount } : {}),
    sql: (text) => query(socketDir, port, text),
    stop,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}

/** Polls `check` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
