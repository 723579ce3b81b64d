/**
 * Start-up benchmark: what a new `kubectl-cnpg` process costs for what users
 * run most — the help screens, a typo, the line a shell runs at every start
 * for tab completion (`autocomplete script bash`), and one real command that
 * needs no cluster (`disk status --from-bundle`). For each it prints the
 * median and minimum wall time, the median CPU time (user + system: the
 * steadier figure on a loaded machine) and the median peak RSS, over N runs
 * (round robin, so load changes hit every command alike), and the machine's
 * load before and after.
 *
 *   npm run bench:startup        (npm run build && node --import tsx bench/startup.bench.ts)
 *   STARTUP_RUNS=20 npm run bench:startup
 *   node --import tsx bench/startup.bench.ts --variant node,no-manifest   (a subset)
 *   node --import tsx bench/startup.bench.ts --variant binary --binary PATH (another build of the binary)
 *   BENCH_REFERENCE=none npm run bench:startup   (without the old builds)
 *
 * Variants:
 *   node          `node bin/run.js` as `npm ci && npm run build` leaves it (oclif.manifest.json present)
 *   no-manifest   the same without the manifest: what `tsc -b` alone gives (CI, or a stale manifest)
 *   binary        the linux-x64 single-file binary, if `npm run release` (or build.ts) has built it
 *   old-node      `node bin/run.js` of the reference commit (bench/reference.ts), with its manifest
 *   old-binary    the reference's linux-x64 binary (built once, cached)
 *
 * Yardsticks, run with the `--help` case only: `go` below; `node-floor`,
 * `node -e 0` — Node starting and running no code; and `oclif-floor`, the
 * smallest oclif CLI there is (one command that prints a line, its manifest
 * generated, no plugins, started the way bin/run.js starts ours), written to
 * a temporary directory at bench time against this checkout's @oclif/core:
 * the least any `node bin/run.js --help` can cost while the CLI is an oclif
 * CLI run by node from its files. `oclif-floor-bundled` is that CLI's
 * bin/run.js bundled into one minified ES module with esbuild (when
 * node_modules/.bin/esbuild is there: it comes with tsx and vite), the least
 * a node entry could cost if it shipped a bundle.
 *
 * The reference program is CloudNativePG's official `kubectl-cnpg` plugin (Go),
 * built from its Go module by scripts/release/tools.sh (cached), run with
 * `--help`; every variant's `--help` and `disk status --from-bundle` are
 * printed as a ratio to it.
 *
 * Each Node variant runs from a private copy of bin/, dist/ and package.json
 * (node_modules linked), its manifest generated there by `oclif manifest`:
 * another engineer rebuilding the tree meanwhile changes nothing. Needs GNU
 * time (/usr/bin/time, Debian package `time`) for CPU time and peak RSS.
 *
 * It asserts nothing about time. It exits 1 only when the figures would be
 * meaningless: a command's exit code differs from what it is documented to
 * be, or the variants print different things.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { referenceBuild } from './reference.js';
import { load, median } from './stats.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GNU_TIME = '/usr/bin/time';
const RUNS = Number(process.env['STARTUP_RUNS'] ?? 10);

interface Case {
  name: string;
  args: string[];
  /** The documented exit code: anything else means the run measured an error path. */
  exit: number;
}

const CASES: Case[] = [
  { name: '--help', args: ['--help'], exit: 0 },
  { name: '--version', args: ['--version'], exit: 0 },
  { name: 'disk --help', args: ['disk', '--help'], exit: 0 },
  { name: 'disk status --help', args: ['disk', 'status', '--help'], exit: 0 },
  { name: 'unknown command (nosuch)', args: ['nosuch'], exit: 127 },
  { name: 'autocomplete script bash', args: ['autocomplete', 'script', 'bash'], exit: 0 },
  {
    name: 'disk status --from-bundle healthy',
    args: ['disk', 'status', '--from-bundle', join(REPO, 'examples/healthy.tar.gz')],
    exit: 0,
  },
  {
    name: 'disk status --from-bundle wal-failing',
    args: ['disk', 'status', '--from-bundle', join(REPO, 'examples/wal-archive-failing.tar.gz')],
    exit: 2, // the sample's WAL volume is critical, by design
  },
];

