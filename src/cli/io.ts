/**
 * The one place that knows about the terminal: TTY, colour, width, and where
 * data (stdout) and progress/status (stderr) go.
 */
import { writeSync } from 'node:fs';
import type { Ora } from 'ora';

export interface IOStreams {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stdout is a terminal: tables for people, spinners and prompts allowed. */
  isStdoutTTY: boolean;
  isStderrTTY: boolean;
  isStdinTTY: boolean;
  color: boolean;
  width: number;
  /** A progress spinner on stderr when it is a terminal; otherwise a no-op. */
  spinner(text: string): Spinner;
  /** Asks a yes/no question on the terminal. */
  confirm(question: string): Promise<boolean>;
}

export interface Spinner {
  update(text: string): void;
  stop(): void;
}

const NO_SPINNER: Spinner = { update: () => undefined, stop: () => undefined };

/**
 * Colour on a terminal unless --no-color, `NO_COLOR` set to a non-empty value
 * (no-color.org: an empty NO_COLOR does not disable colour), or TERM=dumb.
 */
export function colorWanted(isStdoutTTY: boolean, noColorFlag: boolean, env: NodeJS.ProcessEnv): boolean {
  const noColorEnv = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return isStdoutTTY && !noColorFlag && !noColorEnv && env['TERM'] !== 'dumb';
}

export function systemIO(opts: { noColor?: boolean } = {}): IOStreams {
  const env = process.env;
  const isStdoutTTY = Boolean(process.stdout.isTTY);
  const isStderrTTY = Boolean(process.stderr.isTTY);
  const color = colorWanted(isStdoutTTY, opts.noColor ?? false, env);
  return {
    stdout: writeStdout,
    stderr: writeStderr,
    isStdoutTTY,
    isStderrTTY,
    isStdinTTY: Boolean(process.stdin.isTTY),
    color,
    width: process.stdout.columns ?? 120,
    spinner(text: string): Spinner {
      if (!isStderrTTY || env['CI']) return NO_SPINNER;
      // ora (and its dozen modules) only when a spinner is really shown.
      let s: Ora | undefined;
      let current = text;
      let stopped = false;
      void import('ora').then(({ default: ora }) => {
        if (!stopped) s = ora({ text: current, stream: process.stderr }).start();
      });
      return {
        update: (t) => {
          current = t;
          if (s) s.text = t;
        },
        stop: () => {
          stopped = true;
          s?.stop();
        },
      };
    },
    async confirm(question: string): Promise<boolean> {
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${question} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    },
  };
}

/**
 * Whether output goes through blocking writes: under Bun (the single binary).
 * Bun's process.exit drops what a pipe has not taken yet, and its streams do
 * not say that anything is pending (writableLength 0, the write callback runs
 * at once), so base.ts cannot wait for them: `-o json` of a fleet (2.7 MB)
 * piped to jq was cut at 128 KiB whenever the exit code was not 0. A blocking
 * writeSync hands every byte to the OS before it returns. Under Node the
 * stream is used and base.ts waits for it to drain before exit.
 */
const BLOCKING_WRITES = typeof (process.versions as Record<string, string | undefined>)['bun'] === 'string';
/** Above this resident size, a run under Bun collects garbage before it prints (collectBeforeOutput). */
const COLLECT_ABOVE_RSS = 96 * 1024 * 1024;

/**
 * Under Bun, one full garbage collection before the output is built, when
 * the process has grown large. JavaScriptCore keeps the garbage of gathering
 * (list pages, parsed objects, the engine's intermediates) until its heap
 * grows further, and a fleet's JSON document is then built on top of it:
 * `disk status -A -o json` over 1,800 volumes peaked at 157–161 MiB with
 * 34 MiB live, 142–148 MiB with this collection, no measurable CPU added.
 * Node's collector already returns that memory; small runs skip it.
 */
export function collectBeforeOutput(): void {
  const bun = (globalThis as { Bun?: { gc(synchronous: boolean): void } }).Bun;
  if (bun && process.memoryUsage().rss > COLLECT_ABOVE_RSS) bun.gc(true);
}

/** fds whose reader went away (EPIPE): written to no more, like a closed stream. */
const closedFds = new Set<number>();

/** Writes all of `text` to fd 1 or 2 before returning (retrying partial writes and EAGAIN). */
export function writeBlocking(fd: 1 | 2, text: string): void {
  if (closedFds.has(fd)) return;
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        // A non-blocking pipe that is full: wait a millisecond for the reader.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      if (code === 'EPIPE') {
        closedFds.add(fd);
        return;
      }
      throw e;
    }
  }
}

/** stdout for every command: see BLOCKING_WRITES. */
export function writeStdout(text: string): void {
  if (BLOCKING_WRITES) writeBlocking(1, text);
  else process.stdout.write(text);
}

/** stderr for every command: see BLOCKING_WRITES. */
export function writeStderr(text: string): void {
  if (BLOCKING_WRITES) writeBlocking(2, text);
  else process.stderr.write(text);
}

/** IO that records everything, for tests. */
export function bufferIO(
  opts: Partial<Pick<IOStreams, 'isStdoutTTY' | 'color' | 'width' | 'isStdinTTY'>> & {
    answers?: boolean[];
  } = {},
): IOStreams & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const answers = [...(opts.answers ?? [])];
  return {
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    isStdoutTTY: opts.isStdoutTTY ?? false,
    isStderrTTY: false,
    isStdinTTY: opts.isStdinTTY ?? false,
    color: opts.color ?? false,
    width: opts.width ?? 160,
    spinner: () => NO_SPINNER,
    confirm: async () => answers.shift() ?? false,
  };
}
