/**
 * The first half of every read command: options → a Snapshot, from the live
 * cluster or from a bundle.
 */
import type { Deps } from '../cli/deps.js';
import type { KubeClient } from '../kube/client.js';
import type { CollectOptions } from '../snapshot/collect.js';
import type { ClusterSnapshot, Snapshot, SourceName } from '../model/snapshot.js';
import { labels } from '../model/kube-objects.js';
import { cannotEvaluate, usageError } from '../model/errors.js';
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from '@cnpg-disk/core';

export interface ScopeOptions {
  namespace?: string | undefined;
  allNamespaces: boolean;
  selector?: string | undefined;
  cluster?: string | undefined;
  fromBundle?: string | undefined;
  source: SourceName | 'auto';
  concurrency: number;
  context?: string | undefined;
  /** Measure filesystems and WAL (false for commands that only need objects). */
  measure: boolean;
  /** --prometheus-url: adds the prometheus source. */
  prometheusUrl?: string | undefined;
}

/**
 * The -l selector, parsed with the API server's grammar (core's selector.ts),
 * or a usage error. Offline it filters the bundle; live the same text goes to
 * the API server, after this check, so both paths refuse the same input.
 */
export function parseSelectorOption(selector: string | undefined): LabelSelector | undefined {
  if (selector === undefined) return undefined;
  const p = parseLabelSelector(selector);
  if (!p.ok) throw usageError(p.error, 'e.g. -l team=payments,tier in (db,cache),!legacy');
  return p.selector;
}

/** Whether a bundle's Cluster labels satisfy the -l selector (no selector: all). */
export function matchesSelector(selector: string | undefined, l: Record<string, string>): boolean {
  const s = parseSelectorOption(selector);
  return s === undefined || matchesLabelSelector(s, l);
}

/**
 * The checks of the scope options that need no cluster (usage errors, 64);
 * a run over several contexts makes them once, before reading any.
 */
export function checkScopeOptions(opts: ScopeOptions): LabelSelector | undefined {
  requirePrometheusUrl(opts);
  if (opts.allNamespaces && opts.namespace) {
    throw usageError('--namespace and --all-namespaces cannot be used together');
  }
  return parseSelectorOption(opts.selector);
}

export async function gatherSnapshot(opts: ScopeOptions, deps: Deps): Promise<Snapshot> {
  const selector = checkScopeOptions(opts);
  if (opts.fromBundle) {
    // Loaded only to read a bundle (it brings tar); a live run does not need it.
    const { readBundle } = await import('../snapshot/bundle.js');
    const snap = await readBundle(opts.fromBundle);
    const all = snap.clusters;
    snap.clusters = all.filter(
      (c) =>
        (!opts.cluster || c.name === opts.cluster) &&
        (!opts.namespace || c.namespace === opts.namespace) &&
        (!selector || matchesLabelSelector(selector, labels(c.cluster))),
    );
    if (snap.clusters.length === 0) requireBundleScopeMatched(opts.fromBundle, opts, all);
    return snap;
  }
  const client = deps.kube();
  // Loaded only for a live run: it brings @kubernetes/client-node (docs/distribution.md, Start-up).
  const { collectSnapshot } = await import('../snapshot/collect.js');
  const spinner = deps.io.spinner('connecting');
  try {
    return await collectSnapshot(
      client,
      liveCollectOptions(opts, client, deps, (t) => spinner.update(t)),
    );
  } finally {
    spinner.stop();
  }
}

/** What a live collection is asked for by a command's options (gatherSnapshot, diagnose --bundle). */
export function liveCollectOptions(
  opts: ScopeOptions,
  client: KubeClient,
  deps: Deps,
  onProgress: (text: string) => void,
): CollectOptions {
  parseSelectorOption(opts.selector); // refused here before the API server sees it
  return {
    namespaces: opts.allNamespaces ? 'all' : [opts.namespace ?? client.currentNamespace],
    cluster: opts.cluster,
    explicitNamespace: opts.namespace !== undefined,
    selector: opts.selector,
    source: opts.source,
    measure: opts.measure,
    concurrency: opts.concurrency,
    execTimeoutMs: Math.max(client.timeoutMs, 15_000),
    context: client.kc.getCurrentContext(),
    now: deps.now,
    onProgress,
    prometheusUrl: opts.prometheusUrl,
  };
}

