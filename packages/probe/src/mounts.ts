/**
 * Which volumes this instance has, from the paths CloudNativePG mounts them at
 * (core's MOUNT_PATHS), optionally under a root prefix or replaced by explicit
 * paths.
 *
 *  - data: always reported.
 *  - wal: reported only when it is a separate filesystem (its st_dev differs
 *    from the data mount's). On a single-volume cluster the directory does not
 *    exist, or is a plain directory on the data volume, and WAL lives in
 *    PGDATA/pg_wal: the data volume's figures already cover it.
 *  - tablespaces: each subdirectory of the tablespaces directory that is a
 *    mount point (st_dev differs from the tablespaces directory's), named
 *    after the directory; or the explicit name=path pairs given.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MOUNT_PATHS, type ProbeError, type VolumeType } from '@cnpg-disk/core';

export interface MountOptions {
  /** Prefix for the standard paths (e.g. a host path where the pod's volumes are visible). Default "/". */
  root?: string;
  /** The data volume's mount point. Default <root>/var/lib/postgresql/data. */
  dataPath?: string;
  /** The WAL volume's mount point. Default <root>/var/lib/postgresql/wal. */
  walPath?: string;
  /** The directory holding one mount per tablespace. Default <root>/var/lib/postgresql/tablespaces. */
  tablespacesDir?: string;
  /** Explicit tablespace mounts (name → path); when given, the tablespaces directory is not scanned. */
  tablespaces?: Record<string, string>;
}

export interface VolumeTarget {
  type: VolumeType;
  tablespace?: string;
  mountPath: string;
}

export interface Discovery {
  volumes: VolumeTarget[];
  /** True when the WAL volume was found to be a separate filesystem. */
  walSeparate: boolean;
  errors: ProbeError[];
}

export function resolvedPaths(opts: MountOptions): { data: string; wal: string; tablespacesDir: string } {
  const root = opts.root ?? '/';
  return {
    data: opts.dataPath ?? join(root, MOUNT_PATHS.data),
    wal: opts.walPath ?? join(root, MOUNT_PATHS.wal),
    tablespacesDir: opts.tablespacesDir ?? join(root, MOUNT_PATHS.tablespaces),
  };
}

export function errorOf(field: string, err: unknown, what: string): ProbeError {
  const e = err as NodeJS.ErrnoException;
  // Node's errno messages already start with the code ("ENOENT: no such file or directory, ...").
  const text = e.message ?? String(err);
  const message = `${what}: ${e.code && !text.startsWith(e.code) ? `${e.code}: ` : ''}${text}`.replace(/\s+/g, ' ');
  return e.code ? { field, code: e.code, message } : { field, message };
}

async function devOf(path: string): Promise<bigint> {
  return (await stat(path, { bigint: true })).dev;
}

/** Tablespace names CloudNativePG accepts are SQL identifiers; anything odd in a directory name is skipped. */
const TABLESPACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$/;

export async function discoverVolumes(opts: MountOptions = {}): Promise<Discovery> {
  const paths = resolvedPaths(opts);
  const errors: ProbeError[] = [];
  const volumes: VolumeTarget[] = [{ type: 'data', mountPath: paths.data }];

  let dataDev: bigint | undefined;
  try {
    dataDev = await devOf(paths.data);
  } catch {
    // Reported by the measurement of the data volume itself.
    dataDev = undefined;
  }

  let walSeparate = false;
  try {
    const walDev = await devOf(paths.wal);
    if (dataDev === undefined) {
      errors.push({
        field: 'volumes.wal',
        message: `cannot tell whether ${paths.wal} is a separate volume: the data volume ${paths.data} cannot be read`,
      });
    } else if (walDev !== dataDev) {
      walSeparate = true;
      volumes.push({ type: 'wal', mountPath: paths.wal });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No WAL mount is the normal single-volume case; only an explicit path must exist.
    if (!(code === 'ENOENT' && opts.walPath === undefined)) {
      errors.push(errorOf('volumes.wal', err, `cannot read ${paths.wal}`));
    }
  }

  if (opts.tablespaces !== undefined) {
    for (const [name, path] of Object.entries(opts.tablespaces)) {
      volumes.push({ type: 'tablespace', tablespace: name, mountPath: path });
    }
  } else {
    let names: string[] = [];
    let dirDev: bigint | undefined;
    try {
      dirDev = await devOf(paths.tablespacesDir);
      const entries = await readdir(paths.tablespacesDir, { withFileTypes: true });
      names = entries
        .filter((e) => e.isDirectory() && TABLESPACE_NAME.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') errors.push(errorOf('volumes.tablespaces', err, `cannot list ${paths.tablespacesDir}`));
    }
    for (const name of names) {
      const path = join(paths.tablespacesDir, name);
      try {
        if ((await devOf(path)) !== dirDev) volumes.push({ type: 'tablespace', tablespace: name, mountPath: path });
      } catch (err) {
        errors.push(errorOf(`volumes.tablespace.${name}`, err, `cannot read ${path}`));
      }
    }
  }
  return { volumes, walSeparate, errors };
}
