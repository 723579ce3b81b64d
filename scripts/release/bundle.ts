/**
 * Bundling: the JavaScript of each program, the input of every
 * `bun build --compile` (compile.ts): for the probe one file, for the CLI an
 * entry file plus the chunks of its dynamic imports (code splitting).
 *
 * The CLI's entry is generated: it imports, statically, the package.json data
 * and every module oclif would otherwise load by path (commands index, hooks,
 * help class) of the CLI and of each oclif plugin it declares, and hands them
 * to boot.ts. The probe needs nothing of the sort: its `bin` is bundled as is.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { run } from './proc.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

type Json = Record<string, unknown>;

interface OclifSection {
  commands?: string | { strategy?: string; target?: string; identifier?: string };
  hooks?: Record<string, HookSpec | HookSpec[]>;
  helpClass?: string;
  plugins?: string[];
  [key: string]: unknown;
}
type HookSpec = string | { target: string; identifier?: string };

export class BundleError extends Error {}

function readJson(file: string): Json {
  return JSON.parse(readFileSync(file, 'utf8')) as Json;
}

/** A module path as written in package.json (maybe without extension, maybe a directory) → the file. */
function resolveModuleFile(root: string, rel: string): string {
  const base = resolve(root, rel);
  const candidates = [base, `${base}.js`, `${base}.mjs`, `${base}.cjs`, join(base, 'index.js')];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!found) throw new BundleError(`${rel} (from ${join(root, 'package.json')}) does not exist: build first`);
  return found;
}

/** Command ids of a `commands: "./lib/commands"` directory, as oclif's pattern strategy names them. */
function scanCommands(dir: string): Array<{ id: string; file: string }> {
  const out: Array<{ id: string; file: string }> = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(m|c)?js$/.test(name) && !/\.(test|spec)\.(m|c)?js$/.test(name)) {
        const parts = relative(dir, full).split(sep);
        const last = (parts.pop() as string).replace(/\.(m|c)?js$/, '');
        const id = [...parts, last === 'index' ? '' : last].filter(Boolean).join(':');
        out.push({ id, file: full });
      }
    }
  };
  walk(dir);
  return out;
}

/** package.json fields oclif reads; dependencies, scripts and the like stay out of the binary. */
const PJSON_FIELDS = ['name', 'version', 'description', 'type', 'license', 'homepage', 'repository', 'bugs', 'oclif'];

interface PluginPlan {
  pjson: Json;
  /** relative module path (as oclif will join it onto the root) → absolute file or generated code */
  modules: Array<{ rel: string; file?: string; commands?: Array<{ id: string; file: string }> }>;
}

const COMMANDS_MODULE = './__bundled_commands__.js';

function planPlugin(root: string, isCli: boolean): PluginPlan {
  const full = readJson(join(root, 'package.json'));
  const oclif = { ...((full.oclif as OclifSection | undefined) ?? {}) };
  const pjson: Json = Object.fromEntries(PJSON_FIELDS.filter((k) => k in full).map((k) => [k, full[k]]));
  const modules: PluginPlan['modules'] = [];
  const commands = oclif.commands;
  if (typeof commands === 'string') {
    // pattern strategy: list the directory now, serve the list as an explicit index.
    const dir = resolve(root, commands);
    modules.push({ rel: COMMANDS_MODULE, commands: existsSync(dir) ? scanCommands(dir) : [] });
    oclif.commands = { strategy: 'explicit', target: COMMANDS_MODULE, identifier: 'COMMANDS' };
  } else if (commands && commands.strategy === 'explicit' && commands.target) {
    modules.push({ rel: commands.target, file: resolveModuleFile(root, commands.target) });
  } else if (commands) {
    throw new BundleError(
      `${join(root, 'package.json')}: oclif.commands must be a directory or use the "explicit" strategy to be bundled (found ${JSON.stringify(commands)})`,
    );
  } else if (isCli) {
    throw new BundleError(`${join(root, 'package.json')} declares no oclif.commands`);
  }
  for (const specs of Object.values(oclif.hooks ?? {})) {
    for (const spec of Array.isArray(specs) ? specs : [specs]) {
      const target = typeof spec === 'string' ? spec : spec.target;
      modules.push({ rel: target, file: resolveModuleFile(root, target) });
    }
  }
  if (oclif.helpClass) modules.push({ rel: oclif.helpClass, file: resolveModuleFile(root, oclif.helpClass) });
  pjson.oclif = oclif;
  return { pjson, modules };
}

