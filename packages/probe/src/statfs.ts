/**
 * Filesystem figures with the semantics of `df` (coreutils), from statfs(2).
 *
 *   total     = f_blocks × f_frsize
 *   available = f_bavail × f_frsize   (what an unprivileged writer such as postgres can still use)
 *   used      = (f_blocks − f_bfree) × f_frsize
 *   percent   = used / (used + available)   (root-reserved blocks excluded, like df's Use%)
 *
 * Node 20 (libuv's uv_fs_statfs) calls statfs(2) and exposes f_bsize but not
 * f_frsize. On Linux the kernel fills f_frsize with f_bsize unless the
 * filesystem sets its own, and the kernel filesystems a PVC is formatted with
 * (ext4, xfs, btrfs, tmpfs, NFS, CephFS...) report the two equal; a FUSE
 * daemon may report them differently. So for FUSE (and only then) the fragment
 * size is read with coreutils `stat -f -c %S`, which reports f_frsize; if that
 * fails the figures fall back to f_bsize and the report says so.
 */
import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import type { FilesystemFacts } from '@cnpg-disk/core';

/** statfs f_type of FUSE filesystems. */
export const FUSE_SUPER_MAGIC = 0x65735546n;

/** The statfs fields df needs, all as exact integers. */
export interface RawStatfs {
  type: bigint;
  bsize: bigint;
  /** Fragment size: the unit of blocks, bfree and bavail. */
  frsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
}

/** df's arithmetic on statfs figures. Pure. */
export function factsFromStatfs(s: RawStatfs, observedAt?: string): FilesystemFacts {
  const unit = s.frsize > 0n ? s.frsize : s.bsize;
  const usedBlocks = s.blocks > s.bfree ? s.blocks - s.bfree : 0n;
  const facts: FilesystemFacts = {
    totalBytes: s.blocks * unit,
    usedBytes: usedBlocks * unit,
    availableBytes: s.bavail * unit,
    source: 'probe',
  };
  // Some filesystems (btrfs, many FUSE and network filesystems) have no inode
  // table: they report 0 inodes, which df -i shows as "-". Report none then.
  if (s.files > 0n) {
    facts.inodesTotal = s.files;
    facts.inodesFree = s.ffree;
    facts.inodesUsed = s.files > s.ffree ? s.files - s.ffree : 0n;
  }
  if (observedAt !== undefined) facts.observedAt = observedAt;
  return facts;
}

/** Reads f_frsize with coreutils `stat -f` (Node does not expose it). */
export function statFragmentSize(path: string, timeoutMs = 2000): Promise<bigint> {
  return new Promise((resolve, reject) => {
    execFile('stat', ['-f', '-c', '%S', '--', path], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return reject(err);
      const text = stdout.trim();
      if (!/^\d{1,12}$/.test(text) || text === '0') return reject(new Error(`stat -f printed ${JSON.stringify(text)}`));
      resolve(BigInt(text));
    });
  });
}

export interface MeasuredFilesystem {
  facts: FilesystemFacts;
  raw: RawStatfs;
  /** Set when a figure rests on an assumption (FUSE fragment size not readable). */
  warning?: string;
}

export interface MeasureOptions {
  observedAt?: string;
  /** How to read f_frsize of a FUSE filesystem (tests may pass another reader). */
  fragmentSize?: (path: string) => Promise<bigint>;
}

/** statfs of the filesystem holding `path`, with df semantics. Throws the errno error (ENOENT, EACCES...). */
export async function measureFilesystem(path: string, opts: MeasureOptions = {}): Promise<MeasuredFilesystem> {
  const s = await statfs(path, { bigint: true });
  const raw: RawStatfs = {
    type: s.type,
    bsize: s.bsize,
    frsize: s.bsize,
    blocks: s.blocks,
    bfree: s.bfree,
    bavail: s.bavail,
    files: s.files,
    ffree: s.ffree,
  };
  let warning: string | undefined;
  if (s.type === FUSE_SUPER_MAGIC) {
    try {
      raw.frsize = await (opts.fragmentSize ?? statFragmentSize)(path);
    } catch (err) {
      warning = `FUSE filesystem: could not read its fragment size (${(err as Error).message}); figures assume f_frsize = f_bsize = ${s.bsize}`;
    }
  }
  const result: MeasuredFilesystem = { facts: factsFromStatfs(raw, opts.observedAt), raw };
  if (warning !== undefined) result.warning = warning;
  return result;
}
