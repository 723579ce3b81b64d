/**
 * The probe's filesystem figures against df -B1 and stat -f on real
 * filesystems of known size: tmpfs, a loop-device ext4 image (root-reserved
 * blocks), a FUSE filesystem (fuse2fs), a full filesystem, and mount discovery
 * in the CloudNativePG layout.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { percentUsed } from '@cnpg-disk/core';
import {
  discoverVolumes,
  factsFromStatfs,
  measureFilesystem,
  runProbe,
  statFragmentSize,
  FUSE_SUPER_MAGIC,
} from '../src/index.js';
import {
  df,
  fillUntilEnospc,
  loopDevicesWork,
  mountExt4,
  mountTmpfs,
  onCleanup,
  runCleanups,
  sh,
  statF,
  tempDir,
} from './helpers/sys.js';

const MiB = 1024n * 1024n;

afterAll(() => runCleanups());

/** The probe, df and stat -f must agree exactly on a quiescent filesystem. */
async function expectAgreement(path: string) {
  const m = await measureFilesystem(path);
  const d = df(path);
  const s = statF(path);
  expect(m.facts.totalBytes).toBe(d.size);
  expect(m.facts.usedBytes).toBe(d.used);
  expect(m.facts.availableBytes).toBe(d.avail);
  expect(m.facts.totalBytes).toBe(s.blocks * s.frsize);
  expect(m.facts.availableBytes).toBe(s.bavail * s.frsize);
  expect(m.facts.usedBytes).toBe((s.blocks - s.bfree) * s.frsize);
  expect(m.raw.frsize).toBe(s.frsize);
  expect(m.raw.bsize).toBe(s.bsize);
  if (d.itotal > 0n) {
    expect(m.facts.inodesTotal).toBe(d.itotal);
    expect(m.facts.inodesUsed).toBe(d.iused);
    expect(m.facts.inodesFree).toBe(d.iavail);
  }
  // df rounds Use% up.
  expect(Math.ceil(percentUsed(m.facts))).toBe(d.pcent);
  return m;
}

