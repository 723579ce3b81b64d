/**
 * The one way tests run the built CLI (`node bin/run.js`, what users run) as
 * a child process: API-server tests, start-up tests on copies of the build,
 * the distribution tests' reference run, and the --watch stream all use it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(REPO, 'bin', 'run.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time in ms. */
  ms: number;
  /** Killed by our own bound (the command did not finish). */
  killed: boolean;
}

export interface CliOptions {
  /** Appended as --kubeconfig FILE. */
  kubeconfig?: string;
  /**
   * The environment: PATH and a HOME without .kube/config (only --kubeconfig
   * says where a cluster is), plus these. `replaceEnv` gives exactly these.
   */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  /** Kill the process after this long (a bound, not a timing assertion). Default 60 s. */
  killAfterMs?: number;
  cwd?: string;
  /** Run the bin/run.js of this tree (a copy of the build) instead of the repository's. */
  root?: string;
  /** Node options before the script, e.g. ['--import', hook]. */
  nodeArgs?: string[];
  /** Run as this user and group id (tests running as root that need permission checks to bite). */
  uid?: number;
  /** Written to the command's standard input, which is then closed (default: closed at once). */
  stdin?: string;
}

/** The CLI runs from dist/ (npm test type-checks with `tsc -b` first, which builds it). */
export function requireBuiltCli(): void {
  if (!existsSync(join(REPO, 'dist', 'commands', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (tsc -b) before the CLI tests');
  }
}

function environment(opts: CliOptions): Record<string, string> {
  const home = join(tmpdir(), 'cnpg-disk-api-test-home');
  mkdirSync(home, { recursive: true });
  const base: Record<string, string | undefined> = opts.replaceEnv
    ? {}
    : { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...opts.env })) if (v !== undefined) env[k] = v;
  return env;
}

/** Starts `node bin/run.js ...args`; for tests that read the output as it comes (--watch). */
export function startCli(
  args: string[],
  opts: CliOptions = {},
): { child: ChildProcessWithoutNullStreams; result: Promise<CliResult> } {
  const full = [...args, ...(opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig] : [])];
  const bin = opts.root ? join(opts.root, 'bin', 'run.js') : BIN;
  const started = Date.now();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), bin, ...full], {
    cwd: opts.cwd ?? REPO,
    env: environment(opts),
    stdio: 'pipe',
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.end(opts.stdin);
  const result = new Promise<CliResult>((resolve, reject) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, opts.killAfterMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
        killed,
      });
    });
  });
  return { child, result };
}

/** Runs `node bin/run.js ...args` to the end. */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).result;
}

/** Parses -o json output, failing with the CLI's stderr when it is not JSON. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr.slice(0, 2000)}`);
  }
}

/** A human error: "error: <one sentence>" plus optional "  hint:" lines, never a stack trace. */
export function expectCleanError(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  const errorLines = lines.filter((l) => /^(error|internal error):/.test(l));
  if (errorLines.length !== 1) throw new Error(`expected exactly one error line, got:\n${stderr}`);
  if (/^\s+at /m.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
  if (lines.some((l) => l.trim() !== '' && !/^(error:|\s+hint:|sources:|\s+denied:)/.test(l))) {
    throw new Error(`unexpected stderr lines:\n${stderr}`);
  }
  return errorLines[0]!;
}