type VariantName =
  | 'node'
  | 'no-manifest'
  | 'binary'
  | 'old-node'
  | 'old-binary'
  | 'go'
  | 'node-floor'
  | 'oclif-floor'
  | 'oclif-floor-bundled';

interface Variant {
  name: VariantName;
  /** argv[0] and the arguments before the command's own. */
  command: string[];
  note: string;
  /** A yardstick that runs as it is (`node -e 0`): the case's arguments are not appended. */
  ownArgs?: boolean;
}

interface Sample {
  wallMs: number;
  cpuMs: number;
  rssKiB: number;
  code: number;
  stdout: string;
}

/** A copy of what `node bin/run.js` reads, with or without a freshly generated manifest. */
function nodeTree(root: string, withManifest: boolean): string {
  mkdirSync(root, { recursive: true });
  cpSync(join(REPO, 'bin'), join(root, 'bin'), { recursive: true });
  cpSync(join(REPO, 'dist'), join(root, 'dist'), {
    recursive: true,
    filter: (src) => !src.startsWith(join(REPO, 'dist/release')),
  });
  cpSync(join(REPO, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  if (withManifest) writeManifest(root);
  return join(root, 'bin/run.js');
}

/** `oclif manifest` in a CLI's tree: it writes ./oclif.manifest.json there (no update check). */
function writeManifest(root: string): void {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/oclif/bin/run.js'), 'manifest'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true' },
  });
  if (r.status !== 0) throw new Error(`oclif manifest failed in ${root}: ${r.stderr}`);
}

/**
 * The `oclif-floor` yardstick: a one-command oclif CLI, started as bin/run.js
 * starts ours (oclif's execute subpath, no user or linked plugins), with its
 * manifest. Returns the path of its bin/run.js.
 */
function oclifFloorTree(root: string): string {
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'commands'));
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({
      name: 'oclif-floor',
      version: '0.0.0',
      type: 'module',
      private: true,
      files: ['bin', 'commands'],
      oclif: { bin: 'oclif-floor', dirname: 'oclif-floor', commands: './commands' },
    }),
  );
  writeFileSync(
    join(root, 'commands/hello.js'),
    [
      "import { Command } from '@oclif/core/command';",
      'export default class Hello extends Command {',
      "  static description = 'Print one line.';",
      "  async run() { this.log('hello'); }",
      '}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'bin/run.js'),
    [
      "import { dirname } from 'node:path';",
      "import { fileURLToPath } from 'node:url';",
      "import { execute } from '@oclif/core/execute';",
      'const root = dirname(dirname(fileURLToPath(import.meta.url)));',
      'await execute({ loadOptions: { root, userPlugins: false, devPlugins: false } });',
      '',
    ].join('\n'),
  );
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  writeManifest(root);
  return join(root, 'bin/run.js');
}

/**
 * The same floor CLI's bin/run.js bundled (oclif and all it imports) into
 * bin/bundled.js, one minified ES module, by the esbuild that tsx and vite
 * bring. Returns its path, or why it could not be built.
 */
