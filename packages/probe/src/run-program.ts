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
  try {
    const r = await main(proc.argv.slice(2), proc.env, io);
    if (r.close) {
      const close = r.close;
      const stop = (): void => {
        void close().then(() => proc.exit(codes.ok));
      };
      proc.once('SIGTERM', stop);
      proc.once('SIGINT', stop);
    } else {
      proc.exitCode = r.code;
    }
  } catch (err) {
    io.stderr(`${name}: ${(err as Error).message ?? String(err)}\n`);
    proc.exitCode = codes.crashed;
  }
}
