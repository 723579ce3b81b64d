/**
 * Real filesystems for the tests: tmpfs mounts of a known size and loop-device
 * ext4 images. Every mount is registered for cleanup, which also runs on
 * process exit and on SIGINT/SIGTERM, so a failed or interrupted run leaves no
 * mount, loop device or temp dir behind.
 */
import { execFileSync, execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cleanups: (() => void)[] = [];
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', runCleanups);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      runCleanups();
      process.exit(130);
    });
  }
}

/** Registers a synchronous cleanup (run last-in, first-out). */
export function onCleanup(fn: () => void): void {
  hook();
  cleanups.push(fn);
}

/** Runs every registered cleanup now (tests call it in afterAll). Best effort. */
export function runCleanups(): void {
  while (cleanups.length > 0) {
    const fn = cleanups.pop() as () => void;
    try {
      fn();
    } catch {
      // keep going: the rest must still be cleaned
    }
  }
}

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

export function shAsync(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/** A temp directory (mode 0755 so an unprivileged server can traverse it), removed at cleanup. */
export function tempDir(prefix = 'cnpg-probe-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function unmount(dir: string): void {
  try {
    sh('umount', [dir]);
  } catch {
    // busy (a process still has files open): detach lazily so the run can finish
    sh('umount', ['-l', dir]);
  }
}

/** Mounts a tmpfs of `size` (mount syntax: 64m, 8m...) on `dir` (created). */
export function mountTmpfs(dir: string, size: string, extra = ''): string {
  mkdirSync(dir, { recursive: true });
  sh('mount', ['-t', 'tmpfs', '-o', `size=${size}${extra ? `,${extra}` : ''}`, 'tmpfs', dir]);
  onCleanup(() => unmount(dir));
  return dir;
}

/** Whether loop devices work here (they need /dev/loop-control and privileges). */
export function loopDevicesWork(): boolean {
  try {
    sh('losetup', ['-f']);
    return true;
  } catch {
    return false;
  }
}

/** Creates an ext4 image of `sizeMiB` and mounts it on `dir` through a loop device. */
export function mountExt4(dir: string, sizeMiB: number): string {
  mkdirSync(dir, { recursive: true });
  const img = `${dir}.img`;
  sh('truncate', ['-s', `${sizeMiB}M`, img]);
  onCleanup(() => rmSync(img, { force: true }));
  sh('mkfs.ext4', ['-q', '-F', img]);
  sh('mount', ['-o', 'loop', img, dir]);
  onCleanup(() => unmount(dir));
  return dir;
}

/** `df -B1` figures for the filesystem holding `path`. */
export function df(path: string): {
  size: bigint;
  used: bigint;
  avail: bigint;
  itotal: bigint;
  iused: bigint;
  iavail: bigint;
  pcent: number;
} {
  const out = sh('df', ['-B1', '--output=size,used,avail,itotal,iused,iavail,pcent', path]).trim().split('\n');
  const f = (out[1] as string).trim().split(/\s+/);
  const n = (i: number) => BigInt(f[i] as string);
  return {
    size: n(0),
    used: n(1),
    avail: n(2),
    itotal: n(3),
    iused: n(4),
    iavail: n(5),
    pcent: Number((f[6] as string).replace('%', '')),
  };
}

/** `stat -f` figures: fragment size, block size, blocks, free, available, inodes, free inodes. */
export function statF(path: string): {
  frsize: bigint;
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
} {
  const f = sh('stat', ['-f', '-c', '%S %s %b %f %a %c %d', path])
    .trim()
    .split(' ')
    .map((x) => BigInt(x));
  const [frsize, bsize, blocks, bfree, bavail, files, ffree] = f as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  return { frsize, bsize, blocks, bfree, bavail, files, ffree };
}

/** Fills the filesystem at `dir` with one file until the kernel says ENOSPC; returns the file. */
export function fillUntilEnospc(dir: string, name = 'filler'): string {
  const file = join(dir, name);
  try {
    sh('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'status=none']);
    throw new Error(`dd filled ${dir} without ENOSPC`);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '');
    if (!/No space left on device/.test(stderr)) throw err;
  }
  return file;
}
