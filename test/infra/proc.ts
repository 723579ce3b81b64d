// Child processes that cannot outlive the test process, and cleanup at exit.
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// ---------------------------------------------------------------------------
// Exit cleanup: synchronous callbacks run on 'exit' and on fatal signals, so a
// crashed or interrupted test run leaves no process, temp dir or netns behind.

const exitHooks = new Set<() => void>();
let hooksInstalled = false;

function runExitHooks(): void {
  for (const hook of [...exitHooks]) {
    exitHooks.delete(hook);
    try {
      hook();
    } catch {
      // best effort: keep cleaning up the rest
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', runExitHooks);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only take over a signal nobody else handles; then behave as the default
    // action would (terminate with that signal) after cleaning up.
    if (process.listenerCount(sig) > 0) continue;
    const onSignal = (): void => {
      runExitHooks();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Registers a synchronous cleanup; returns a function that unregisters it. */
export function onExit(hook: () => void): () => void {
  installHooks();
  exitHooks.add(hook);
  return () => {
    exitHooks.delete(hook);
  };
}

// ---------------------------------------------------------------------------

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; rejects with its stderr on failure. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const SETPRIV = '/usr/bin/setpriv';

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly logPath: string | undefined;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after graceMs. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a long-running process that dies with us: it runs under
 * `setpriv --pdeathsig KILL`, so even a SIGKILLed test runner leaves no
 * orphan, and it is killed by the exit hooks on a normal exit.
 * stdout+stderr go to logPath when given.
 */
export function spawnManaged(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { logPath?: string; stdio?: SpawnOptions['stdio']; env?: NodeJS.ProcessEnv } = {},
): ManagedProcess {
  const usePdeath = existsSync(SETPRIV);
  const file = usePdeath ? SETPRIV : cmd;
  const argv = usePdeath ? ['--pdeathsig', 'KILL', '--', cmd, ...args] : [...args];
  const child = spawn(file, argv, {
    stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  if (opts.logPath) {
    const log = createWriteStream(opts.logPath, { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  } else {
    // Never let an unread pipe fill up and block the child.
    child.stdout?.resume();
    child.stderr?.resume();
  }
  let exitedFlag = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      exitedFlag = true;
      resolve(`spawn error: ${err.message}`);
    });
  });
  const unregister = onExit(() => {
    if (!exitedFlag && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  void exited.then(unregister);

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 3000): Promise<void> => {
    stopping ??= (async () => {
      if (exitedFlag) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exitedFlag) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  return { child, name, logPath: opts.logPath, exited, hasExited: () => exitedFlag, stop };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const OWNER_FILE = '.owner-pid';

/**
 * mkdtemp in the OS temp dir, recording our pid. Dirs with the same prefix
 * whose owner is dead (a SIGKILLed test run cannot clean up) are removed first.
 * With keep, the new dir records no owner, so it survives later sweeps (debugging).
 */
export function ownedTempDirSync(prefix: string, keep = false): string {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(base, name);
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(join(dir, OWNER_FILE), 'utf8'), 10);
    } catch {
      continue; // not ours to judge (or still being created)
    }
    if (Number.isFinite(owner) && owner !== process.pid && !pidAlive(owner)) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(base, prefix));
  if (!keep) writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  return dir;
}

/** A TCP port free on 127.0.0.1 now (bound, read, released: the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
