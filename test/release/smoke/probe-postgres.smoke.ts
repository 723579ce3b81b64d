// cnpg-disk-probe binaries against a real PostgreSQL 15 (Debian's
// postgresql-15, as packages/probe/test/install-deps.sh installs it), laid out
// like a CloudNativePG pod: the SQL driver (pg over the Unix socket), statfs
// and the archive_status scan run on Bun here (natively for linux-x64, under
// qemu-user for linux-arm64) and must report what the Node probe reports.
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run } from '../../../scripts/release/proc.js';
import { REPO, cleanEnv } from '../helpers.js';
import { probeBinary, smoke } from './context.js';

const ctx = smoke();
const PG_BIN = '/usr/lib/postgresql/15/bin';
const root = join(ctx.dir, 'pg-root');
const data = join(root, 'var/lib/postgresql/data');
const pgdata = join(data, 'pgdata');
const socketDir = join(root, 'run');
const port = 54000 + Math.floor(Math.random() * 1000);

const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', cmd, ...args]);
const psql = (sql: string) =>
  asPostgres(`${PG_BIN}/psql`, ['-h', socketDir, '-p', String(port), '-U', 'postgres', '-Atqc', sql]);

beforeAll(async () => {
  if (!existsSync(`${PG_BIN}/initdb`)) {
    throw new Error('PostgreSQL 15 is missing: run packages/probe/test/install-deps.sh (as root)');
  }
  const ids = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  const [uid, gid] = [await ids('-u'), await ids('-g')];
  mkdirSync(data, { recursive: true });
  mkdirSync(socketDir, { recursive: true });
  chmodSync(ctx.dir, 0o755); // the postgres user must reach its directories
  await run('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'cnpg-disk-smoke-pg', data]);
  for (const d of [data, socketDir]) chownSync(d, uid, gid);
  await asPostgres(`${PG_BIN}/initdb`, [
    '-D',
    pgdata,
    '-U',
    'postgres',
    '--auth=trust',
    '--no-sync',
    '--wal-segsize=1',
  ]);
  const conf = [
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    "listen_addresses = ''",
    'fsync = off',
    'wal_level = replica',
    'max_replication_slots = 4',
    'archive_mode = on',
    "archive_command = 'false'", // archiving configured and failing: .ready files pile up
  ];
  await run('runuser', ['-u', 'postgres', '--', 'sh', '-c', `cat >> '${pgdata}/postgresql.conf'`], {
    input: `${conf.join('\n')}\n`,
  });
  await asPostgres(`${PG_BIN}/pg_ctl`, ['start', '-w', '-t', '60', '-D', pgdata, '-l', join(pgdata, 'log.txt')]);
  await psql("select pg_create_physical_replication_slot('standby_gone', true)");
  await psql('create table t as select g from generate_series(1, 20000) g');
  await psql('select pg_switch_wal()');
  // Let the archiver try (and fail) at least once.
  for (let i = 0; i < 50; i++) {
    const failed = (await psql('select failed_count from pg_stat_archiver')).stdout.trim();
    if (Number(failed) > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 180_000);

afterAll(async () => {
  await asPostgres(`${PG_BIN}/pg_ctl`, ['stop', '-w', '-m', 'immediate', '-D', pgdata]).catch(() => undefined);
  await run('umount', [data]).catch(() => undefined);
});

/** Fields that move between two runs a second apart on a live server. */
const VOLATILE = new Set([
  'observedAt',
  'usedBytes',
  'availableBytes',
  'inodesFree',
  'inodesUsed',
  'walDirBytes',
  'failedCount', // the archiver retries in the background
  'lastFailedTime',
]);
const stable = (json: string): unknown =>
  JSON.parse(json, (k: string, v: unknown) => (VOLATILE.has(k) ? '<moves>' : v)) as unknown;

describe('cnpg-disk-probe on a real PostgreSQL 15', () => {
  const args = ['once', '--root', root, '--pg-host', socketDir, '--pg-port', String(port), '--instance', 'pg-1'];

  for (const id of ['linux-x64', 'linux-arm64'] as const) {
    it(`${id}: the same report as the Node probe, SQL facts included`, async () => {
      const bin = probeBinary(ctx, id);
      const cmd =
        id === 'linux-x64'
          ? { file: bin, argv: args }
          : { file: '/usr/bin/qemu-aarch64', argv: ['-L', '/usr/aarch64-linux-gnu', bin, ...args] };
      const b = await run(cmd.file, cmd.argv, { env: cleanEnv(), allowFailure: true, timeoutMs: 180_000 });
      const n = await run(process.execPath, [join(REPO, 'packages/probe/dist/bin.js'), ...args], {
        env: cleanEnv(),
        allowFailure: true,
      });
      expect(b.status, b.stderr).toBe(n.status);
      expect(stable(b.stdout)).toEqual(stable(n.stdout));
      const report = JSON.parse(b.stdout) as {
        errors: string[];
        wal: {
          readyFiles: number;
          archiver?: { failedCount: number };
          slots?: Array<{ name: string; active: boolean }>;
        };
      };
      expect(report.errors).toEqual([]);
      expect(report.wal.readyFiles).toBeGreaterThan(0);
      expect(report.wal.archiver?.failedCount).toBeGreaterThan(0);
      expect(report.wal.slots).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'standby_gone', active: false })]),
      );
    });
  }
});
