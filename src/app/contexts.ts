/**
 * Several kubeconfig contexts in one run (`--context a,b`, `--all-contexts`):
 * each context is evaluated exactly as a single-context run would be, at
 * most `bound` at once; a context that cannot be evaluated (unreachable, not
 * permitted, no CloudNativePG) is a reported problem of that context, never
 * the end of the run; the run exits with the worst code of its contexts.
 *
 * The documents of `-o json|yaml` (docs/output-schema.md): one `<Kind>List`
 * whose items name their context and carry the single-context document
 * unchanged (`report`) or what stopped it (`error`).
 */
import pLimit from 'p-limit';
import type { ContextDepsSet, Deps } from '../cli/deps.js';
import { CliError, ExitCode } from '../model/errors.js';
import { document } from '../render/printer.js';
import { sanitize } from '../render/sanitize.js';
import type { Finding } from '../analysis/findings.js';
import { checkScopeOptions, type ScopeOptions } from './gather.js';

/** Why a context could not be evaluated: what a single-context run would have said, and its code. */
export interface ContextError {
  code: string;
  message: string;
  hints: string[];
}

export interface ContextResult<T> {
  context: string;
  exitCode: ExitCode;
  value?: T;
  error?: ContextError;
}

/**
 * Worst first: a bug (70), a broken input such as a context naming a missing
 * cluster (64), critical findings (2), a context that could not be evaluated
 * (3: unknown is never healthy, and a warning elsewhere must not hide it),
 * warnings (1), healthy (0). Critical ranks above "could not evaluate", as it
 * does within one context (a critical finding wins over unmeasured volumes).
 */
const WORST_FIRST: readonly ExitCode[] = [
  ExitCode.INTERNAL,
  ExitCode.USAGE,
  ExitCode.CRITICAL,
  ExitCode.UNKNOWN,
  ExitCode.WARNING,
  ExitCode.OK,
];

/** The exit code of a run over several contexts: the worst of theirs (OK for none). */
export function worstExitCode(codes: Iterable<ExitCode>): ExitCode {
  let best = WORST_FIRST.length - 1;
  for (const c of codes) {
    const i = WORST_FIRST.indexOf(c);
    best = Math.min(best, i < 0 ? 0 : i);
  }
  return WORST_FIRST[best] as ExitCode;
}

function contextError(e: unknown): { exitCode: ExitCode; error: ContextError } {
  if (e instanceof CliError) {
    return { exitCode: e.exitCode, error: { code: e.code, message: e.message, hints: e.suggestions } };
  }
  // A bug while reading one context: reported with that context, like any other problem.
  const message = e instanceof Error ? e.message : String(e);
  return {
    exitCode: ExitCode.INTERNAL,
    error: {
      code: 'INTERNAL',
      message: `internal error: ${message.split('\n')[0] ?? message}`,
      hints: ['run again with -v for details, and please report it'],
    },
  };
}

/**
 * Evaluates every context, at most `bound` at once, in the order given
 * (results keep that order whatever finishes first). `evaluate` is the
 * single-context evaluation; whatever it throws becomes that context's error.
 */
export async function evaluateContexts<T>(
  set: Pick<ContextDepsSet, 'names' | 'io' | 'depsFor'>,
  bound: number,
  evaluate: (deps: Deps, context: string) => Promise<{ value: T; exitCode: ExitCode }>,
  opts?: ScopeOptions,
): Promise<ContextResult<T>[]> {
  // A flag that is wrong for every context is one usage error, before any is read.
  if (opts) checkScopeOptions(opts);
  const limit = pLimit(Math.max(1, bound));
  const spinner = set.io.spinner(`reading ${set.names.length} contexts`);
  let done = 0;
  try {
    return await Promise.all(
      set.names.map((context) =>
        limit(async (): Promise<ContextResult<T>> => {
          try {
            const { value, exitCode } = await evaluate(set.depsFor(context), context);
            return { context, exitCode, value };
          } catch (e) {
            return { context, ...contextError(e) };
          } finally {
            spinner.update(`read ${++done} of ${set.names.length} contexts`);
          }
        }),
      ),
    );
  } finally {
    spinner.stop();
  }
}

/**
 * The `-o json|yaml` document of a run over several contexts: `<kind>List`,
 * a summary, and one item per context with its context, its exit code and
 * either the single-context document (`report`, unchanged) or the `error`.
 */
export function contextsDocument<T>(
  kind: string,
  results: ContextResult<T>[],
  report: (value: T) => Record<string, unknown>,
): Record<string, unknown> {
  return document(`${kind}List`, {
    summary: {
      contexts: results.length,
      evaluated: results.filter((r) => r.value !== undefined).length,
      failed: results.filter((r) => r.error !== undefined).length,
      exitCode: worstExitCode(results.map((r) => r.exitCode)),
    },
    items: results.map((r) => ({
      context: r.context,
      exitCode: r.exitCode,
      ...(r.value !== undefined ? { report: report(r.value) } : {}),
      ...(r.error ? { error: r.error } : {}),
    })),
  });
}

/** The label a context's findings carry in text output: `[context] subject`. */
export function labelFindings(context: string, findings: Finding[]): Finding[] {
  return findings.map((f) => ({ ...f, subject: `[${context}] ${f.subject}` }));
}

/**
 * The lines for people that say which contexts could not be evaluated and
 * why (stdout, after the tables and findings), sanitised: context names and
 * error messages come from the kubeconfig and the API server.
 */
export function contextErrorsText(results: ContextResult<unknown>[]): string {
  let out = '';
  for (const r of results) {
    if (!r.error) continue;
    out += sanitize(`context ${r.context}: not evaluated (exit ${r.exitCode}): ${r.error.message}`) + '\n';
    for (const h of r.error.hints) out += sanitize(`  hint: ${h}`) + '\n';
  }
  return out;
}

/** Prefixes the first line of a block for stderr with its context (`context NAME: `). */
export function contextPrefixed(context: string, text: string): string {
  return text === '' ? '' : `${sanitize(`context ${context}:`)} ${text}`;
}
