/**
 * The command: flags → options (pure), and runs of once/serve on real tmpfs
 * mounts (SQL off here; the PostgreSQL suite runs it against a server), as a
 * program too: exit codes and one-line errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeProbeReport, serializeLedger } from '@cnpg-disk/core';
import { EXIT, main, parseProbeArgs, USAGE } from '../src/index.js';
import { mountTmpfs, runCleanups, shAsync, tempDir } from './helpers/sys.js';

afterAll(() => runCleanups());

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s) }, out, err };
}

describe('parseProbeArgs', () => {
  it('maps flags and environment onto options', () => {
    const o = parseProbeArgs(
      [
        'once',
        '--root=/host',
        '--tablespace',
        'idx=/mnt/idx',
        '--tablespace',
        'big=/mnt/big',
        '--pg-port',
        '5433',
        '--statement-timeout',
        '250',
        '--format',
        'prometheus',
      ],
      { POD_NAME: 'pg-1', NAMESPACE: 'db', CLUSTER_NAME: 'pg', PGHOST: '/controller/run' },
    );
    expect(o).toMatchObject({
      command: 'once',
      format: 'prometheus',
      probe: {
        instance: 'pg-1',
        namespace: 'db',
        cluster: 'pg',
        mounts: { root: '/host', tablespaces: { idx: '/mnt/idx', big: '/mnt/big' } },
        sql: { host: '/controller/run', port: 5433, statementTimeoutMs: 250, user: 'postgres', database: 'postgres' },
      },
    });
    expect(parseProbeArgs(['serve', '--no-sql', '--instance', 'x']).probe.sql).toBe(false);
    expect(parseProbeArgs(['serve', '--instance', 'x']).listen).toEqual({ host: '127.0.0.1', port: 9188 });
    expect(parseProbeArgs(['--help']).command).toBe('help');
  });

  it.each([
    [[], /missing command/],
    [['status'], /unknown command "status"/],
    [['once', 'extra'], /unexpected argument "extra"/],
    [['once', '--bogus'], /Unknown option '--bogus'/],
    [['once', '--format', 'yaml'], /--format must be json or prometheus/],
    [['serve', '--format', 'json'], /--format applies to once only/],
    [['once', '--listen', ':1'], /apply to serve only/],
    [['serve', '--listen', 'nope'], /--listen must be HOST:PORT/],
    [['once', '--pg-port', '99999'], /--pg-port must be a whole number from 1 to 65535/],
    [['once', '--tablespace', 'idx'], /--tablespace must be NAME=PATH/],
    [['once', '--policy', 'p.json'], /--policy and --ledger go together/],
    [['once', '--instance', ''], /--instance must not be empty/],
  ])('rejects %j', (argv, msg) => expect(() => parseProbeArgs(argv as string[])).toThrow(msg));
});

describe('cnpg-disk-probe once / serve', () => {
  const base = tempDir();
  const pg = join(base, 'var/lib/postgresql');
  mountTmpfs(join(pg, 'data'), '16m');
  mountTmpfs(join(pg, 'wal'), '8m');
  mkdirSync(join(pg, 'data/pgdata/pg_wal/archive_status'), { recursive: true });
  for (const f of [
    '000000010000000000000001.ready',
    '000000010000000000000002.ready',
    '000000010000000000000003.done',
  ]) {
    writeFileSync(join(pg, 'data/pgdata/pg_wal/archive_status', f), '');
  }
  writeFileSync(join(pg, 'data/pgdata/pg_wal/000000010000000000000004'), Buffer.alloc(4096));
  const common = ['--root', base, '--no-sql', '--instance', 'pg-1', '--namespace', 'db', '--cluster', 'pg'];

  it('once prints a complete ProbeReport and exits 0', async () => {
    const c = capture();
    const r = await main(['once', ...common], {}, c.io);
    expect(r.code).toBe(EXIT.ok);
    expect(c.err).toEqual([]);
    const d = decodeProbeReport(JSON.parse(c.out.join('')));
    if (!d.ok) throw new Error(d.problems.join('; '));
    expect(d.value.volumes.map((v) => [v.type, v.filesystem?.totalBytes])).toEqual([
      ['data', 16n * 1024n * 1024n],
      ['wal', 8n * 1024n * 1024n],
    ]);
    expect(d.value.wal).toMatchObject({ readyFiles: 2, doneFiles: 1, walDirBytes: 4096n });
  });

  it('once --format prometheus prints the exposition', async () => {
    const c = capture();
    expect((await main(['once', ...common, '--format', 'prometheus'], {}, c.io)).code).toBe(EXIT.ok);
    expect(c.out.join('')).toContain(
      'cnpg_disk_total_bytes{cluster_namespace="db",cluster="pg",pod="pg-1",volume_type="wal",tablespace=""} 8388608\n',
    );
  });

  it('adds the resize metrics from --policy and --ledger, judged by the engine', async () => {
    const dir = tempDir();
    const policy = join(dir, 'policy.json');
    const ledger = join(dir, 'ledger.json');
    writeFileSync(
      policy,
      JSON.stringify({
        storage: { resize: { enabled: true, triggers: { usageThreshold: 50 }, expansion: { limit: '20Mi' } } },
        walStorage: { resize: { enabled: true, triggers: { usageThreshold: 50 }, strategy: { maxActionsPerDay: 1 } } },
      }),
    );
    // the wal volume spent its one resize an hour ago.
    const at = new Date(Date.now() - 3600_000).toISOString();
    writeFileSync(
      ledger,
      JSON.stringify({
        data: { requestBytes: '16Mi', capacityBytes: 16 * 1024 * 1024 },
        wal: {
          ledger: serializeLedger({ entries: [{ at, fromBytes: 4n << 20n, toBytes: 8n << 20n, by: 'engine' }] }),
          capacityBytes: '8Mi',
        },
      }),
    );
    // Fill both volumes past 50%.
    writeFileSync(join(pg, 'data/fill'), Buffer.alloc(10 << 20));
    writeFileSync(join(pg, 'wal/fill'), Buffer.alloc(5 << 20));
    const c = capture();
    const r = await main(
      ['once', ...common, '--format', 'prometheus', '--policy', policy, '--ledger', ledger],
      {},
      c.io,
    );
    const text = c.out.join('');
    const l = (t: string) => `cluster_namespace="db",cluster="pg",pod="pg-1",volume_type="${t}",tablespace=""`;
    expect(text).toContain(`cnpg_disk_at_limit{${l('data')}} 0\n`);
    expect(text).toContain(`cnpg_disk_resize_budget_remaining{${l('data')}} 3\n`);
    expect(text).toContain(`cnpg_disk_resize_blocked{${l('data')},reason="rate-limit"} 0\n`);
    expect(text).toContain(`cnpg_disk_resize_budget_remaining{${l('wal')}} 0\n`);
    expect(text).toContain(`cnpg_disk_resize_blocked{${l('wal')},reason="rate-limit"} 1\n`);
    expect(text).not.toContain('cnpg_disk_resizes_total');
    expect(r.code).toBe(EXIT.ok);
  });

  it('exits 2 with one line for bad flags and unreadable input files', async () => {
    for (const argv of [
      ['once', '--format', 'xml'],
      ['once', ...common, '--policy', '/nonexistent', '--ledger', '/nonexistent'],
    ]) {
      const c = capture();
      expect((await main(argv, {}, c.io)).code).toBe(EXIT.usage);
      expect(c.out).toEqual([]);
      expect(c.err.join('').trim().split('\n')).toHaveLength(2);
      expect(c.err.join('')).toMatch(/^cnpg-disk-probe: .*\nRun cnpg-disk-probe --help for usage.\n$/);
    }
  });

  it('exits 1 when the report has errors', async () => {
    const c = capture();
    expect((await main(['once', '--no-sql', '--root', tempDir(), '--instance', 'x'], {}, c.io)).code).toBe(
      EXIT.partial,
    );
    expect(JSON.parse(c.out.join('')).errors.length).toBeGreaterThan(0);
  });

  it('serve listens on loopback and exits 3 when the address is taken', async () => {
    const c = capture();
    const r = await main(['serve', ...common, '--listen', '127.0.0.1:0'], {}, c.io);
    expect(r.code).toBe(EXIT.ok);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(c.err.join(''))?.[1]);
    try {
      const m = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(await m.text()).toContain('cnpg_disk_total_bytes');
      const taken = capture();
      expect((await main(['serve', ...common, '--listen', `127.0.0.1:${port}`], {}, taken.io)).code).toBe(EXIT.failure);
      expect(taken.err.join('')).toBe(`cnpg-disk-probe: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
    } finally {
      await r.close?.();
    }
  });

  it('runs as a program: --help, and a usage error without a stack trace', async () => {
    const bin = join(import.meta.dirname, '../src/bin.ts');
    const help = await shAsync(process.execPath, ['--import', 'tsx', bin, '--help']);
    expect(help).toMatchObject({ code: 0, stdout: USAGE, stderr: '' });
    const bad = await shAsync(process.execPath, ['--import', 'tsx', bin, 'once', '--pg-port', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'cnpg-disk-probe: --pg-port must be a whole number from 1 to 65535, got "x"\nRun cnpg-disk-probe --help for usage.\n',
    );
  });
});
