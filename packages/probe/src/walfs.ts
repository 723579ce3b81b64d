/**
 * What the WAL directory itself says: the archive_status backlog and the size
 * of pg_wal. Read from the filesystem, so it works while the server is down
 * or crash-looping (a full WAL disk is exactly when it matters).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface ArchiveStatusCounts {
  /** WAL files waiting to be archived. */
  ready: number;
  /** WAL files archived and not yet recycled. */
  done: number;
}

/** Counts `<segment>.ready` and `<segment>.done` in pg_wal/archive_status. Throws the errno error. */
export async function readArchiveStatus(walDir: string): Promise<ArchiveStatusCounts> {
  const names = await readdir(join(walDir, 'archive_status'));
  let ready = 0;
  let done = 0;
  for (const n of names) {
    if (n.endsWith('.ready')) ready++;
    else if (n.endsWith('.done')) done++;
  }
  return { ready, done };
}

/**
 * Apparent size of pg_wal: the sum of the sizes of the regular files in it and
 * its subdirectories (archive_status, summaries), symlinks not followed. For
 * the top level this is what `select sum(size) from pg_ls_waldir()` says.
 * Files that vanish while being counted (recycled segments) are skipped.
 * Throws the errno error when pg_wal itself cannot be read.
 */
export async function walDirBytes(walDir: string, maxDepth = 2): Promise<bigint> {
  let total = 0n;
  const walk = async (dir: string, depth: number, top: boolean): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (top) throw err;
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isFile()) {
        try {
          total += (await lstat(path, { bigint: true })).size;
        } catch {
          // recycled or removed between readdir and lstat
        }
      } else if (e.isDirectory() && depth < maxDepth) {
        await walk(path, depth + 1, false);
      }
    }
  };
  await walk(walDir, 0, true);
  return total;
}
