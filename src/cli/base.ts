/**
 * The base of every command: the one place that turns errors into messages
 * and exit codes. Commands stay thin: parse flags into options, call a plain
 * run function with the dependency bag, exit with the code it returns.
 */
import { Command } from '@oclif/core/command';
import * as Errors from '@oclif/core/errors';
import { CliError, ExitCode } from '../model/errors.js';
import { sanitize } from '../render/sanitize.js';
import { writeStderr } from './io.js';

export abstract class BaseCommand extends Command {
  /** Set by commands after parsing, so errors can show stacks with -v. */
  protected verbose = false;

  /** Ends the command with a documented exit code (0 returns normally). */
  protected finish(code: ExitCode): void {
    if (code !== ExitCode.OK) this.exit(code);
  }

  /**
   * Runs after every command, before oclif ends the process: a non-zero exit
   * is a process.exit, which drops whatever stdout and stderr still hold when
   * they are pipes and the reader is slower than we are (a large -o json
   * document with findings, piped to jq on a loaded machine, was cut at the
   * pipe's 64 KiB). Wait until both are written first.
   */
  protected override async finally(err: Error | undefined): Promise<unknown> {
    const result = await super.finally(err);
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    return result;
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own exit (this.exit) and parse errors.
    if (err instanceof Errors.ExitError) throw err;
    const write = writeStderr;
    if (err instanceof CliError) {
      // Messages quote names from the cluster or a bundle: untrusted.
      write(`error: ${sanitize(err.message)}\n`);
      for (const s of err.suggestions) write(`  hint: ${sanitize(s)}\n`);
      if (this.verbose && err.stack) write(`${err.stack}\n`);
      this.exit(err.exitCode);
    }
    // Flag parsing errors from oclif are usage errors.
    if (
      err.oclif?.exit === 2 ||
      /Unexpected argument|Nonexistent flag|Expected --|Missing required flag|Parsing --/.test(err.message)
    ) {
      write(`error: ${sanitize(parseErrorText(err.message))}\n  hint: see --help\n`);
      this.exit(ExitCode.USAGE);
    }
    write(`internal error: ${sanitize(err.message)}\n`);
    if (this.verbose && err.stack) write(`${err.stack}\n`);
    else write('  hint: run again with -v for details, and please report it\n');
    this.exit(ExitCode.INTERNAL);
  }
}

/**
 * oclif's flag validation messages come as "The following error occurred:",
 * the reasons indented below, and "See more help with --help": keep the
 * reasons, in one line.
 */
export function parseErrorText(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^The following errors? occurred:?$/.test(l) && !/^See more help with --help$/.test(l));
  return lines.join('; ') || message.trim();
}

/** Resolves when everything written to the stream so far has been handed to the OS (or the stream failed). */
export function drained(stream: NodeJS.WritableStream & { writableLength?: number }): Promise<void> {
  if (!stream.writable || !stream.writableLength) return Promise.resolve();
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}
