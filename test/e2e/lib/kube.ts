// kubectl and waiting helpers for the end-to-end suite. kubectl (not a client
// library) on purpose: the suite checks the cluster the way an operator would,
// independently of the code under test.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { E2EConfig } from './config.js';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Runs a program; resolves with its exit code and output, whatever the code. */
export function exec(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
        env: opts.env ?? process.env,
        cwd: opts.cwd,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolvePromise({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export class Kube {
  constructor(readonly cfg: E2EConfig) {}

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, KUBECONFIG: this.cfg.kubeconfig, ...extra };
  }

  /** kubectl, whatever its exit code. */
  run(args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
    return exec(this.cfg.kubectl, args, { ...opts, env: this.env(opts.env) });
  }

  /** kubectl that must succeed; returns stdout. */
  async ok(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  async json<T = unknown>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.ok([...args, '-o', 'json'])) as T;
  }

  apply(manifest: string): Promise<string> {
    return this.ok(['apply', '-f', '-'], { input: manifest });
  }

  /** Runs a command in a pod's container; resolves whatever its exit code. */
  exec(
    ns: string,
    pod: string,
    container: string,
    command: readonly string[],
    timeoutMs = 60_000,
  ): Promise<ExecResult> {
    return this.run(['-n', ns, 'exec', pod, '-c', container, '--', ...command], { timeoutMs });
  }

  async createNamespace(name: string): Promise<string> {
    const ns = `${this.cfg.namespacePrefix}${name}-${randomBytes(3).toString('hex')}`;
    await this.ok(['create', 'namespace', ns]);
    await this.ok(['label', 'namespace', ns, 'cnpg-disk.test/e2e=true']);
    return ns;
  }

  async deleteNamespace(ns: string): Promise<void> {
    if (this.cfg.keepNamespaces) {
      console.error(`[e2e] keeping namespace ${ns} (CNPG_E2E_KEEP=1)`);
      return;
    }
    await this.run(['delete', 'namespace', ns, '--wait=true', '--timeout=300s'], { timeoutMs: 320_000 });
  }

  /** ms scaled by CNPG_E2E_TIMEOUT_SCALE. */
  t(ms: number): number {
    return Math.round(ms * this.cfg.timeoutScale);
  }
}

/**
 * Polls `probe` until it returns a value other than undefined; throws with the
 * last observed state (from `describe`) after timeoutMs.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  describe?: () => Promise<string>,
  intervalMs = 2_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const state = describe ? await describe().catch((e: unknown) => String(e)) : '';
      const err = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${err}\n${state}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Parses a Kubernetes quantity of bytes ("1Gi", "512Mi", "1073741824", "1G"). */
export function bytes(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(q.trim());
  if (!m) throw new Error(`not a byte quantity: "${q}"`);
  const mult: Record<string, number> = {
    '': 1,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
  };
  return Math.round(Number(m[1]) * (mult[m[2] ?? ''] ?? 1));
}
