/**
 * Running the built CLI (`node bin/run.js`, what users run) as a child
 * process against the real API server, and reading what it did from the API
 * server's audit log.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ApiServerHandle, AuditEvent } from '../infra/apiserver.js';

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

/** The CLI runs from dist/ (npm test type-checks with `tsc -b` first, which builds it). */
export function requireBuiltCli(): void {
  if (!existsSync(join(REPO, 'dist', 'commands', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (tsc -b) before the API tests');
  }
}

export interface CliOptions {
  kubeconfig?: string;
  env?: Record<string, string>;
  /** Kill the process after this long (a bound, not a timing assertion). Default 60 s. */
  killAfterMs?: number;
  cwd?: string;
}

/** Runs `node bin/run.js ...args` with a clean environment (no KUBECONFIG, no ~/.kube). */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  // A HOME without .kube/config: only --kubeconfig says where the cluster is.
  const home = join(tmpdir(), 'cnpg-disk-api-test-home');
  mkdirSync(home, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    ...opts.env,
  };
  const full = [...args, ...(opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig] : [])];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...full], { cwd: opts.cwd ?? REPO, env, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.end();
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

// ---------------------------------------------------------------------------
// Audit log

/** The verbs that change something. */
export const MUTATING_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/**
 * Audit events of one user, one per request (proxy and exec requests also
 * log a ResponseStarted stage: keep the last stage per auditID). Polls until
 * the count is stable, because events are written as requests complete.
 */
export async function auditOf(api: ApiServerHandle, user: string): Promise<AuditEvent[]> {
  let last = -1;
  let stable = 0;
  for (let i = 0; i < 100; i++) {
    const byId = new Map<string, AuditEvent>();
    for (const e of await api.readAudit()) if (e.user.username === user) byId.set(e.auditID, e);
    const events = [...byId.values()];
    if (events.length === last) {
      if (++stable >= 2) return events;
    } else {
      stable = 0;
      last = events.length;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`audit events of ${user} never settled`);
}

/** "verb resource[/subresource]" of an audit event, for counting and readable failures. */
export function kindOf(e: AuditEvent): string {
  const r = e.objectRef;
  if (!r?.resource) return `${e.verb} ${e.requestURI.split('?')[0]}`;
  return `${e.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.apiGroup ? `.${r.apiGroup}` : ''}`;
}

/** Counts events by kindOf. */
export function countByKind(events: AuditEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[kindOf(e)] = (out[kindOf(e)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Requests that would change state. Two kinds of request are not: a
 * SelfSubjectAccessReview is a `create` that stores nothing (it only asks
 * "may I?"), and pods/exec runs only read-only commands (stat -f, a psql
 * SELECT) — the API server logs it as get (WebSocket) or create (SPDY).
 */
export function mutatingRequests(events: AuditEvent[]): AuditEvent[] {
  return events.filter(
    (e) =>
      MUTATING_VERBS.has(e.verb) &&
      e.objectRef?.resource !== 'selfsubjectaccessreviews' &&
      !(e.objectRef?.resource === 'pods' && e.objectRef.subresource === 'exec'),
  );
}

// ---------------------------------------------------------------------------
// df, independently of the simulated kubelet

const execFileP = promisify(execFile);

export interface DfFacts {
  totalBytes: string;
  usedBytes: string;
  availableBytes: string;
  inodesTotal: string;
  inodesFree: string;
}

/** `df -B1` of a mount point, as decimal strings (the CLI's JSON form of byte counts). */
export async function df(path: string): Promise<DfFacts> {
  const { stdout } = await execFileP('df', ['-B1', '--output=size,used,avail,itotal,iavail', path]);
  const [size, used, avail, itotal, iavail] = (stdout.trim().split('\n')[1] ?? '').trim().split(/\s+/);
  return {
    totalBytes: size ?? '',
    usedBytes: used ?? '',
    availableBytes: avail ?? '',
    inodesTotal: itotal ?? '',
    inodesFree: iavail ?? '',
  };
}
