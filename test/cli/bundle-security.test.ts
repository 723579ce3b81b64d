// Support bundles as untrusted input and as a file we write, on a real
// filesystem and through the real CLI process (node bin/run.js, built by
// `npm run build`): redaction of a leak corpus (the archive is extracted with
// the system tar and grepped), the --bundle target (existing files, links,
// directories, unwritable places), terminal escapes in names, and hostile
// archives for --from-bundle.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWriteStream } from 'node:fs';
import { gzipSync, createGzip, constants as zc } from 'node:zlib';
import { Header } from 'tar';
import { toPlain } from '@cnpg-disk/core';
import { openBundleTarget, redactObject, redactText, REDACTED } from '../../src/snapshot/bundle-write.js';
import { readBundle, readBundleArchive } from '../../src/snapshot/bundle.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot } from '../helpers/fixtures.js';
import { LEAKS, NEAR_MISSES } from './leaks.js';
import { cli as runCli } from '../helpers/cli.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cnpg-bundle-sec-'));
  chmodSync(tmp, 0o755);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The one CLI runner, from a scratch directory with no kubeconfig; `uid` runs it as another user. */
function cli(
  args: string[],
  opts: { uid?: number; env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<Ran> {
  return runCli(args, {
    cwd: tmp,
    env: { HOME: tmp, KUBECONFIG: join(tmp, 'no-such-kubeconfig'), ...opts.env },
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
  });
}

function extract(file: string): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'bundle-x-'));
  const r = spawnSync('tar', ['xzf', file, '-C', dir]);
  expect(r.status).toBe(0);
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p, `${rel}${f}/`);
      else out.set(`${rel}${f}`, readFileSync(p, 'utf8'));
    }
  };
  walk(dir, '');
  rmSync(dir, { recursive: true, force: true });
  return out;
}

