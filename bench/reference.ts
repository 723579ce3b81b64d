/**
 * The "before" column of the benchmarks: the CLI as it was at a reference
 * commit, built in a cache directory next to this checkout, so one benchmark
 * run measures the old and the new build side by side on the same machine,
 * fleet and load.
 *
 * The reference is BASELINE (the last commit before the speed work of
 * issue 12) unless BENCH_REFERENCE names another commit. It is extracted with
 * `git archive` into ${CNPG_DISK_CACHE:-~/.cache/cnpg-disk}/bench-reference/<sha>,
 * its node_modules links this checkout's packages (its own workspace packages
 * excepted), then `tsc -b` and `oclif manifest` build it, and, when asked,
 * its own scripts/release/build.ts builds its linux-x64 binary. Built once per
 * commit; a failed build is retried on the next run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The last commit before issue 12's changes (shared TLS agent, start-up, bytecode binary). */
export const BASELINE = '45aa3025e644df2e18552ef0fb361a30d37ebb63';

export interface Reference {
  commit: string;
  root: string;
  /** `node <root>/bin/run.js` */
  bin: string;
  /** Its linux-x64 single binary, when built. */
  binary?: string;
}

const sh = (cmd: string, args: string[], cwd: string): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });

/** node_modules of the reference: links to ours, except the workspace packages (its own). */
function linkModules(root: string): void {
  const nm = join(root, 'node_modules');
  mkdirSync(nm, { recursive: true });
  for (const name of readdirSync(join(REPO, 'node_modules'))) {
    if (name === '@cnpg-disk') continue;
    symlinkSync(join(REPO, 'node_modules', name), join(nm, name));
  }
  mkdirSync(join(nm, '@cnpg-disk'));
  for (const pkg of readdirSync(join(root, 'packages'))) {
    symlinkSync(join(root, 'packages', pkg), join(nm, '@cnpg-disk', pkg));
  }
}

export function referenceBuild(opts: { binary?: boolean; log?: (s: string) => void } = {}): Reference {
  const log = opts.log ?? (() => undefined);
  const ref = process.env['BENCH_REFERENCE'] ?? BASELINE;
  const commit = sh('git', ['rev-parse', '--verify', `${ref}^{commit}`], REPO).trim();
  const cache = process.env['CNPG_DISK_CACHE'] || join(homedir(), '.cache', 'cnpg-disk');
  const root = join(cache, 'bench-reference', commit);
  const bin = join(root, 'bin', 'run.js');
  if (!existsSync(join(root, '.built'))) {
    log(`building the reference ${commit.slice(0, 12)} in ${root} (once)`);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    execFileSync('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', REPO, commit, root]);
    linkModules(root);
    sh(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-b'], root);
    sh(process.execPath, [join(REPO, 'node_modules/oclif/bin/run.js'), 'manifest'], root);
    writeFileSync(join(root, '.built'), `${commit}\n`);
  }
  const binary = join(root, 'dist/release/build/linux-x64/kubectl-cnpg');
  if (opts.binary && !existsSync(binary) && process.platform === 'linux' && process.arch === 'x64') {
    log(`building the reference's linux-x64 binary (once)`);
    sh(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'scripts/release/build.ts'),
        '--target',
        'linux-x64',
        '--program',
        'cli',
        '--no-tsc',
      ],
      root,
    );
  }
  return { commit, root, bin, ...(existsSync(binary) ? { binary } : {}) };
}