describe('statfs with df semantics', () => {
  it('reports a 64 MiB tmpfs exactly, empty and after writing 10 MiB', async () => {
    const dir = mountTmpfs(join(tempDir(), 'fs'), '64m', 'nr_inodes=1000');
    const empty = await expectAgreement(dir);
    expect(empty.facts.totalBytes).toBe(64n * MiB);
    expect(empty.facts.usedBytes).toBe(0n);
    expect(empty.facts.availableBytes).toBe(64n * MiB);
    expect(empty.facts.inodesTotal).toBe(1000n);

    writeFileSync(join(dir, 'ten'), Buffer.alloc(10 * 1024 * 1024, 1));
    for (let i = 0; i < 25; i++) writeFileSync(join(dir, `f${i}`), '');
    const used = await expectAgreement(dir);
    expect(used.facts.usedBytes).toBe(10n * MiB);
    expect(used.facts.availableBytes).toBe(54n * MiB);
    expect(used.facts.inodesUsed).toBe((empty.facts.inodesUsed ?? 0n) + 26n);
    expect(percentUsed(used.facts)).toBe(15.625);
  });

  it('excludes root-reserved blocks like df on a loop-device ext4 image', async () => {
    expect(loopDevicesWork()).toBe(true);
    const dir = mountExt4(join(tempDir(), 'ext4'), 128);
    writeFileSync(join(dir, 'data'), Buffer.alloc(8 * 1024 * 1024, 7));
    sh('sync', []);
    const m = await expectAgreement(dir);
    // ext4 reserves 5% for root: available is less than total - used.
    expect(m.facts.availableBytes).toBeLessThan(m.facts.totalBytes - m.facts.usedBytes);
    expect(m.raw.bfree).toBeGreaterThan(m.raw.bavail);
    expect(m.facts.totalBytes).toBeLessThan(128n * MiB);
  });

  it('reads the fragment size of a FUSE filesystem with stat -f (fuse2fs)', async () => {
    const dir = join(tempDir(), 'fuse');
    mkdirSync(dir);
    const img = `${dir}.img`;
    sh('truncate', ['-s', '64M', img]);
    sh('mkfs.ext4', ['-q', '-F', '-b', '1024', img]);
    sh('fuse2fs', [img, dir, '-o', 'fakeroot']);
    onCleanup(() => sh('umount', [dir]));
    const asked: string[] = [];
    const m = await measureFilesystem(dir, {
      fragmentSize: (p) => {
        asked.push(p);
        return statFragmentSize(p);
      },
    });
    expect(m.raw.type).toBe(FUSE_SUPER_MAGIC);
    expect(asked).toEqual([dir]);
    expect(m.raw.frsize).toBe(1024n);
    await expectAgreement(dir);
    // When stat -f cannot tell, the figures fall back to f_bsize and say so.
    const fallback = await measureFilesystem(dir, { fragmentSize: () => Promise.reject(new Error('no stat')) });
    expect(fallback.warning).toMatch(/FUSE filesystem: could not read its fragment size \(no stat\)/);
    expect(fallback.facts.totalBytes).toBe(m.facts.totalBytes);
  });

  it('does not ask stat -f on kernel filesystems, whose f_frsize is f_bsize', async () => {
    const dir = mountTmpfs(join(tempDir(), 'k'), '4m');
    let asked = false;
    await measureFilesystem(dir, {
      fragmentSize: () => {
        asked = true;
        return Promise.resolve(1n);
      },
    });
    expect(asked).toBe(false);
    expect(await statFragmentSize(dir)).toBe(statF(dir).frsize);
    await expect(statFragmentSize(join(dir, 'missing'))).rejects.toThrow();
  });

  it('reports a full filesystem (ENOSPC) with 0 available instead of failing', async () => {
    const base = tempDir();
    const data = mountTmpfs(join(base, 'var/lib/postgresql/data'), '8m');
    fillUntilEnospc(data);
    const m = await expectAgreement(data);
    expect(m.facts.availableBytes).toBe(0n);
    expect(m.facts.usedBytes).toBe(8n * MiB);
    expect(percentUsed(m.facts)).toBe(100);
    const report = await runProbe({ instance: 'full-1', mounts: { root: base }, sql: false });
    const vol = report.volumes.find((v) => v.type === 'data');
    expect(vol?.filesystem?.availableBytes).toBe(0n);
    expect(vol?.filesystem?.totalBytes).toBe(8n * MiB);
    // No PGDATA on it: the WAL directory is reported missing, the volume is not.
    expect(report.errors.map((e) => e.field).sort()).toEqual(['wal.archiveStatus', 'wal.walDirBytes']);
    expect(report.errors.every((e) => e.code === 'ENOENT')).toBe(true);
  });

  it('reports an unmeasurable mount in errors, not by throwing', async () => {
    const base = tempDir();
    const report = await runProbe({ instance: 'gone-1', mounts: { root: base }, sql: false });
    expect(report.volumes).toEqual([{ type: 'data', mountPath: join(base, 'var/lib/postgresql/data') }]);
    expect(report.errors.find((e) => e.field === 'volumes.data')).toMatchObject({
      code: 'ENOENT',
      message: expect.stringContaining(`cannot statfs ${join(base, 'var/lib/postgresql/data')}: ENOENT`),
    });
  });
});

describe('factsFromStatfs (pure arithmetic)', () => {
  const raw = { type: 0n, bsize: 4096n, frsize: 4096n, blocks: 100n, bfree: 40n, bavail: 30n, files: 10n, ffree: 4n };
  it('uses the fragment size as the unit, not the block size', () => {
    const f = factsFromStatfs({ ...raw, bsize: 131072n, frsize: 512n });
    expect(f).toMatchObject({ totalBytes: 51200n, usedBytes: 30720n, availableBytes: 15360n });
  });
  it('reports no inodes for filesystems without an inode table', () => {
    const f = factsFromStatfs({ ...raw, files: 0n, ffree: 0n });
    expect(f.inodesTotal).toBeUndefined();
    expect(f.inodesUsed).toBeUndefined();
  });
  it('never reports negative usage', () => {
    expect(factsFromStatfs({ ...raw, bfree: 120n, ffree: 20n })).toMatchObject({ usedBytes: 0n, inodesUsed: 0n });
    expect(factsFromStatfs({ ...raw, frsize: 0n }).totalBytes).toBe(409600n);
  });
});

