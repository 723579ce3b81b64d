/**
 * The mapping every read command does from shared flags to its dependency
 * bag and scope options, written once.
 */
import { defaultDeps, type Deps } from '../cli/deps.js';
import { parseDuration, parseSource } from '../cli/flags.js';
import { parseOutputFormat, type OutputFormat } from '../render/printer.js';
import type { ScopeOptions } from '../app/gather.js';

/** The values of kubeFlags, sourceFlags and outputFlags after parsing. */
export interface SharedFlagValues {
  kubeconfig?: string | undefined;
  context?: string | undefined;
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
    context: flags.context,
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
    context: flags.context,
    prometheusUrl: flags['prometheus-url'],
    measure: true,
    output: parseOutputFormat(flags.output, flags.json),
    verbose: flags.verbose,
  };
}
