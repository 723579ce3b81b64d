/**
 * Exit codes and typed errors. Exit codes are decided in one place
 * (BaseCommand.catch and the command's own result), from these types.
 *
 * The codes follow the monitoring-plugin convention scripts already know:
 *   0 healthy, 1 warning findings, 2 critical findings, 3 could not evaluate,
 * plus 64 for a usage error (bad flag, unreadable input file) and 70 for an
 * internal error (a bug: please report it).
 */
export const ExitCode = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
  USAGE: 64,
  INTERNAL: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error a user can act on: one sentence, what to do, and the exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly code: string;
  readonly suggestions: string[];
  constructor(message: string, opts: { exitCode: ExitCode; code: string; suggestions?: string[]; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CliError';
    this.exitCode = opts.exitCode;
    this.code = opts.code;
    this.suggestions = opts.suggestions ?? [];
  }
}

export function usageError(message: string, ...suggestions: string[]): CliError {
  return new CliError(message, { exitCode: ExitCode.USAGE, code: 'USAGE', suggestions });
}

/** The cluster could not be evaluated: API unreachable, permission denied, bad kubeconfig. */
export function cannotEvaluate(message: string, code: string, ...suggestions: string[]): CliError {
  return new CliError(message, { exitCode: ExitCode.UNKNOWN, code, suggestions });
}

export type Severity = 'critical' | 'warning' | 'info';

/** The exit code for a set of findings: the worst severity wins. */
export function exitCodeForSeverities(severities: Iterable<Severity | 'ok' | 'unknown'>): ExitCode {
  let code: ExitCode = ExitCode.OK;
  for (const s of severities) {
    if (s === 'critical') return ExitCode.CRITICAL;
    if (s === 'warning') code = ExitCode.WARNING;
    if (s === 'unknown' && code === ExitCode.OK) code = ExitCode.UNKNOWN;
  }
  return code;
}