describe('mount discovery in the CloudNativePG layout', () => {
  it('reports data, a separate WAL volume, and mounted tablespaces only', async () => {
    const base = tempDir();
    const pg = join(base, 'var/lib/postgresql');
    mountTmpfs(join(pg, 'data'), '32m');
    mountTmpfs(join(pg, 'wal'), '16m');
    mountTmpfs(join(pg, 'tablespaces/idx'), '8m');
    mountTmpfs(join(pg, 'tablespaces/archive_2024'), '4m');
    mkdirSync(join(pg, 'tablespaces/not-a-mount'));
    const d = await discoverVolumes({ root: base });
    expect(d.errors).toEqual([]);
    expect(d.walSeparate).toBe(true);
    expect(d.volumes).toEqual([
      { type: 'data', mountPath: join(pg, 'data') },
      { type: 'wal', mountPath: join(pg, 'wal') },
      { type: 'tablespace', tablespace: 'archive_2024', mountPath: join(pg, 'tablespaces/archive_2024') },
      { type: 'tablespace', tablespace: 'idx', mountPath: join(pg, 'tablespaces/idx') },
    ]);
    const report = await runProbe({ instance: 'pg-1', mounts: { root: base }, sql: false });
    const sizes = Object.fromEntries(report.volumes.map((v) => [v.tablespace ?? v.type, v.filesystem?.totalBytes]));
    expect(sizes).toEqual({ data: 32n * MiB, wal: 16n * MiB, idx: 8n * MiB, archive_2024: 4n * MiB });
  });

  it('does not report WAL on a single-volume instance (no mount, or a plain directory)', async () => {
    const base = tempDir();
    const pg = join(base, 'var/lib/postgresql');
    mountTmpfs(join(pg, 'data'), '8m');
    expect((await discoverVolumes({ root: base })).volumes.map((v) => v.type)).toEqual(['data']);
    mkdirSync(join(pg, 'data/wal-dir'));
    const plain = await discoverVolumes({ root: base, walPath: join(pg, 'data/wal-dir') });
    expect(plain.walSeparate).toBe(false);
    expect(plain.volumes.map((v) => v.type)).toEqual(['data']);
    expect(plain.errors).toEqual([]);
  });

  it('honours explicit paths and reports an explicit path that does not exist', async () => {
    const base = tempDir();
    const data = mountTmpfs(join(base, 'd'), '8m');
    const ts = mountTmpfs(join(base, 't'), '4m');
    const d = await discoverVolumes({ dataPath: data, walPath: join(base, 'nope'), tablespaces: { fast: ts } });
    expect(d.volumes).toEqual([
      { type: 'data', mountPath: data },
      { type: 'tablespace', tablespace: 'fast', mountPath: ts },
    ]);
    expect(d.errors).toEqual([expect.objectContaining({ field: 'volumes.wal', code: 'ENOENT' })]);
  });

  it('reports a WAL mount it cannot compare when the data mount is missing', async () => {
    const base = tempDir();
    const wal = mountTmpfs(join(base, 'var/lib/postgresql/wal'), '4m');
    const d = await discoverVolumes({ root: base });
    expect(d.volumes.map((v) => v.type)).toEqual(['data']);
    expect(d.errors).toEqual([
      expect.objectContaining({ field: 'volumes.wal', message: expect.stringContaining(`cannot tell whether ${wal}`) }),
    ]);
  });

  it('reports a tablespaces path that is not a directory', async () => {
    const base = tempDir();
    mountTmpfs(join(base, 'data'), '4m');
    writeFileSync(join(base, 'tbs'), 'x');
    const d = await discoverVolumes({ dataPath: join(base, 'data'), tablespacesDir: join(base, 'tbs') });
    expect(d.errors).toEqual([expect.objectContaining({ field: 'volumes.tablespaces', code: 'ENOTDIR' })]);
  });
});
