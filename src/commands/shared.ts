/**
 * The mapping every read command does from shared flags to its dependency
 * bag and scope options, written once.
 */
import { contextDepsSet, defaultDeps, type ContextDepsSet, type Deps } from '../cli/deps.js';
import { parseDuration, parseSource } from '../cli/flags.js';
import { parseOutputFormat, type OutputFormat } from '../render/output-format.js';
import type { ScopeOptions } from '../app/gather.js';
import { usageError } from '../model/errors.js';

/** The values of kubeFlags, sourceFlags and outputFlags after parsing. */
export interface SharedFlagValues {
  kubeconfig?: string | undefined;
  /** One value (kubeFlags) or, for the commands that read several contexts, every --context given. */
  context?: string | string[] | undefined;
  'all-contexts'?: boolean | undefined;
  'context-concurrency'?: number | undefined;
  'request-timeout': string;
  'no-color': boolean;
  namespace?: string | undefined;
  'all-namespaces'?: boolean | undefined;
  selector?: string | undefined;
  'from-bundle'?: string | undefined;
  source: string;
  concurrency: number;
  'prometheus-url'?: string | undefined;
  output?: string | undefined;
  json: boolean;
  verbose: boolean;
}

/** The dependency bag; a run on a bundle never loads the Kubernetes client. */
export function depsFromFlags(flags: SharedFlagValues): Promise<Deps> {
  return defaultDeps({
    kubeconfig: flags.kubeconfig,
    context: singleContext(flags.context),
    requestTimeoutMs: parseDuration(flags['request-timeout'], 'request-timeout'),
    noColor: flags['no-color'],
    offline: flags['from-bundle'] !== undefined,
  });
}

export function readOptionsFromFlags(
  flags: SharedFlagValues,
  cluster: string | undefined,
): ScopeOptions & { output: OutputFormat; verbose: boolean } {
  return {
    cluster,
    namespace: flags.namespace,
    allNamespaces: flags['all-namespaces'] ?? false,
    selector: flags.selector,
    fromBundle: flags['from-bundle'],
    source: parseSource(flags.source),
    concurrency: flags.concurrency,
    context: singleContext(flags.context),
    prometheusUrl: flags['prometheus-url'],
    measure: true,
    output: parseOutputFormat(flags.output, flags.json),
    verbose: flags.verbose,
  };
}

function singleContext(context: string | string[] | undefined): string | undefined {
  return Array.isArray(context) ? context[0] : context;
}

/**
 * How many contexts a read command was asked for. One (no flag, or one
 * `--context NAME` without a comma) keeps today's single-context run and
 * output. Several — values with commas, a repeated flag, `--all-contexts` —
 * are resolved against the kubeconfig (contextDepsSet); if that leaves one
 * context and `--all-contexts` was not given, the run is a single-context
 * one again, for that context.
 */
export type ContextPlan =
  { kind: 'single'; context: string | undefined } | { kind: 'several'; set: ContextDepsSet; bound: number };

export async function contextPlan(
  flags: SharedFlagValues & { watch?: boolean | undefined; bundle?: string | undefined },
): Promise<ContextPlan> {
  const values = flags.context === undefined ? [] : Array.isArray(flags.context) ? flags.context : [flags.context];
  const all = flags['all-contexts'] === true;
  if (all && values.length > 0) throw usageError('--context and --all-contexts cannot be used together');
  const first = values[0];
  if (!all && (values.length === 0 || (values.length === 1 && first !== undefined && !first.includes(','))))
    return { kind: 'single', context: first };
  if (flags['from-bundle'] !== undefined) {
    throw usageError(
      'several contexts need a live cluster: --from-bundle reads one bundle',
      'drop --context/--all-contexts, or read each context live',
    );
  }
  const set = await contextDepsSet({
    kubeconfig: flags.kubeconfig,
    requestTimeoutMs: parseDuration(flags['request-timeout'], 'request-timeout'),
    noColor: flags['no-color'],
    contexts: all ? 'all' : values,
  });
  if (!all && set.names.length === 1) return { kind: 'single', context: set.names[0] };
  if (flags.watch) throw usageError('--watch reads one context', 'pick one with --context NAME');
  if (flags.bundle !== undefined) {
    throw usageError(
      "--bundle writes one context's support bundle",
      'run diagnose --bundle FILE --context NAME once per context',
    );
  }
  return { kind: 'several', set, bound: flags['context-concurrency'] ?? 4 };
}
