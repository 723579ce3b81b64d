/**
 * Flags every command shares (kubectl's names), registered once.
 */
import * as Flags from '@oclif/core/flags';
import { OUTPUT_FORMATS } from '../render/output-format.js';
import { SOURCE_NAMES } from '../model/snapshot.js';
import { usageError } from '../model/errors.js';

export const outputFlags = {
  output: Flags.string({
    char: 'o',
    summary: `Output format: ${OUTPUT_FORMATS.join('|')}.`,
    helpGroup: 'OUTPUT',
  }),
  json: Flags.boolean({ summary: 'Same as -o json.', helpGroup: 'OUTPUT' }),
  'no-color': Flags.boolean({
    summary: 'No colour (also when NO_COLOR is non-empty or stdout is not a terminal).',
    helpGroup: 'OUTPUT',
  }),
  verbose: Flags.boolean({
    char: 'v',
    summary: 'More detail: decision traces, every source tried, stack traces of errors.',
    helpGroup: 'OUTPUT',
  }),
};

export const kubeFlags = {
  namespace: Flags.string({
    char: 'n',
    summary: 'Namespace (default: the current context namespace).',
    helpGroup: 'KUBERNETES',
  }),
  'all-namespaces': Flags.boolean({ char: 'A', summary: 'Every namespace.', helpGroup: 'KUBERNETES' }),
  selector: Flags.string({
    char: 'l',
    summary: 'Label selector on Clusters, Kubernetes syntax (e.g. team=payments,tier in (db,cache),!legacy).',
    helpGroup: 'KUBERNETES',
  }),
  context: Flags.string({ summary: 'kubeconfig context to use.', helpGroup: 'KUBERNETES' }),
  kubeconfig: Flags.string({ summary: 'Path to the kubeconfig file.', helpGroup: 'KUBERNETES' }),
  'request-timeout': Flags.string({
    summary: 'Timeout of each API request, e.g. 30s, 1m, 0 for none.',
    default: '30s',
    helpGroup: 'KUBERNETES',
  }),
};

/**
 * For the commands that read several contexts (disk status, wal health,
 * diagnose): --context may be repeated and takes comma lists; spread after
 * kubeFlags, it replaces the single --context.
 */
export const contextFlags = {
  context: Flags.string({
    summary: 'kubeconfig context to use; several as a,b or repeated --context (read concurrently, every row labelled).',
    multiple: true,
    multipleNonGreedy: true,
    helpGroup: 'KUBERNETES',
  }),
  'all-contexts': Flags.boolean({
    summary: 'Every context of the kubeconfig (read concurrently, every row labelled).',
    helpGroup: 'KUBERNETES',
  }),
  'context-concurrency': Flags.integer({
    summary: 'With several contexts: at most this many are read at once.',
    default: 4,
    min: 1,
    max: 32,
    helpGroup: 'KUBERNETES',
  }),
};

export const sourceFlags = {
  source: Flags.string({
    summary: `Where filesystem and WAL facts come from: auto|${SOURCE_NAMES.join('|')}.`,
    default: 'auto',
    helpGroup: 'SOURCES',
  }),
  concurrency: Flags.integer({
    summary: 'At most this many instances are measured at once.',
    default: 8,
    min: 1,
    max: 64,
    helpGroup: 'SOURCES',
  }),
  'prometheus-url': Flags.string({
    summary: 'Prometheus base URL: kubelet_volume_stats_* and cnpg_* series become a source (after the others).',
    helpGroup: 'SOURCES',
  }),
  'from-bundle': Flags.string({
    summary: 'Read a support bundle (.tar.gz) instead of a live cluster.',
    helpGroup: 'SOURCES',
  }),
};

/** Parses kubectl-style durations: 0, 5, 5s, 2m, 1h, 500ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw usageError(`--${flag} ${JSON.stringify(text)} is not a duration`, 'use e.g. 30s, 2m or 0');
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

export function parseSource(text: string): (typeof SOURCE_NAMES)[number] | 'auto' {
  if (text === 'auto' || (SOURCE_NAMES as readonly string[]).includes(text))
    return text as (typeof SOURCE_NAMES)[number] | 'auto';
  throw usageError(`unknown source ${JSON.stringify(text)}; allowed: auto, ${SOURCE_NAMES.join(', ')}`);
}