/** The root of an installed package, found from the CLI's root like Node would. */
function packageRoot(fromRoot: string, name: string): string {
  const req = createRequire(join(fromRoot, 'package.json'));
  let dir: string;
  try {
    dir = dirname(req.resolve(name));
  } catch {
    throw new BundleError(`oclif plugin ${name} is not installed (npm ci)`);
  }
  // Walk up to the package.json that names it (exports may hide package.json itself).
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && readJson(pj).name === name) return dir;
    const up = dirname(dir);
    if (up === dir) throw new BundleError(`cannot find the package.json of ${name}`);
    dir = up;
  }
}

/**
 * The CLI's own argument rewriting for the names kubectl runs it under
 * (`argvForInvocation(argv, binaryPath)`, see docs/distribution.md): the
 * binary calls it exactly like bin/run.js does.
 */
export const INVOCATION_MODULE = 'dist/cli/invocation.js';

/** Source of the generated entry of the CLI binary. */
export function cliEntrySource(cliRoot: string = REPO): string {
  const cli = planPlugin(cliRoot, true);
  const names = ((cli.pjson.oclif as OclifSection).plugins ?? []).filter((n) => !n.includes('*'));
  const plans = [cli, ...names.map((n) => planPlugin(packageRoot(cliRoot, n), false))];
  const lines: string[] = [
    '// Generated by scripts/release/bundle.ts: the entry of the single-file kubectl-cnpg binary.',
    `import { boot, invokedName } from ${JSON.stringify(join(REPO, 'scripts/release/boot.ts'))};`,
    `import { argvForInvocation } from ${JSON.stringify(resolveModuleFile(cliRoot, INVOCATION_MODULE))};`,
  ];
  let n = 0;
  const pluginExprs = plans.map((plan) => {
    const entries = plan.modules.map((m) => {
      if (m.file) {
        const v = `m${n++}`;
        lines.push(`import * as ${v} from ${JSON.stringify(m.file)};`);
        return `${JSON.stringify(m.rel)}: ${v}`;
      }
      const cmds = (m.commands ?? []).map((c) => {
        const v = `m${n++}`;
        lines.push(`import * as ${v} from ${JSON.stringify(c.file)};`);
        // oclif's pattern strategy takes the default export, else the first Command-like export.
        return `${JSON.stringify(c.id)}: ${v}.default ?? Object.values(${v}).find((x) => typeof x === 'function' && 'run' in x)`;
      });
      return `${JSON.stringify(m.rel)}: { COMMANDS: { ${cmds.join(', ')} } }`;
    });
    return `{ pjson: ${JSON.stringify(plan.pjson)}, modules: { ${entries.join(', ')} } }`;
  });
  lines.push('const name = invokedName(process.argv0);');
  lines.push(
    `await boot([${pluginExprs.join(', ')}], argvForInvocation([process.argv0, name, ...process.argv.slice(2)], name));`,
  );
  return lines.join('\n') + '\n';
}

export interface BundleOptions {
  /** Bun executable that runs on this machine (runtimes.ts). */
  bun: string;
  outFile: string;
  minify?: boolean;
}

/** Bundles the CLI for Bun: an ES module entry plus its chunks. Returns the entry's path. */
export async function bundleCli(opts: BundleOptions, cliRoot: string = REPO): Promise<string> {
  const work = join(dirname(opts.outFile), '.entry');
  mkdirSync(work, { recursive: true });
  // Named like the output file: with code splitting, Bun names the entry's
  // output after the entry's own name.
  const entry = join(work, basename(opts.outFile).replace(/\.js$/, '.ts'));
  writeFileSync(entry, cliEntrySource(cliRoot));
  // oclif requires `typescript` only to read a tsconfig.json for ts-node, which
  // boot.ts switches off: leaving it out saves ~9 MB of bundle and parse time.
  await bunBuild(opts, entry, ['typescript'], {
    split: true,
    // @oclif/core's main index checks, on load, that Node satisfies oclif's
    // own engines range with semver. The binary's runtime is Bun, whose
    // Node compatibility version always does; the check only cost every
    // start the semver module (~3 ms). Compiled out here, nowhere else.
    define: { 'process.env.OCLIF_DISABLE_ENGINE_WARNING': '"1"' },
  });
  const inputs = bundleInputs(opts.outFile);
  const leaked = probeInputs(inputs);
  if (leaked.length > 0) {
    throw new BundleError(`the CLI bundle contains the probe or its SQL driver: ${leaked.slice(0, 5).join(', ')}`);
  }
  const grpc = pluginInputs(inputs);
  if (grpc.length > 0) {
    throw new BundleError(`the CLI bundle contains the CNPG-I plugin or gRPC: ${grpc.slice(0, 5).join(', ')}`);
  }
  return opts.outFile;
}

