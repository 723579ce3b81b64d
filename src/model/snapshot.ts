/**
 * A snapshot: every fact a command needs, gathered once, as a plain value.
 * Live collection produces it; a support bundle stores it; --from-bundle
 * reads it back. Commands decide and render from a snapshot only, which is
 * why offline mode costs nothing extra.
 *
 * Kubernetes objects are kept as the API returned them (minus managedFields),
 * so live and offline runs go through the same parsing. Measured facts use
 * the core model; in JSON their byte counts are decimal strings.
 */
import type { FilesystemFacts, WalHealth } from '@cnpg-disk/core';

export type KubeObject = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string; [k: string]: unknown };
};

/** Where a fact came from (spec: least privilege first). */
export type SourceName = 'probe' | 'cluster-status' | 'pod-proxy' | 'exec' | 'kubelet-summary' | 'prometheus';
export const SOURCE_NAMES: readonly SourceName[] = [
  'probe',
  'cluster-status',
  'pod-proxy',
  'exec',
  'kubelet-summary',
  'prometheus',
];

export type FactKind = 'filesystem' | 'wal';

/** Which facts each source can give. */
export const SOURCE_FACTS: Readonly<Record<SourceName, readonly FactKind[]>> = {
  probe: ['filesystem', 'wal'],
  'cluster-status': ['filesystem', 'wal'],
  'pod-proxy': ['wal', 'filesystem'],
  exec: ['filesystem', 'wal'],
  'kubelet-summary': ['filesystem'],
  prometheus: ['filesystem', 'wal'],
};

/** What happened when a source was tried. */
export interface SourceAttempt {
  source: SourceName;
  fact: FactKind;
  outcome: 'used' | 'denied' | 'unreachable' | 'failed' | 'unavailable' | 'not-tried';
  /** For denied: the RBAC rule that would allow it, e.g. `get pods/proxy`. */
  permission?: string;
  detail?: string;
  /** Namespaces or nodes the attempt covered. */
  scope?: string;
}

/** What was measured for one instance (pod). */
export interface InstanceMeasurement {
  pod: string;
  /** Filesystem facts per PVC name. */
  filesystems: Record<string, FilesystemFacts>;
  wal?: WalHealth;
  /** Problems measuring this instance (one sentence each). */
  errors: string[];
}

export interface ClusterSnapshot {
  namespace: string;
  name: string;
  cluster: KubeObject;
  pods: KubeObject[];
  pvcs: KubeObject[];
  events: KubeObject[];
  measurements: InstanceMeasurement[];
}

export interface Snapshot {
  /** RFC 3339. */
  collectedAt: string;
  /** Where it came from: the API server URL and context, or a bundle file. */
  origin: { kind: 'live'; server: string; context: string } | { kind: 'bundle'; file: string; collectedFrom?: string };
  namespaces: string[] | 'all';
  clusters: ClusterSnapshot[];
  storageClasses: KubeObject[];
  sources: SourceAttempt[];
  /** Problems that did not stop the collection (one sentence each). */
  problems: string[];
}