function bundleOclifFloor(runJs: string): string | { why: string } {
  const esbuild = join(REPO, 'node_modules/.bin/esbuild');
  if (!existsSync(esbuild)) return { why: `${esbuild} is missing` };
  const out = join(dirname(runJs), 'bundled.js');
  const r = spawnSync(
    esbuild,
    [
      runJs,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--minify',
      `--outfile=${out}`,
      // oclif requires TypeScript only to run a CLI's .ts sources in development (never for this
      // CLI): bundled, its 9 MB would be parsed at every start.
      '--external:typescript',
      // oclif is CommonJS: its require() calls of Node's modules need a real require in an ES module.
      "--banner:js=import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? out : { why: r.stderr.trim().split('\n').pop() ?? `exit ${r.status}` };
}

function once(variant: Variant, c: Case, env: NodeJS.ProcessEnv, tmp: string): Promise<Sample> {
  const out = join(tmp, 'time.txt');
  const [exe, ...pre] = variant.command as [string, ...string[]];
  const t0 = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(GNU_TIME, ['-f', '%U %S %M', '-o', out, exe, ...pre, ...(variant.ownArgs ? [] : c.args)], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.resume();
    child.on('error', fail);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const [user, sys, rss] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      done({
        wallMs,
        cpuMs: ((user ?? NaN) + (sys ?? NaN)) * 1000,
        rssKiB: rss ?? NaN,
        code: code ?? -1,
        stdout: Buffer.concat(chunks).toString('utf8'),
      });
    });
  });
}