/** Source files that went into a bundle (from its metafile), relative to the repository. */
export function bundleInputs(bundle: string): string[] {
  const meta = JSON.parse(readFileSync(metafileOf(bundle), 'utf8')) as { inputs?: Record<string, unknown> };
  return Object.keys(meta.inputs ?? {});
}

/**
 * Inputs that belong to the probe: its package, or the PostgreSQL driver it
 * uses (pg and its helper packages). The CLI talks to PostgreSQL only through
 * `kubectl exec … psql` and must hold none of these.
 */
export function probeInputs(inputs: readonly string[]): string[] {
  const probe = /(^|\/)packages\/probe\/|(^|\/)node_modules\/@cnpg-disk\/probe\//;
  const driver = /(^|\/)node_modules\/(pg|pg-[a-z-]+|pgpass|postgres-[a-z-]+)\//;
  return inputs.filter((i) => probe.test(i) || driver.test(i));
}

/**
 * Inputs that belong to the CNPG-I plugin: its package, gRPC and the protobuf
 * runtime it loads the protocol with. The CLI reads the plugin's sidecar over
 * HTTP (the pod proxy) and must hold none of these.
 */
export function pluginInputs(inputs: readonly string[]): string[] {
  const plugin = /(^|\/)packages\/plugin\/|(^|\/)node_modules\/@cnpg-disk\/plugin\//;
  const grpc = /(^|\/)node_modules\/(@grpc\/|protobufjs\/|@protobufjs\/)/;
  return inputs.filter((i) => plugin.test(i) || grpc.test(i));
}

/** The probe's command, from packages/probe/package.json "bin". */
export function probeEntry(root: string = join(REPO, 'packages/probe')): string {
  const pj = readJson(join(root, 'package.json'));
  const bin = pj.bin;
  const rel = typeof bin === 'string' ? bin : (bin as Record<string, string> | undefined)?.['cnpg-disk-probe'];
  if (!rel) throw new BundleError(`${join(root, 'package.json')} has no "bin" for cnpg-disk-probe`);
  return resolveModuleFile(root, rel);
}

export async function bundleProbe(opts: BundleOptions, root?: string): Promise<string> {
  // pg loads its optional native binding (pg-native) only when asked for `pg.native`: not bundled.
  await bunBuild(opts, probeEntry(root), ['pg-native']);
  return opts.outFile;
}

/** JSON written beside a bundle: `inputs` lists every source file bundled (paths relative to the repo). */
export function metafileOf(bundle: string): string {
  return bundle.replace(/\.js$/, '') + '.meta.json';
}

/** Folder, beside a split bundle, of the chunks its dynamic imports load. */
export function chunksDirOf(bundle: string): string {
  return bundle.replace(/\.js$/, '') + '.chunks';
}

async function bunBuild(
  opts: BundleOptions,
  entry: string,
  externals: string[],
  { split = false, define = {} }: { split?: boolean; define?: Record<string, string> } = {},
): Promise<void> {
  mkdirSync(dirname(opts.outFile), { recursive: true });
  const args = ['build', entry, '--target=bun', '--format=esm'];
  if (split) {
    // Code splitting: each dynamic import() stays a chunk of its own, loaded
    // when the import runs, with the Node built-ins it imports (node:https,
    // ws, zlib, ...). In a single file Bun hoists every built-in import to
    // the top, so a bundle read or `--help` paid for the Kubernetes client's
    // HTTP, TLS and WebSocket modules at start. `bun build --compile
    // --splitting` (compile.ts) keeps the chunks apart inside the binary.
    rmSync(chunksDirOf(opts.outFile), { recursive: true, force: true });
    const chunks = relative(dirname(opts.outFile), chunksDirOf(opts.outFile));
    args.push('--splitting', `--outdir=${dirname(opts.outFile)}`, `--entry-naming=[name].[ext]`);
    args.push(`--chunk-naming=${chunks}/[name]-[hash].[ext]`);
  } else args.push(`--outfile=${opts.outFile}`);
  // Which source files went in: test/dist checks that the CLI holds nothing of the probe.
  args.push(`--metafile=${metafileOf(opts.outFile)}`);
  for (const e of externals) args.push(`--external=${e}`);
  for (const [k, v] of Object.entries(define)) args.push(`--define=${k}=${v}`);
  if (opts.minify) args.push('--minify-syntax', '--minify-whitespace');
  await run(opts.bun, args, { cwd: REPO });
}