export function requirePrometheusUrl(opts: ScopeOptions): void {
  if (opts.source === 'prometheus' && !opts.prometheusUrl && !opts.fromBundle) {
    throw usageError(
      '--source prometheus needs --prometheus-url',
      'e.g. --prometheus-url http://prometheus.monitoring:9090',
    );
  }
}

/**
 * The fields every report document opens with after apiVersion and kind
 * (docs/output-schema.md): when and where the facts were collected, what each
 * source did, and the problems that did not stop the run (the snapshot's,
 * then a command's own).
 */
export function snapshotHeader(
  snapshot: Snapshot,
  moreProblems: string[] = [],
): Pick<Snapshot, 'collectedAt' | 'origin' | 'sources' | 'problems'> {
  return {
    collectedAt: snapshot.collectedAt,
    origin: snapshot.origin,
    sources: snapshot.sources,
    problems: [...snapshot.problems, ...moreProblems],
  };
}

/** The moment findings are judged at: collection time for a bundle, now for a live run. */
export function judgedAt(snapshot: Snapshot, deps: Deps): number {
  if (snapshot.origin.kind === 'bundle') {
    const t = Date.parse(snapshot.collectedAt);
    if (!Number.isNaN(t) && t > 0) return t;
  }
  return deps.now().getTime();
}

/**
 * A bundle asked for a Cluster it does not hold, or for a namespace (-n) it
 * has no Cluster in: a usage error (64, the input does not have it) listing
 * the bundle's Clusters. A selector matching nothing is an empty answer.
 */
function requireBundleScopeMatched(
  file: string,
  opts: { cluster?: string | undefined; namespace?: string | undefined; selector?: string | undefined },
  all: ClusterSnapshot[],
): void {
  if (!opts.cluster && (!opts.namespace || opts.selector)) return;
  const inBundle = all.map((c) => `${c.namespace}/${c.name}`).sort();
  const shown = inBundle.length > 20 ? [...inBundle.slice(0, 20), `… ${inBundle.length - 20} more`] : inBundle;
  const hint = inBundle.length === 0 ? 'the bundle holds no Cluster at all' : `the bundle holds: ${shown.join(', ')}`;
  const where = `the bundle ${file}${opts.namespace ? ` (namespace ${opts.namespace})` : ''}`;
  throw usageError(
    opts.cluster
      ? `there is no CloudNativePG Cluster ${JSON.stringify(opts.cluster)} in ${where}`
      : `there is no CloudNativePG Cluster in ${where}`,
    hint,
  );
}

/**
 * The one Cluster a command was asked about. gatherSnapshot already refused a
 * name that matches nothing (exit 3 live, 64 bundle); this is the guard for a
 * snapshot that holds other Clusters only.
 */
export function requireCluster(
  snapshot: Snapshot,
  opts: { cluster?: string | undefined; fromBundle?: string | undefined; namespace?: string | undefined },
  deps: Deps,
): ClusterSnapshot {
  const cs = snapshot.clusters.find((c) => c.name === opts.cluster);
  if (cs) return cs;
  const existing = snapshot.clusters.map((c) => c.name).sort();
  const hint =
    existing.length > 0
      ? `Clusters there: ${existing.join(', ')}`
      : 'list them with: kubectl get clusters.postgresql.cnpg.io -A';
  if (opts.fromBundle) {
    throw usageError(
      `there is no CloudNativePG Cluster ${JSON.stringify(opts.cluster)} in the bundle ${opts.fromBundle}`,
      hint,
    );
  }
  throw cannotEvaluate(
    `there is no CloudNativePG Cluster ${JSON.stringify(opts.cluster)} in namespace ${opts.namespace ?? deps.kube().currentNamespace}`,
    'CLUSTER_NOT_FOUND',
    hint,
  );
}
