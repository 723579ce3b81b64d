/**
 * Builds the single-file binaries.
 *
 *   tsx scripts/release/build.ts [--target linux-x64,darwin-arm64,...] [--program cli|probe|all] [--out DIR] [--no-tsc]
 *
 * Layout: <out>/bundle/{kubectl-cnpg,cnpg-disk-probe}.js and
 * <out>/<target>/{kubectl-cnpg,cnpg-disk-probe}[.exe]. Default out: dist/release/build.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { REPO, bundleCli, bundleProbe } from './bundle.js';
import { compile } from './compile.js';
import { run } from './proc.js';
import { hostBun } from './runtimes.js';
import { CLI_BIN, PROBE_BIN, PROBE_TARGET_IDS, TARGETS, target } from './targets.js';
import type { Target } from './targets.js';

export type Program = 'cli' | 'probe';

export interface BuildOptions {
  targets: readonly Target[];
  programs: readonly Program[];
  out: string;
  /** Run `tsc -b src packages/probe` first (default true): the bundles are made from the compiled dist/ files. */
  tsc?: boolean;
}

export interface Built {
  program: Program;
  target: Target;
  file: string;
  bytes: number;
}

export interface BuildResult {
  bundles: Partial<Record<Program, string>>;
  binaries: Built[];
}

export function version(): string {
  return (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
}

export function binaryPath(out: string, program: Program, t: Target): string {
  return join(out, t.id, (program === 'cli' ? CLI_BIN : PROBE_BIN) + t.exeSuffix);
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
  if (opts.tsc !== false) {
    // Only what is bundled (the CLI with core, the probe): the test projects are not needed here.
    await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-b', 'src', 'packages/probe'], {
      cwd: REPO,
    });
  }
  const bun = await hostBun();
  const result: BuildResult = { bundles: {}, binaries: [] };
  for (const program of opts.programs) {
    const bundle = join(opts.out, 'bundle', `${program === 'cli' ? CLI_BIN : PROBE_BIN}.js`);
    result.bundles[program] =
      program === 'cli'
        ? await bundleCli({ bun, outFile: bundle, minify: true })
        : await bundleProbe({ bun, outFile: bundle, minify: true });
    const targets = program === 'probe' ? opts.targets.filter((t) => PROBE_TARGET_IDS.includes(t.id)) : opts.targets;
    for (const t of targets) {
      const file = await compile({
        bundle,
        target: t,
        outFile: binaryPath(opts.out, program, t),
      });
      result.binaries.push({ program, target: t, file, bytes: statSync(file).size });
    }
  }
  return result;
}

export function defaultOut(): string {
  return join(REPO, 'dist/release/build');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', multiple: true },
      program: { type: 'string', default: 'all' },
      out: { type: 'string' },
      'no-tsc': { type: 'boolean', default: false },
    },
  });
  const targets = values.target?.flatMap((s) => s.split(',')).map(target) ?? TARGETS;
  const programs: Program[] =
    values.program === 'all'
      ? ['cli', 'probe']
      : values.program === 'cli' || values.program === 'probe'
        ? [values.program]
        : [];
  if (programs.length === 0) throw new Error(`--program must be cli, probe or all, not '${values.program}'`);
  if (programs.includes('probe') && !existsSync(join(REPO, 'packages/probe/package.json'))) {
    throw new Error('packages/probe is missing');
  }
  const out = values.out ? resolve(values.out) : defaultOut();
  const res = await build({ targets, programs, out, tsc: !values['no-tsc'] });
  for (const b of res.binaries) console.log(`${b.file}\t${(b.bytes / 2 ** 20).toFixed(1)} MiB`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  main().catch((e: unknown) => {
    console.error(`build: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
