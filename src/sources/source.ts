/**
 * A source of filesystem and WAL facts, as one object: its name, the facts
 * it can give, the access it needs, and how it measures. The collector
 * (src/snapshot/collect.ts) only runs the fallback chain: it checks the
 * access of every candidate once, then asks each source in turn to fill what
 * the earlier ones left unmeasured.
 */
import type { LimitFunction } from 'p-limit';
import type { WalHealth } from '@cnpg-disk/core';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import type {
  ClusterSnapshot,
  FactKind,
  InstanceMeasurement,
  KubeObject,
  SourceAttempt,
  SourceName,
} from '../model/snapshot.js';
import type { Access } from './permissions.js';
import { STATUS_ONLY_SOURCE } from './pod-proxy.js';

/** What a source needs from the collection options. */
export interface MeasureOptions {
  execTimeoutMs: number;
  now: () => Date;
  onProgress?: (text: string) => void;
  /** Prometheus base URL (--prometheus-url). */
  prometheusUrl?: string | undefined;
  /** Raw instance payloads read through the pod proxy (support bundles keep them). */
  onPayload?: (namespace: string, pod: string, kind: 'pg-status' | 'metrics', body: string) => void;
}

/** One PostgreSQL instance (pod) to measure. */
export interface Instance {
  cs: ClusterSnapshot;
  podObj: KubeObject;
  pod: string;
  node: string | undefined;
  running: boolean;
  /** Mount path in the pod → PVC name. */
  mounts: Map<string, string>;
  /** PVC name per volume key (type/tablespace). */
  pvcByVolume: Map<string, string>;
}

/** One run of the fallback chain, shared by the sources it asks. */
export interface MeasureRun {
  client: KubeClient;
  opts: MeasureOptions;
  limit: LimitFunction;
  snaps: ClusterSnapshot[];
  instances: Instance[];
  /** The instances some fact of which is still unmeasured when this source's turn comes. */
  pending: Instance[];
  problems: string[];
  sources: SourceAttempt[];
  results: Map<string, InstanceMeasurement>;
  key: (namespace: string, pod: string) => string;
  /** The access check said this source may run in this namespace ('' = cluster-wide). */
  may: (source: SourceName, namespace: string) => boolean;
  m: (i: Instance) => InstanceMeasurement;
  needsFs: (i: Instance) => boolean;
  needsWal: (i: Instance) => boolean;
  /** Keeps the fuller WAL answer; true when this one was kept. */
  setWal: (i: Instance, w: WalHealth | undefined) => boolean;
  record: (source: SourceName, fact: FactKind, outcome: SourceAttempt['outcome'], detail?: string) => void;
}

export interface Source {
  readonly name: SourceName;
  /** The facts it can give (what a denied access leaves unanswered). */
  readonly facts: readonly FactKind[];
  /** Asked once for the whole cluster (nodes), not per namespace. */
  readonly clusterScoped: boolean;
  /** The access it needs in a namespace ('' for a cluster-scoped source); none beyond reading Clusters: []. */
  access(namespace: string): Access[];
  /** Fills what is still unmeasured in run.pending, and records its attempts. */
  measure(run: MeasureRun): Promise<void>;
}

/** WAL facts complete enough that a later source would add nothing the engine uses. */
export function walComplete(w: WalHealth | undefined): boolean {
  if (!w) return false;
  if (w.source === STATUS_ONLY_SOURCE) return false;
  return w.readyFiles !== undefined && w.slots !== undefined && (w.archiver !== undefined || w.isPrimary === false);
}

export function describeApiError(e: unknown): string {
  return e instanceof KubeApiError ? `${e.status ?? e.reason ?? 'error'}: ${e.message}` : String(e);
}