/** The version line names the runtime ("(node v20…, linux-x64)" or "(bun 1.…, linux-x64)"): compare without it. */
const comparable = (s: string): string => s.replace(/ \((?:node|bun) [^)]*\)/g, '');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { variant: { type: 'string' }, binary: { type: 'string' } } });
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} is missing (apt-get install time)`);
  if (!existsSync(join(REPO, 'dist/commands/index.js'))) throw new Error('dist/ is missing: npm run build first');
  const wanted = new Set(
    (
      values.variant ?? 'node,no-manifest,binary,old-node,old-binary,go,node-floor,oclif-floor,oclif-floor-bundled'
    ).split(',') as VariantName[],
  );

  const tmp = mkdtempSync(join(os.tmpdir(), 'cnpg-startup-'));
  try {
    const home = join(tmp, 'home');
    mkdirSync(home);
    // No kubeconfig, no colour, no CI spinner switch: the same environment for every run.
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
    const variants: Variant[] = [];
    if (wanted.has('node')) {
      variants.push({
        name: 'node',
        command: [process.execPath, nodeTree(join(tmp, 'with'), true)],
        note: 'node bin/run.js, oclif.manifest.json present (npm run build)',
      });
    }
    if (wanted.has('no-manifest')) {
      variants.push({
        name: 'no-manifest',
        command: [process.execPath, nodeTree(join(tmp, 'without'), false)],
        note: 'node bin/run.js without oclif.manifest.json (tsc -b only)',
      });
    }
    const binary = values.binary ? resolve(values.binary) : join(REPO, 'dist/release/build/linux-x64/kubectl-cnpg');
    if (wanted.has('binary') && process.platform === 'linux' && process.arch === 'x64') {
      if (existsSync(binary)) variants.push({ name: 'binary', command: [binary], note: binary });
      else console.log(`(no ${binary}: npm run release builds it; binary variant skipped)`);
    }
    if (process.env['BENCH_REFERENCE'] !== 'none' && (wanted.has('old-node') || wanted.has('old-binary'))) {
      const ref = referenceBuild({ binary: wanted.has('old-binary'), log: (l) => console.log(l) });
      if (wanted.has('old-node')) {
        variants.push({
          name: 'old-node',
          command: [process.execPath, ref.bin],
          note: `node bin/run.js at ${ref.commit.slice(0, 12)} (reference), with its manifest`,
        });
      }
      if (wanted.has('old-binary') && ref.binary) {
        variants.push({ name: 'old-binary', command: [ref.binary], note: `binary at ${ref.commit.slice(0, 12)}` });
      }
    }
    if (variants.length === 0) throw new Error('no variant to run');
    // The reference: the official plugin's --help (only that case).
    let go: Variant | undefined;
    if (wanted.has('go')) {
      const r = spawnSync('bash', [join(REPO, 'scripts/release/tools.sh'), 'kubectl-cnpg'], { encoding: 'utf8' });
      const path = /^kubectl-cnpg (\S+)$/m.exec(r.stdout)?.[1];
      if (r.status === 0 && path) go = { name: 'go', command: [path], note: `${path} (CloudNativePG's plugin, Go)` };
      else console.log(`(official plugin not built: ${r.stderr.trim().split('\n').pop() ?? ''}; no reference row)`);
    }

    // Node's own start, nothing loaded: the floor under every `node bin/run.js` figure.
    const floor: Variant | undefined = wanted.has('node-floor')
      ? {
          name: 'node-floor',
          command: [process.execPath, '-e', '0'],
          note: 'node -e 0 (Node starting, no code)',
          ownArgs: true,
        }
      : undefined;
    // The smallest oclif CLI, run by node from its files (and bundled): the floors under `node bin/run.js --help`.
    const oclifFloors: Variant[] = [];
    if (wanted.has('oclif-floor') || wanted.has('oclif-floor-bundled')) {
      const runJs = oclifFloorTree(join(tmp, 'oclif-floor'));
      if (wanted.has('oclif-floor')) {
        oclifFloors.push({
          name: 'oclif-floor',
          command: [process.execPath, runJs],
          note: 'a one-command oclif CLI with its manifest, no plugins (node bin/run.js of it)',
        });
      }
      if (wanted.has('oclif-floor-bundled')) {
        const bundled = bundleOclifFloor(runJs);
        if (typeof bundled === 'string') {
          oclifFloors.push({
            name: 'oclif-floor-bundled',
            command: [process.execPath, bundled],
            note: 'the same CLI, its bin/run.js and oclif bundled into one minified ES module (esbuild)',
          });
        } else console.log(`(oclif-floor-bundled not built: ${bundled.why})`);
      }
    }
    const yardsticks = [...(go ? [go] : []), ...(floor ? [floor] : []), ...oclifFloors];

    console.log(
      `start-up benchmark: ${RUNS} runs per command and variant (after 1 warm-up), ` +
        `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}`,
    );
    console.log(`load average before: ${load()}`);
    for (const v of [...variants, ...yardsticks]) console.log(`  ${v.name.padEnd(19)} ${v.note}`);

    const samples = new Map<string, Sample[]>();
    const key = (v: Variant, c: Case) => `${v.name}\0${c.name}`;
    for (let run = -1; run < RUNS; run++) {
      for (const c of CASES) {
        for (const v of [...variants, ...(c.name === '--help' ? yardsticks : [])]) {
          const s = await once(v, c, env, tmp);
          if (run >= 0) samples.set(key(v, c), [...(samples.get(key(v, c)) ?? []), s]);
        }
      }
    }
    console.log(`load average after:  ${load()}\n`);

    const problems: string[] = [];
    const notes: string[] = [];
    const head =
      `${'command'.padEnd(36)} ${'variant'.padEnd(19)} ${'wall med'.padStart(9)} ${'wall min'.padStart(9)} ` +
      `${'CPU med'.padStart(9)} ${'CPU min'.padStart(9)} ${'RSS med'.padStart(9)}`;
    console.log(head);
    console.log('-'.repeat(head.length));
    for (const c of CASES) {
      const reference = samples.get(key(variants[0]!, c))![0]!;
      for (const v of [...variants, ...(c.name === '--help' ? yardsticks : [])]) {
        const ss = samples.get(key(v, c))!;
        const ms = (x: number) => `${Math.round(x)} ms`.padStart(9);
        console.log(
          `${c.name.padEnd(36)} ${v.name.padEnd(19)} ${ms(median(ss.map((s) => s.wallMs)))} ` +
            `${ms(Math.min(...ss.map((s) => s.wallMs)))} ${ms(median(ss.map((s) => s.cpuMs)))} ` +
            `${ms(Math.min(...ss.map((s) => s.cpuMs)))} ` +
            `${`${(median(ss.map((s) => s.rssKiB)) / 1024).toFixed(0)} MiB`.padStart(9)}`,
        );
        for (const s of ss) {
          if (v.name === 'go' || v.name === 'node-floor') continue; // another program: its own output
          if (v.name === 'oclif-floor' || v.name === 'oclif-floor-bundled') {
            if (s.code !== 0 || !/^ {2}hello +Print one line\.$/m.test(s.stdout))
              problems.push(`${v.name} --help: exit ${s.code}, expected 0 and its help`);
            continue;
          }
          if (s.code !== c.exit) problems.push(`${v.name} ${c.name}: exit ${s.code}, expected ${c.exit}`);
          else if (comparable(s.stdout) !== comparable(reference.stdout)) {
            // A binary built from older sources, or the reference commit, may differ; node and no-manifest run the same dist/.
            (['node', 'no-manifest'].includes(v.name) ? problems : notes).push(
              `${v.name} ${c.name}: output differs from ${variants[0]!.name}`,
            );
          }
        }
      }
    }
    // Ratios: to the official plugin's --help (the goal: binary ≤ 2×, node ≤ 3×), and new / old.
    const med = (v: VariantName, c: string, f: (s: Sample) => number): number | undefined => {
      const ss = samples.get(`${v}\0${c}`);
      return ss ? median(ss.map(f)) : undefined;
    };
    const ratio = (a: number | undefined, b: number | undefined): string =>
      a === undefined || b === undefined || !(b > 0) ? '   n/a' : `${(a / b).toFixed(1)}×`.padStart(6);
    const wall = (s: Sample) => s.wallMs;
    const cpu = (s: Sample) => s.cpuMs;
    console.log(`\nratios of medians (wall / CPU)`);
    for (const c of [
      '--help',
      '--version',
      'disk status --from-bundle healthy',
      'disk status --from-bundle wal-failing',
    ]) {
      for (const v of ['binary', 'node', 'old-binary', 'old-node'] as VariantName[]) {
        if (!samples.has(`${v}\0${c}`)) continue;
        console.log(
          `  ${`${v} ${c}`.padEnd(52)} / go --help: ${ratio(med(v, c, wall), med('go', '--help', wall))} ${ratio(med(v, c, cpu), med('go', '--help', cpu))}` +
            (v === 'binary' || v === 'node'
              ? `   new / old: ${ratio(med(v, c, wall), med(`old-${v}` as VariantName, c, wall))} ${ratio(med(v, c, cpu), med(`old-${v}` as VariantName, c, cpu))}`
              : ''),
        );
      }
    }
    if (samples.has('node-floor\0--help')) {
      console.log(
        `  ${'node -e 0 (Node itself, no code)'.padEnd(52)} / go --help: ${ratio(med('node-floor', '--help', wall), med('go', '--help', wall))} ${ratio(med('node-floor', '--help', cpu), med('go', '--help', cpu))}`,
      );
    }
    for (const [v, what] of [
      ['oclif-floor', 'a one-command oclif CLI on node'],
      ['oclif-floor-bundled', 'the same, bundled'],
    ] as const) {
      if (!samples.has(`${v}\0--help`)) continue;
      console.log(
        `  ${`${v} --help (${what})`.padEnd(52)} / go --help: ${ratio(med(v, '--help', wall), med('go', '--help', wall))} ${ratio(med(v, '--help', cpu), med('go', '--help', cpu))}` +
          `   node / it: ${ratio(med('node', '--help', wall), med(v, '--help', wall))} ${ratio(med('node', '--help', cpu), med(v, '--help', cpu))}`,
      );
    }
    console.log("  goals: binary --help and --from-bundle ≤ 2× the Go plugin's --help, node ≤ 3×");
    if (notes.length > 0)
      console.log(`\nnote (an older build prints differently):\n  ${[...new Set(notes)].join('\n  ')}`);
    if (problems.length > 0) {
      console.error(`\nfigures not meaningful:\n  ${[...new Set(problems)].join('\n  ')}`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`startup bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
