// Release archives are written by our own code (scripts/release/archive.ts):
// here GNU tar and Python's zipfile, independent readers, read them back.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { afterAll, describe, expect, it } from 'vitest';

import { FIXED_MTIME, tarGz, zip } from '../../scripts/release/archive.js';
import type { Entry } from '../../scripts/release/archive.js';

const dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-archive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Sizes around the 512-byte tar block and an incompressible binary-like payload.
const entries: Entry[] = [
  { name: 'kubectl-cnpg', data: randomBytes(3 * 512 + 17), mode: 0o755 },
  { name: 'LICENSE', data: Buffer.from('Apache License\n'.repeat(100)), mode: 0o644 },
  { name: 'README.md', data: Buffer.alloc(512, 'x'), mode: 0o644 },
  { name: 'empty', data: Buffer.alloc(0), mode: 0o644 },
];

describe('tar.gz', () => {
  it('extracts with GNU tar to the same bytes and modes, owned by root at the fixed time', async () => {
    const file = join(dir, 'a.tar.gz');
    writeFileSync(file, await tarGz(entries));
    const out = mkdtempSync(join(dir, 'x-'));
    execFileSync('tar', ['-xzf', file, '-C', out]);
    for (const e of entries) {
      expect(readFileSync(join(out, e.name)).equals(e.data)).toBe(true);
      expect(statSync(join(out, e.name)).mode & 0o777).toBe(e.mode);
    }
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', file], {
      env: { ...process.env, TZ: 'UTC' },
    })
      .toString()
      .trim()
      .split('\n');
    expect(listing).toHaveLength(entries.length);
    expect(listing[0]).toMatch(/^-rwxr-xr-x 0\/0 +1553 2000-01-01 00:00:00 kubectl-cnpg$/);
    expect(new Date(FIXED_MTIME * 1000).toISOString()).toBe('2000-01-01T00:00:00.000Z');
  });

  it('is the same bytes every time (reproducible releases)', async () => {
    expect((await tarGz(entries)).equals(await tarGz(entries))).toBe(true);
  });

  it('refuses names that would escape or nest', async () => {
    await expect(tarGz([{ name: '../x', data: Buffer.alloc(1), mode: 0o644 }])).rejects.toThrow(/not allowed/);
    await expect(tarGz([{ name: 'a/b', data: Buffer.alloc(1), mode: 0o644 }])).rejects.toThrow(/not allowed/);
  });
});

describe('zip', () => {
  it("passes Python's zipfile integrity test with the same bytes and Unix modes", async () => {
    const file = join(dir, 'a.zip');
    writeFileSync(file, await zip(entries));
    const script = [
      'import json, sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'bad = z.testzip()',
      'print(json.dumps({"bad": bad, "files": [{"name": i.filename, "mode": (i.external_attr >> 16) & 0o777,',
      '  "hex": z.read(i).hex(), "date": list(i.date_time), "method": i.compress_type} for i in z.infolist()]}))',
    ].join('\n');
    const res = JSON.parse(execFileSync('python3', ['-c', script, file]).toString()) as {
      bad: string | null;
      files: Array<{ name: string; mode: number; hex: string; date: number[]; method: number }>;
    };
    expect(res.bad).toBeNull();
    expect(res.files.map((f) => f.name)).toEqual(entries.map((e) => e.name));
    res.files.forEach((f, i) => {
      const e = entries[i] as Entry;
      expect(f.hex).toBe(e.data.toString('hex'));
      expect(f.mode).toBe(e.mode);
      expect(f.method).toBe(8); // deflate
      expect(f.date).toEqual([2000, 1, 1, 0, 0, 0]);
    });
  });

  it('is the same bytes every time', async () => {
    expect((await zip(entries)).equals(await zip(entries))).toBe(true);
  });
});
