import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child after this many milliseconds. */
  timeoutMs?: number;
  /** Resolve with a non-zero status instead of throwing. */
  allowFailure?: boolean;
  input?: string;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell), collects its output; throws with its stderr when it fails. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer =
      opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs).unref();
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const res = { status: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (res.status !== 0 && !opts.allowFailure) {
        const why = signal ? `killed by ${signal}` : `exit ${res.status}`;
        reject(new Error(`${cmd} ${args.join(' ')}: ${why}\n${res.stderr.trim() || res.stdout.trim()}`));
      } else resolvePromise(res);
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // a child that exits without reading: its status tells
      child.stdin.end(opts.input);
    }
  });
}