describe('redaction: a corpus of realistic leaks, written to a real bundle', () => {
  it(`none of the ${LEAKS.length} planted secrets survives; near-misses, names and numbers do`, async () => {
    expect(LEAKS.length).toBeGreaterThanOrEqual(20);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'pg-1',
        namespace: 'db',
        annotations: Object.fromEntries(LEAKS.map((l, i) => [`example.com/leak-${i}`, l.text])),
        labels: { 'cnpg.io/cluster': 'pg' },
      },
      spec: {
        containers: [
          {
            name: 'postgres',
            env: [
              { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
              ...LEAKS.map((l, i) => ({ name: `APP_${i}_DB_PASSWORD`, value: l.secret })),
              { name: 'AZURE_STORAGE_KEY', value: 'Env-Azure-Key-1' },
            ],
            args: LEAKS.map((l) => l.text),
          },
        ],
        // an object field named like a credential, and an env-like list elsewhere
        extra: {
          password: 'Field-Password-1',
          clientToken: 'Field-Token-2',
          parameters: [{ name: 'X_SECRET', value: 'List-Secret-3' }],
        },
      },
      status: { capacity: '10Gi', usedBytes: '9123456789', percentUsed: 85.3 },
    };
    const log = [...LEAKS.map((l) => l.text), ...NEAR_MISSES].join('\n') + '\n';
    const target = await openBundleTarget(join(tmp, 'corpus.tar.gz'), false);
    await target.write(
      'cnpg-bundle-test',
      [
        { path: 'db/pg/pods.json', content: JSON.stringify(redactObject(pod), null, 2), description: 'pod' },
        { path: 'db/pg/pg-1/postgres.log', content: redactText(log), description: 'log' },
      ],
      new Date('2026-12-01T00:00:00Z'),
    );
    const files = extract(join(tmp, 'corpus.tar.gz'));
    const all = [...files.values()].join('\n');
    const survivors = [
      ...LEAKS.map((l) => l.secret),
      'Env-Azure-Key-1',
      'Field-Password-1',
      'Field-Token-2',
      'List-Secret-3',
    ].filter((s) => all.includes(s));
    expect(survivors).toEqual([]);
    const written = files.get('cnpg-bundle-test/db/pg/pg-1/postgres.log') ?? '';
    for (const n of NEAR_MISSES) expect(written).toContain(n);
    const doc = JSON.parse(files.get('cnpg-bundle-test/db/pg/pods.json') ?? '{}') as typeof pod;
    expect(doc.metadata.name).toBe('pg-1');
    expect(doc.status).toEqual(pod.status);
    expect(doc.spec.containers[0]!.env[0]).toEqual({ name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' });
    expect(doc.spec.containers[0]!.env[1]).toEqual({ name: 'APP_0_DB_PASSWORD', value: REDACTED });
  });

  it('stays linear on a long run of key characters (no backtracking blow-up)', () => {
    const long = 'token'.repeat(200_000) + '=x';
    expect(redactText(long)).toBe(long);
  });
});

describe('diagnose --bundle FILE: where the bundle may be written (real CLI, real filesystem)', () => {
  // Every refusal happens before anything is collected: the kubeconfig points
  // nowhere, so reaching the cluster would be exit 3, not 64.
  const bundleRun = (file: string, more: string[] = [], uid?: number) =>
    cli(['diagnose', '-n', 'db', '--bundle', file, ...more], uid === undefined ? {} : { uid });

  it('an existing file is refused and left untouched', async () => {
    const file = join(tmp, 'existing.tar.gz');
    writeFileSync(file, 'precious', { mode: 0o644 });
    const r = await bundleRun(file);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/refusing to overwrite .*existing\.tar\.gz: it already exists/);
    expect(r.stderr).toMatch(/--force/);
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a symbolic link to a file is refused; the file it points to is untouched', async () => {
    const target = join(tmp, 'victim.txt');
    writeFileSync(target, 'victim');
    const link = join(tmp, 'link.tar.gz');
    symlinkSync(target, link);
    const r = await bundleRun(link);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/a symbolic link, never followed/);
    expect(readFileSync(target, 'utf8')).toBe('victim');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('a dangling symbolic link is refused and nothing is created where it points', async () => {
    const nowhere = join(tmp, 'created-through-link.tar.gz');
    const link = join(tmp, 'dangling.tar.gz');
    symlinkSync(nowhere, link);
    const r = await bundleRun(link);
    expect(r.code).toBe(64);
    expect(() => lstatSync(nowhere)).toThrow();
    expect(readlinkSync(link)).toBe(nowhere);
  });

  it('a directory is refused, even with --force', async () => {
    const dir = join(tmp, 'a-directory');
    mkdirSync(dir);
    for (const more of [[], ['--force']]) {
      const r = await bundleRun(dir, more);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/it is a directory/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a directory that cannot be written, or does not exist, is a clear error', async () => {
    const locked = join(tmp, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    // root ignores permission bits: run the CLI as nobody then
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const r = await bundleRun(join(locked, 'b.tar.gz'), [], uid);
    expect(r.stderr).toMatch(/cannot write the bundle .*: cannot create a file in .*locked \(EACCES\)/);
    expect(r.code).toBe(64);
    expect(readdirSync(locked)).toEqual([]);
    const missing = await bundleRun(join(tmp, 'no-such-dir', 'b.tar.gz'));
    expect(missing.stderr).toMatch(/cannot create a file in .*no-such-dir \(ENOENT\)/);
    expect(missing.code).toBe(64);
  });

  it('--force without --bundle is a usage error', async () => {
    const r = await cli(['diagnose', '-n', 'db', '--force']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--force only applies to --bundle/);
  });
});

describe('the bundle target: 0600, temporary file renamed into place', () => {
  const entries = [{ path: 'a.txt', content: 'hello\n', description: 'a' }];
  const at = new Date('2026-12-01T00:00:00Z');

  it('writes mode 0600 through a temporary file in the same directory', async () => {
    const dir = join(tmp, 'fresh');
    mkdirSync(dir);
    const t = await openBundleTarget(join(dir, 'b.tar.gz'), false);
    // while collecting: only a private temporary file exists
    const during = readdirSync(dir);
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^\.b\.tar\.gz\.\d+\.[0-9a-f]+\.tmp$/);
    expect(statSync(join(dir, during[0]!)).mode & 0o777).toBe(0o600);
    await t.write('root', entries, at);
    expect(readdirSync(dir)).toEqual(['b.tar.gz']);
    expect(statSync(join(dir, 'b.tar.gz')).mode & 0o777).toBe(0o600);
    expect(extract(join(dir, 'b.tar.gz')).get('root/a.txt')).toBe('hello\n');
  });

  it('a file that appears while collecting is not overwritten', async () => {
    const dir = join(tmp, 'race');
    mkdirSync(dir);
    const file = join(dir, 'b.tar.gz');
    const t = await openBundleTarget(file, false);
    writeFileSync(file, 'someone else');
    await expect(t.write('root', entries, at)).rejects.toThrow(/appeared while the bundle was being written/);
    expect(readFileSync(file, 'utf8')).toBe('someone else');
    expect(readdirSync(dir)).toEqual(['b.tar.gz']);
  });

  it('--force replaces a file, and replaces a symbolic link itself, never its target', async () => {
    const dir = join(tmp, 'force');
    mkdirSync(dir);
    const file = join(dir, 'b.tar.gz');
    writeFileSync(file, 'old');
    await (await openBundleTarget(file, true)).write('root', entries, at);
    expect(extract(file).get('root/a.txt')).toBe('hello\n');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'victim');
    const link = join(dir, 'l.tar.gz');
    symlinkSync(victim, link);
    await (await openBundleTarget(link, true)).write('root', entries, at);
    expect(lstatSync(link).isFile()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('victim');
  });
});

// ---------------------------------------------------------------------------
// Hostile archives. Written header by header with the tar package's Header
// class (tar's own create() refuses or rewrites exactly the names, links and
// sizes these tests need: absolute paths, `..`, a size that is a lie).

interface Member {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO';
  data?: string;
  linkpath?: string;
}

function header(m: { path: string; type: string; size: number; linkpath?: string }): Buffer {
  const h = new Header({
    path: m.path,
    type: m.type as 'File',
    size: m.size,
    mode: m.type === 'Directory' ? 0o755 : 0o644,
    mtime: new Date('2026-12-01T00:00:00Z'),
    ...(m.linkpath ? { linkpath: m.linkpath } : {}),
  });
  h.encode();
  return h.block!;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

function tarGz(members: Member[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    const type = m.type ?? 'File';
    parts.push(
      header({
        path: m.path,
        type,
        size: type === 'File' ? data.length : 0,
        ...(m.linkpath ? { linkpath: m.linkpath } : {}),
      }),
    );
    if (type === 'File') parts.push(data, pad(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

const SNAPSHOT_DOC = JSON.stringify({
  apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
  kind: 'Snapshot',
  collectedAt: '2026-12-01T00:00:00.000Z',
  clusters: [],
});

function writeBundle(name: string, members: Member[]): string {
  const f = join(tmp, name);
  writeFileSync(f, tarGz(members));
  return f;
}

describe('--from-bundle: hostile archives are refused (exit 64, one sentence)', () => {
  const ok = (extra: Member[] = []): Member[] => [
    { path: 'cnpg-bundle-x/', type: 'Directory' },
    { path: 'cnpg-bundle-x/snapshot.json', data: SNAPSHOT_DOC },
    ...extra,
  ];

  it('a well-formed archive is read', async () => {
    const a = await readBundleArchive(
      writeBundle('ok.tar.gz', ok([{ path: 'cnpg-bundle-x/manifest.json', data: '{}' }])),
    );
    expect(a.root).toBe('cnpg-bundle-x');
    expect([...a.files.keys()].sort()).toEqual(['manifest.json', 'snapshot.json']);
  });

  const cases: [string, Member[], RegExp][] = [
    [
      'two root folders (the last snapshot.json used to win)',
      [...ok(), { path: 'other/snapshot.json', data: SNAPSHOT_DOC }],
      /two root folders \("cnpg-bundle-x" and "other"\)/,
    ],
    [
      'a traversal name',
      [...ok(), { path: 'cnpg-bundle-x/../../etc/snapshot.json', data: SNAPSHOT_DOC }],
      /climbs out of the archive/,
    ],
    ['a traversal name as the snapshot', [{ path: '../snapshot.json', data: SNAPSHOT_DOC }], /climbs out/],
    ['an absolute name', [...ok(), { path: '/etc/cron.d/x', data: 'x' }], /absolute name/],
    [
      'a file outside any root folder',
      [{ path: 'snapshot.json', data: SNAPSHOT_DOC }],
      /outside the bundle's root folder/,
    ],
    [
      'snapshot.json as a symbolic link',
      [
        { path: 'r/', type: 'Directory' },
        { path: 'r/snapshot.json', type: 'SymbolicLink', linkpath: '/etc/passwd' },
      ],
      /snapshot\.json is a SymbolicLink, not a regular file/,
    ],
    [
      'snapshot.json as a hard link',
      [
        { path: 'r/a', data: SNAPSHOT_DOC },
        { path: 'r/snapshot.json', type: 'Link', linkpath: 'r/a' },
      ],
      /snapshot\.json is a Link, not a regular file/,
    ],
    ['snapshot.json as a FIFO', [{ path: 'r/snapshot.json', type: 'FIFO' }], /snapshot\.json is a FIFO/],
    [
      'snapshot.json twice',
      [...ok(), { path: 'cnpg-bundle-x/snapshot.json', data: SNAPSHOT_DOC }],
      /snapshot\.json appears twice/,
    ],
  ];
  for (const [what, members, message] of cases) {
    it(what, async () => {
      const f = writeBundle(`${what.replace(/\W+/g, '-')}.tar.gz`, members);
      await expect(readBundle(f)).rejects.toMatchObject({ exitCode: 64, message: expect.stringMatching(message) });
    });
  }

  it('read in one piece or streamed (large bundles), every case is refused with the same words', async () => {
    for (const [what, members, message] of cases) {
      const f = writeBundle(`both-${what.replace(/\W+/g, '-')}.tar.gz`, members);
      const inOnePiece = await readBundleArchive(f).then(String, (e: Error) => e.message);
      const streamed = await readBundleArchive(f, undefined, undefined, 0).then(String, (e: Error) => e.message);
      expect(inOnePiece, what).toMatch(message);
      expect(streamed, what).toBe(inOnePiece);
    }
    const good = writeBundle('both-ok.tar.gz', ok([{ path: 'cnpg-bundle-x/manifest.json', data: '{"a":1}' }]));
    const [a, b] = await Promise.all([readBundleArchive(good), readBundleArchive(good, undefined, undefined, 0)]);
    expect(a).toEqual(b);
    expect(a.files.get('snapshot.json')?.toString()).toBe(SNAPSHOT_DOC);
  });

  it('not gzip, and an empty archive', async () => {
    const plain = join(tmp, 'plain.tar.gz');
    writeFileSync(plain, 'this is not a bundle');
    await expect(readBundle(plain)).rejects.toMatchObject({
      exitCode: 64,
      message: expect.stringMatching(/not gzip-compressed/),
    });
    const empty = join(tmp, 'empty.tar.gz');
    writeFileSync(empty, gzipSync(Buffer.alloc(1024)));
    await expect(readBundle(empty)).rejects.toMatchObject({
      message: expect.stringMatching(/is refused: it is (an empty archive|not a tar archive)/),
    });
  });

  it('inflated bytes are counted while decompressing: many small members past the cap are refused', async () => {
    const members: Member[] = [{ path: 'r/', type: 'Directory' }];
    for (let i = 0; i < 40; i++) members.push({ path: `r/logs/${i}.log`, data: 'x'.repeat(64 * 1024) });
    const f = writeBundle('many.tar.gz', members);
    await expect(readBundleArchive(f, ['snapshot.json'], 1024 * 1024)).rejects.toThrow(
      /inflates to more than 1048576 bytes/,
    );
    expect((await readBundleArchive(f, ['snapshot.json'], 8 * 1024 * 1024)).files.size).toBe(0);
  });

  it('through the CLI: two roots is exit 64 with the reason, no stack trace', async () => {
    const f = writeBundle('cli-two-roots.tar.gz', [...ok(), { path: 'evil/snapshot.json', data: SNAPSHOT_DOC }]);
    const r = await cli(['disk', 'status', '--from-bundle', f]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/bundle .*cli-two-roots\.tar\.gz is refused: it has two root folders/);
    expect(r.stderr).not.toMatch(/\s+at \S+ \(/);
  });

  it('a member header claiming 4 GiB is refused at its header, with bounded memory (real CLI, peak RSS)', async () => {
    // 4 GiB claimed, 512 MiB of zeros actually streamed through gzip (about
    // 0.5 MiB on disk): the old reader buffered up to 256 MiB of it.
    const f = join(tmp, 'huge.tar.gz');
    const gz = createGzip({ level: zc.Z_BEST_SPEED });
    const out = createWriteStream(f);
    const done = new Promise<void>((ok, fail) => {
      out.on('finish', () => ok());
      out.on('error', fail);
    });
    gz.pipe(out);
    gz.write(header({ path: 'r/', type: 'Directory', size: 0 }));
    gz.write(header({ path: 'r/snapshot.json', type: 'File', size: 4 * 1024 ** 3 }));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 512; i++) {
      if (!gz.write(zeros)) await new Promise<void>((ok) => gz.once('drain', () => ok()));
    }
    gz.end();
    await done;
    const report = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss-kib='+process.resourceUsage().maxRSS+'\\n'))`;
    const r = await cli(['disk', 'status', '--from-bundle', f], { nodeArgs: ['--import', report] });
    expect(r.stderr).toMatch(/claims 4294967296 bytes, more than the 268435456 a bundle may hold/);
    expect(r.code).toBe(64);
    const kib = Number(/maxrss-kib=(\d+)/.exec(r.stderr)?.[1]);
    console.log(`peak RSS reading a 4 GiB-claiming bundle: ${Math.round(kib / 1024)} MiB`);
    expect(kib).toBeGreaterThan(0);
    expect(kib / 1024).toBeLessThan(200);
  }, 60_000);
});

describe('collectedAt must parse', () => {
  for (const bad of ['yesterday', '2026-13-45T99:00:00Z', '', undefined]) {
    it(`collectedAt ${JSON.stringify(bad)} refuses the bundle`, async () => {
      const doc = {
        apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
        kind: 'Snapshot',
        clusters: [],
        ...(bad === undefined ? {} : { collectedAt: bad }),
      };
      const f = writeBundle(`at-${String(bad)}.tar.gz`, [{ path: 'r/snapshot.json', data: JSON.stringify(doc) }]);
      await expect(readBundle(f)).rejects.toMatchObject({
        exitCode: 64,
        message: expect.stringMatching(
          /collectedAt .*(is missing|is not an RFC 3339 time); the snapshot cannot be judged/,
        ),
      });
    });
  }
});

describe('terminal escapes in names from a bundle (real CLI process)', () => {
  // ESC[2J clears the screen, OSC 0 sets the window title, U+009B is a
  // one-character CSI, U+202E reverses the text after it.
  const EVIL = 'pg\u001b[2J\u001b]0;owned\u0007\u009b31m\u202eevil';
  const SHOWN = 'pg\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202eevil';
  let file: string;

  beforeAll(() => {
    const c = cluster({ name: EVIL });
    (c.metadata as { labels: Record<string, string> }).labels = { team: 'pay\u001b[31m' };
    const p = pod({ name: `${EVIL}-1`, cluster: EVIL });
    const v = pvc({ instance: `${EVIL}-1`, role: 'PG_DATA', cluster: EVIL, request: '10Gi', capacity: '10Gi' });
    const s = snapshot([
      clusterSnapshot(c, [p], [v], [{ pod: `${EVIL}-1`, filesystems: { [`${EVIL}-1`]: fs(10, 97) }, errors: [] }]),
    ]);
    s.problems = [`a problem about ${EVIL}`];
    file = writeBundle('evil.tar.gz', [
      {
        path: 'r/snapshot.json',
        data: JSON.stringify(toPlain({ apiVersion: 'disk.cnpg-plugin.dev/v1alpha1', kind: 'Snapshot', ...s })),
      },
    ]);
  });

  // eslint-disable-next-line no-control-regex -- the characters under test
  const RAW = /[\u001b\u0007\u009b\u202e]/;

  for (const cmd of [['disk', 'status'], ['diagnose'], ['wal', 'health'], ['disk', 'status', '-o', 'wide', '-v']]) {
    it(`${cmd.join(' ')}: no raw control character reaches the terminal; the name is shown escaped`, async () => {
      const r = await cli([...cmd, '--from-bundle', file]);
      expect(r.stdout + r.stderr).not.toMatch(RAW);
      expect(r.stdout + r.stderr).toContain(SHOWN);
    });
  }

  it('an unknown cluster named with escapes: the error line is sanitised too', async () => {
    const r = await cli(['disk', 'resize', `x\u001b[2Jy`, '--from-bundle', file]);
    expect(r.code).toBe(64);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toMatch(/x\\(x1b|u001b)\[2Jy/);
  });

  it('JSON output stays exact (the format escapes by itself)', async () => {
    const r = await cli(['disk', 'status', '--from-bundle', file, '-o', 'json']);
    const doc = JSON.parse(r.stdout) as { clusters: { name: string }[] };
    expect(doc.clusters[0]!.name).toBe(EVIL);
  });
});

describe('sanitize', () => {
  it('escapes C0, DEL, C1 and bidi controls; keeps text, and newlines only where asked', async () => {
    const { sanitize } = await import('../../src/render/sanitize.js');
    expect(sanitize('a\u0000b\u0008c\u007fd\u0085e\u009bf\u2066g\u2069')).toBe(
      'a\\x00b\\x08c\\x7fd\\x85e\\x9bf\\u2066g\\u2069',
    );
    expect(sanitize('line1\n\tline2')).toBe('line1\\x0a\\x09line2');
    expect(sanitize('line1\n\tline2\r', { keepNewlines: true })).toBe('line1\n\tline2\\x0d');
    expect(sanitize('pg-1 ünïcödé 10Gi 85.3% → ok')).toBe('pg-1 ünïcödé 10Gi 85.3% → ok');
  });
});

describe('diagnose --from-bundle FILE --list: what a bundle holds (real CLI)', () => {
  const EXAMPLE = join(REPO, 'examples/wal-archive-failing.tar.gz');

  it('text: collection time and origin, tool version, redaction, entries, failures, clusters', async () => {
    const r = await cli(['diagnose', '--from-bundle', EXAMPLE, '--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^bundle: +.*wal-archive-failing\.tar\.gz$/m);
    expect(r.stdout).toMatch(/^collected: +20\d\d-\d\d-\d\dT\S+ from https:\/\//m);
    expect(r.stdout).toMatch(/^tool: +kubectl-cnpg-disk \d+\.\d+\.\d+$/m);
    expect(r.stdout).toMatch(/^redaction: +on \(\d+ rules\)$/m);
    expect(r.stdout).toMatch(/^failed: +nothing$/m);
    expect(r.stdout).toMatch(/^billing +pg-billing +2 +4 +2\/2/m);
  });

  it('json: the manifest as read and the clusters', async () => {
    const r = await cli(['diagnose', '--from-bundle', EXAMPLE, '--list', '-o', 'json']);
    const doc = JSON.parse(r.stdout) as {
      kind: string;
      manifest: { tool: { version: string }; redaction: { enabled: boolean } };
      clusters: { namespace: string; name: string }[];
    };
    expect(doc.kind).toBe('BundleListing');
    expect(doc.manifest.redaction.enabled).toBe(true);
    expect(doc.clusters.map((c) => `${c.namespace}/${c.name}`)).toEqual(['billing/pg-billing']);
  });

  it('an unredacted bundle with failures says so', async () => {
    const manifest = {
      kind: 'BundleManifest',
      tool: { name: 'kubectl-cnpg-disk', version: '9.9.9' },
      secretsRead: false,
      redaction: { enabled: false, rules: [] },
      entries: [{ path: 'snapshot.json', bytes: 100 }],
      failed: [{ what: 'db/pg/pg-1/postgres.log', reason: 'HTTP 403', permission: 'get pods/log' }],
      scope: { namespaces: ['db'] },
    };
    const f = writeBundle('list-raw.tar.gz', [
      { path: 'r/snapshot.json', data: SNAPSHOT_DOC },
      { path: 'r/manifest.json', data: JSON.stringify(manifest) },
    ]);
    const r = await cli(['diagnose', '--from-bundle', f, '--list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^redaction: +OFF: credentials may be in it$/m);
    expect(r.stdout).toMatch(/^ +- db\/pg\/pg-1\/postgres\.log: HTTP 403 \(grant "get pods\/log"\)$/m);
    expect(r.stdout).toMatch(/^clusters: +0$/m);
  });

  it('--list needs --from-bundle and refuses --bundle', async () => {
    const a = await cli(['diagnose', '--list']);
    expect(a.code).toBe(64);
    expect(a.stderr).toMatch(/--list lists a bundle: it needs --from-bundle FILE/);
    const b = await cli(['diagnose', '--from-bundle', EXAMPLE, '--list', '--bundle', join(tmp, 'x.tar.gz')]);
    expect(b.code).toBe(64);
  });

  it('a cluster the bundle does not hold: exit 64, and the message lists what it holds', async () => {
    for (const cmd of [['disk', 'status'], ['wal', 'health'], ['diagnose']]) {
      const r = await cli([...cmd, 'nope', '--from-bundle', EXAMPLE]);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/no CloudNativePG Cluster "nope" in the bundle /);
      expect(r.stderr).toMatch(/hint: the bundle holds: billing\/pg-billing\n/);
    }
  });
});
