/**
 * The Bun executables: one per target, from npm packages, fetched with the
 * ordinary npm client (`npm pack`) and checked against the integrity pinned in
 * targets.ts. Kept in ${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}/bun/<version>/.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { run } from './proc.js';
import { BUN_VERSION, hostTarget } from './targets.js';
import type { Target } from './targets.js';

export function cacheDir(): string {
  return process.env.CNPG_DISK_CACHE || join(homedir(), '.cache', 'cnpg-disk');
}

/** sha512 integrity string (as npm writes it) of a file. */
export function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** Path of the Bun executable for a target, fetching it once. Safe to call from parallel processes. */
export async function runtimeFor(t: Target): Promise<string> {
  const dir = join(cacheDir(), 'bun', BUN_VERSION, t.runtime.pkg.replace('/', '+'));
  const exe = join(dir, t.runtime.exe);
  if (existsSync(join(dir, '.complete'))) return exe;

  mkdirSync(join(cacheDir(), 'bun', BUN_VERSION), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp-`);
  try {
    const spec = `${t.runtime.pkg}@${BUN_VERSION}`;
    const packed = await run('npm', ['pack', spec, '--json', '--pack-destination', tmp], { cwd: tmp });
    const info = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    const tgz = join(tmp, (info[0] as { filename: string }).filename.replace(/^@/, '').replace('/', '-'));
    const found = integrityOf(tgz);
    if (found !== t.runtime.integrity) {
      throw new Error(`${spec}: integrity ${found} is not the pinned ${t.runtime.integrity}`);
    }
    await run('tar', ['-xzf', tgz, '-C', tmp, t.runtime.exe]);
    rmSync(tgz);
    chmodSync(join(tmp, t.runtime.exe), 0o755);
    writeFileSync(join(tmp, '.complete'), `${spec} ${found}\n`);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process finished first: use its copy.
      if (!existsSync(join(dir, '.complete'))) throw e;
    }
    return exe;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The Bun that runs here: it bundles, and compiles for every target. */
export async function hostBun(): Promise<string> {
  return runtimeFor(hostTarget());
}
