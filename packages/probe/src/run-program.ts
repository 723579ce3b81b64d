/**
 * The entry point both programs share (cnpg-disk-probe, and cnpg-disk-plugin,
 * whose sidecar is the probe's server): run `main` with the process's
 * arguments, environment and streams; a one-shot command sets the exit code,
 * a server stays up until SIGTERM or SIGINT closes it (then exit `ok`); a
 * throw is one line `<name>: <message>` and the `crashed` code.
 */
import type { Io } from './cli.js';

export interface ProgramResult {
  code: number;
  /** Set by commands that keep serving: closes them. */
  close?: () => Promise<void>;
}

export type ProgramMain = (argv: string[], env: NodeJS.ProcessEnv, io: Io) => Promise<ProgramResult>;

export async function runProgram(
  name: string,
  main: ProgramMain,
  codes: { ok: number; crashed: number },
  proc: NodeJS.Process = process,
): Promise<void> {
  const io: Io = { stdout: (s) => proc.stdout.write(s), stderr: (s) => proc.stderr.write(s) };
  // The signal handlers are in place before main() starts: a SIGTERM that
  // arrives while a server is still starting (a pod deleted at once) is kept
  // and closes the server as soon as it exists, instead of Node's default
  // abrupt exit.
  let close: (() => Promise<void>) | undefined;
  let stopRequested = false;
  const stop = (): void => {
    if (stopRequested) return;
    stopRequested = true;
    if (close) {
      void close().then(() => proc.exit(codes.ok));
      return;
    }
    // Still starting: a server gets its graceful close when main() returns; a
    // one-shot command that hangs (a dead mount) must still die of the signal.
    setTimeout(() => proc.exit(128 + 15), 10_000).unref();
  };
  proc.once('SIGTERM', stop);
  proc.once('SIGINT', stop);
  const unhook = (): void => {
    proc.removeListener('SIGTERM', stop);
    proc.removeListener('SIGINT', stop);
  };
  try {
    const r = await main(proc.argv.slice(2), proc.env, io);
    if (r.close) {
      close = r.close;
      if (stopRequested) void close().then(() => proc.exit(codes.ok));
    } else {
      unhook();
      if (stopRequested) {
        // A one-shot command that finished despite the signal: the signal's conventional code.
        proc.exitCode = r.code === codes.ok ? 128 + 15 : r.code;
      } else {
        proc.exitCode = r.code;
      }
    }
  } catch (err) {
    unhook();
    io.stderr(`${name}: ${(err as Error).message ?? String(err)}\n`);
    proc.exitCode = codes.crashed;
  }
}
