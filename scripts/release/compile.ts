/**
 * `bun build --compile`: a bundle + the Bun runtime of a target → one executable.
 * Cross-compiling needs nothing but that target's runtime (runtimes.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

import { run } from './proc.js';
import { REPO } from './bundle.js';
import { adhocSign } from './macho-sign.js';
import { hostBun, runtimeFor } from './runtimes.js';
import type { Target } from './targets.js';

export interface CompileOptions {
  bundle: string;
  target: Target;
  outFile: string;
}

export async function compile(opts: CompileOptions): Promise<string> {
  const [bun, runtime] = await Promise.all([hostBun(), runtimeFor(opts.target)]);
  mkdirSync(dirname(opts.outFile), { recursive: true });
  const args = [
    'build',
    opts.bundle,
    '--compile',
    // Bytecode compiled at build time: start-up skips parsing the ~3.4 MB
    // bundle (`--help` about 190 → 50 ms of CPU here). ESM kept as bundled
    // (--bytecode defaults to CommonJS).
    '--bytecode',
    '--format=esm',
    // The bundle's chunks (bundle.ts) stay chunks: loaded when imported.
    '--splitting',
    `--target=${opts.target.bunTarget}`,
    `--compile-executable-path=${runtime}`,
    // A kubectl plugin must not pick up .env or bunfig.toml from whatever
    // directory it is run in (a .env could set KUBECONFIG behind the user's back).
    '--no-compile-autoload-dotenv',
    '--no-compile-autoload-bunfig',
    `--outfile=${opts.outFile}`,
  ];
  // No --windows-title/--windows-version: Bun edits those resources only when it runs on Windows.
  await run(bun, args, { cwd: REPO });
  if (opts.target.os === 'darwin') {
    // Bun 1.4.5 leaves darwin-x64 output with the runtime's stale signature: sign every darwin binary ourselves.
    writeFileSync(opts.outFile, adhocSign(readFileSync(opts.outFile), basename(opts.outFile)));
  }
  return opts.outFile;
}
