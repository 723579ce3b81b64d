/**
 * The report types: what analysis makes of a snapshot, per cluster, instance
 * and volume. Evaluation (evaluate.ts) fills them; findings (findings.ts) and
 * every renderer read only them, never the raw snapshot.
 */
import type {
  ClusterShape,
  Decision,
  FilesystemFacts,
  LedgerEntry,
  PolicyIssue,
  PolicySource,
  PvcFacts,
  ResizePolicy,
  VolumeRef,
  WalHealth,
  WalSpaceExhausted,
} from '@cnpg-disk/core';
import type { Severity } from '../model/errors.js';
import type { AutoResizeEventView, StatusInstance } from '../sources/cluster-status.js';

export interface Finding {
  severity: Severity;
  /** Stable code scripts can match on. */
  code: string;
  /** namespace/cluster[/pod-or-pvc] */
  subject: string;
  message: string;
  /** The command that fixes or investigates it. */
  command?: string;
}

/** A Kubernetes Warning event, as findings read it. */
export interface WarningEvent {
  reason: string;
  /** involvedObject.kind / involvedObject.name */
  objectKind: string;
  objectName: string;
  /** The event's own name (when involvedObject.name is missing). */
  eventName: string;
  count: number;
  message: string;
}

export interface VolumeReport extends VolumeRef {
  pvc: PvcFacts;
  filesystem?: FilesystemFacts & { percentUsed: number };
  /** Why there is no `filesystem`, when a source's facts for it were rejected (malformed). */
  unmeasuredReason?: string;
  /**
   * Set on the volume that holds pg_wal when its instance is down because
   * CloudNativePG's instance manager found no room for one more WAL segment
   * (exit code 4): the engine treats that volume as full.
   */
  walSpaceExhausted?: WalSpaceExhausted;
  policy: { source: PolicySource; enabled: boolean; errors: PolicyIssue[] };
  /** The resolved policy, when valid. */
  resolvedPolicy?: ResizePolicy;
  decision?: Decision;
  lastResizes: LedgerEntry[];
  ledgerProblem?: string;
}

export interface InstanceReport {
  pod: string;
  role: 'primary' | 'replica' | 'unknown';
  phase?: string;
  ready: boolean;
  node?: string;
  restarts: number;
  /** Exit code of the postgres container's last termination, if any. */
  lastExitCode?: number;
  lastTerminationReason?: string;
  waiting?: string;
  /**
   * The postgres container is down (not running) and last exited with code 4:
   * CloudNativePG found no room for one more WAL segment. Gone once it runs again.
   */
  walSpaceExhausted?: WalSpaceExhausted;
  wal?: WalHealth;
  errors: string[];
}

/**
 * CloudNativePG's `ContinuousArchiving` condition on the Cluster status: the
 * operator's own judgement of WAL archiving (of the primary). A fallback fact
 * when no source gives the archiver's counters.
 */
export interface ContinuousArchivingCondition {
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ClusterReport {
  namespace: string;
  name: string;
  shape: ClusterShape;
  phase?: string;
  primary?: string;
  instances: InstanceReport[];
  volumes: VolumeReport[];
  findings: Finding[];
  /** What the operator publishes on the Cluster, per instance (status.diskStatus), read once here. */
  operatorStatus: StatusInstance[];
  /** status.conditions[type=ContinuousArchiving], when the operator sets it. */
  continuousArchiving?: ContinuousArchivingCondition;
  /** The operator's automatic resizes (status.autoResizeEvents). */
  autoResizeEvents: AutoResizeEventView[];
  /** Warning events about the cluster, its pods and PVCs. */
  warningEvents: WarningEvent[];
  /** Policy issues from every source, for display. */
  policyIssues: { source: PolicySource; issues: PolicyIssue[] }[];
  problems: string[];
}
