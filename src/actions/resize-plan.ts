/**
 * disk resize, the plan (pure): options checked, volumes selected, each
 * classified (resize, refuse, nothing to do) from the evaluation, and the
 * exit code of a plan and its results.
 */
import {
  formatBytes,
  type Decision,
  type PvcFacts,
  type ResizeEvent,
  type ResizePolicy,
  type VolumeType,
  type WalHealth,
} from '@cnpg-disk/core';

import { ExitCode, exitCodeForSeverities, usageError, type Severity } from '../model/errors.js';
import { type OutputFormat } from '../render/printer.js';
import type { IOStreams } from '../cli/io.js';
import { type ClusterReport, type VolumeReport } from '../analysis/evaluate.js';
import { nameOf } from '../model/kube-objects.js';

import type { ClusterSnapshot, KubeObject, Snapshot, SourceName } from '../model/snapshot.js';
import { volumeLabel } from '../render/common.js';

export const VOLUME_TYPES: readonly VolumeType[] = ['data', 'wal', 'tablespace'];

export interface DiskResizeOptions {
  cluster: string;
  namespace?: string | undefined;
  context?: string | undefined;
  fromBundle?: string | undefined;
  source: SourceName | 'auto';
  concurrency: number;
  prometheusUrl?: string | undefined;
  /** Filters. */
  instance?: string | undefined;
  volume?: VolumeType | undefined;
  tablespace?: string | undefined;
  /** Parsed --policy file. */
  policyFile?: unknown;
  output: OutputFormat;
  verbose: boolean;
  apply: boolean;
  yes: boolean;
  updateSpec: boolean;
  wait: boolean;
  /** --timeout of --wait, ms. */
  waitTimeoutMs: number;
  /** Poll interval of --wait, ms (default 2 s). */
  pollIntervalMs?: number;
  /** Create the Kubernetes Events on the PVCs, not only print them. */
  events: boolean;
  forceUnknownStorageClass: boolean;
  /**
   * --rescue: only the volume that holds pg_wal of an instance down on exit
   * code 4, decided with its policy switched on (docs/resize.md, Rescue).
   */
  rescue?: boolean | undefined;
  /** Writes attempted per PVC before giving up on conflicts (default 5). */
  maxAttempts?: number;
  /** The longest the write waits for CloudNativePG's metrics cache (tests; default WAL_RECHECK_MAX_WAIT_MS). */
  walRecheckMaxWaitMs?: number;
}

/** What the CLI will do with a volume. */
export type PlanAction =
  /** The engine says resize and nothing stops it. */
  | 'resize'
  /** The engine says resize but the CLI refuses (storage class, guard) or the policy is invalid. */
  | 'refuse'
  /** Nothing to do: disabled, or no resize needed. */
  | 'none'
  /** The engine holds: blocked, at the limit, an expansion in progress. */
  | 'hold'
  /** The last expansion failed. */
  | 'failed'
  /** Not enough facts to decide. */
  | 'unknown';

export type RefusalCode =
  | 'policy-invalid'
  | 'storage-class-not-expandable'
  | 'storage-class-unknown'
  | 'pvc-not-bound'
  | 'would-shrink'
  | 'over-limit';

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export interface ApplyResult {
  /** applied; not-applied (the fresh facts said otherwise, or conflicts persisted); failed (API error); declined (the user said no). */
  status: 'applied' | 'not-applied' | 'failed' | 'declined';
  message: string;
  attempts: number;
  conflicts: number;
  fromBytes?: bigint;
  toBytes?: bigint;
  /** The decision made again from a fresh read, after a conflict. */
  freshDecision?: Decision;
  /** The ledger annotation written. */
  ledger?: string;
  /** The PVC after the write. */
  pvcObject?: KubeObject;
}

export interface WaitResult {
  status: 'done' | 'failed' | 'timeout';
  /** Where the expansion stood last. */
  phase: 'controller' | 'node' | 'filesystem' | 'done' | 'failed';
  capacityBytes?: bigint;
  filesystemTotalBytes?: bigint;
  /** Whether a filesystem source confirmed the new size (false: no source measured this volume). */
  filesystemVerified: boolean;
  message: string;
  seconds: number;
}

/** How the WAL facts of a planned resize were confirmed, or why they could not be. */
export interface WalRecheck {
  /** exec: read live; rescrape: the same source after the cache's TTL; none: neither could. */
  how: 'exec' | 'rescrape' | 'none';
  /** confirmed: the same resize; changed: the fresh decision differs (acted on); stale: no fresh facts, no write. */
  outcome: 'confirmed' | 'changed' | 'stale';
  /** The first facts' time, and the fresh ones'. */
  staleObservedAt?: string;
  observedAt?: string;
  waitedSeconds?: number;
  message: string;
}

export interface PlanItem {
  volume: VolumeReport;
  /** The PVC as read when planning (its resourceVersion is the write's precondition). */
  pvcObject: KubeObject;
  walHealth?: WalHealth;
  /** The WAL facts read again right before the write (wal-recheck.ts). */
  walRecheck?: WalRecheck;
  action: PlanAction;
  refusal?: Refusal;
  result?: ApplyResult;
  events: ResizeEvent[];
  wait?: WaitResult;
}

export interface ResizePlan {
  snapshot: Snapshot;
  clusterSnapshot: ClusterSnapshot;
  report: ClusterReport;
  items: PlanItem[];
}

export interface SpecUpdate {
  /** data, wal or tbs:NAME */
  role: string;
  /** e.g. spec.walStorage.size, spec.tablespaces[0].storage.size */
  field: string;
  fromBytes?: bigint;
  toBytes: bigint;
  status: 'updated' | 'unchanged' | 'skipped' | 'failed';
  message: string;
}

// ---------------------------------------------------------------- options

/** Checks flag combinations before any request is made. */
export function checkResizeOptions(opts: DiskResizeOptions, io: Pick<IOStreams, 'isStdinTTY'>): void {
  if (!opts.cluster) throw usageError('name the Cluster to resize', 'e.g. kubectl cnpg disk resize main -n payments');
  if (opts.volume !== undefined && !VOLUME_TYPES.includes(opts.volume)) {
    throw usageError(`unknown volume type ${JSON.stringify(opts.volume)}; allowed: ${VOLUME_TYPES.join(', ')}`);
  }
  if (opts.tablespace !== undefined && opts.volume !== undefined && opts.volume !== 'tablespace') {
    throw usageError(`--tablespace selects a tablespace volume; it cannot be combined with --volume ${opts.volume}`);
  }
  if (!opts.apply) {
    for (const [flag, on] of [
      ['--yes', opts.yes],
      ['--update-spec', opts.updateSpec],
      ['--wait', opts.wait],
      ['--events', opts.events],
    ] as const) {
      if (on) throw usageError(`${flag} only makes sense with --apply`, 'preview first, then add --apply');
    }
    return;
  }
  if (opts.fromBundle) {
    throw usageError(
      '--apply cannot be used with --from-bundle: a bundle is a copy of the past, not the cluster',
      'run the preview on the bundle, then --apply against the live cluster',
    );
  }
  if (!opts.yes && !io.isStdinTTY) {
    throw usageError(
      'stdin is not a terminal, so the resize cannot be confirmed interactively',
      'pass --yes to apply without confirmation (after a preview)',
    );
  }
}

// ---------------------------------------------------------------- plan (pure)

export function largest(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/**
 * Refusals on top of the engine: a write the API server would reject, or one
 * that must never happen whatever the engine said (shrink, beyond the limit).
 * The last two cannot come out of the engine; they guard the write itself.
 */
export function refusalFor(
  pvcName: string,
  d: Decision,
  pvc: PvcFacts,
  policy: ResizePolicy | undefined,
  opts: { forceUnknownStorageClass: boolean },
): Refusal | undefined {
  const current = largest(pvc.requestBytes, pvc.capacityBytes);
  if (d.newBytes === undefined || (current !== undefined && d.newBytes <= current)) {
    return {
      code: 'would-shrink',
      message: `refusing to write ${d.newBytes === undefined ? 'no size' : formatBytes(d.newBytes)} to ${pvcName}: it is not above the current size ${current === undefined ? '(unknown)' : formatBytes(current)}, and a PVC is never shrunk`,
    };
  }
  const limit = policy?.expansion.limitBytes;
  if (limit !== undefined && d.newBytes > limit) {
    return {
      code: 'over-limit',
      message: `refusing to grow ${pvcName} to ${formatBytes(d.newBytes)}: that is beyond the policy limit ${formatBytes(limit)}`,
    };
  }
  if (pvc.allowVolumeExpansion === false) {
    return {
      code: 'storage-class-not-expandable',
      message: `storage class ${pvc.storageClass ?? '(none)'} of ${pvcName} does not allow volume expansion (allowVolumeExpansion is not true): the API server would reject the patch; move the volume to an expandable class`,
    };
  }
  if (pvc.allowVolumeExpansion === undefined && !opts.forceUnknownStorageClass) {
    return {
      code: 'storage-class-unknown',
      message: pvc.storageClass
        ? `storage class ${pvc.storageClass} of ${pvcName} could not be read, so whether it can expand is unknown; pass --force-unknown-storage-class to try (the API server still rejects a class that cannot expand)`
        : `${pvcName} names no storage class, so whether it can expand is unknown; pass --force-unknown-storage-class to try`,
    };
  }
  if (pvc.phase !== undefined && pvc.phase !== 'Bound') {
    return {
      code: 'pvc-not-bound',
      message: `${pvcName} is ${pvc.phase}, not Bound: only bound claims can be expanded`,
    };
  }
  return undefined;
}

function classify(v: VolumeReport, forceUnknownStorageClass: boolean): Pick<PlanItem, 'action' | 'refusal'> {
  if (v.policy.errors.length > 0) {
    const first = v.policy.errors[0];
    return {
      action: 'refuse',
      refusal: {
        code: 'policy-invalid',
        message: `the ${v.policy.source} policy for this volume has ${v.policy.errors.length} error(s)${first ? `, e.g. ${first.path}: ${first.message}` : ''} (see disk policy validate)`,
      },
    };
  }
  const d = v.decision;
  if (!d) return { action: 'unknown' };
  switch (d.verdict) {
    case 'resize': {
      const refusal = refusalFor(v.pvcName, d, v.pvc, v.resolvedPolicy, { forceUnknownStorageClass });
      return refusal ? { action: 'refuse', refusal } : { action: 'resize' };
    }
    case 'disabled':
    case 'none':
      return { action: 'none' };
    case 'blocked':
    case 'at-limit':
    case 'resize-in-progress':
      return { action: 'hold' };
    case 'resize-failed':
      return { action: 'failed' };
    case 'unknown':
      return { action: 'unknown' };
  }
}

/** Selects the volumes the filters name; a filter that names nothing is a usage error. */
function selectVolumes(report: ClusterReport, opts: DiskResizeOptions): VolumeReport[] {
  let vols = report.volumes;
  const where = `${report.namespace}/${report.name}`;
  if (opts.instance !== undefined) {
    const known = [...new Set(vols.map((v) => v.instance))];
    if (!known.includes(opts.instance)) {
      throw usageError(
        `${where} has no instance ${JSON.stringify(opts.instance)}`,
        `instances with volumes: ${known.join(', ') || 'none'}`,
      );
    }
    vols = vols.filter((v) => v.instance === opts.instance);
  }
  const type = opts.tablespace !== undefined ? 'tablespace' : opts.volume;
  if (type !== undefined) {
    const before = vols;
    vols = vols.filter((v) => v.type === type);
    if (opts.tablespace !== undefined) vols = vols.filter((v) => v.tablespace === opts.tablespace);
    if (vols.length === 0) {
      const known = [...new Set(before.map((v) => volumeLabel(v)))];
      throw usageError(
        `${where} has no ${opts.tablespace !== undefined ? `tablespace volume ${JSON.stringify(opts.tablespace)}` : `${type} volume`}${opts.instance ? ` on ${opts.instance}` : ''}`,
        `volumes: ${known.join(', ') || 'none'}`,
      );
    }
  }
  if (opts.rescue) {
    const down = vols.filter((v) => v.walSpaceExhausted);
    if (down.length === 0) {
      const any = report.volumes.filter((v) => v.walSpaceExhausted).map((v) => `${v.instance} (${v.type})`);
      throw usageError(
        `--rescue grows only the volume that holds pg_wal of an instance down on exit code 4 (disk full); ${where} has none${opts.instance || type ? ' among the selected volumes' : ''}`,
        any.length > 0 ? `down on exit code 4: ${any.join(', ')}` : 'without --rescue, the policy in force decides',
      );
    }
    vols = down;
  }
  return vols;
}

/** The plan for one evaluated cluster (pure). */
export function buildPlan(
  snapshot: Snapshot,
  cs: ClusterSnapshot,
  report: ClusterReport,
  opts: Pick<DiskResizeOptions, 'instance' | 'volume' | 'tablespace' | 'forceUnknownStorageClass' | 'rescue'>,
): ResizePlan {
  const wal = new Map(report.instances.map((i) => [i.pod, i.wal]));
  const pvcs = new Map(cs.pvcs.map((p) => [nameOf(p), p]));
  const items = selectVolumes(report, opts as DiskResizeOptions).map((v): PlanItem => {
    const walHealth = wal.get(v.instance);
    return {
      volume: v,
      pvcObject: pvcs.get(v.pvcName) ?? {},
      ...(walHealth ? { walHealth } : {}),
      ...classify(v, opts.forceUnknownStorageClass),
      events: [],
    };
  });
  return { snapshot, clusterSnapshot: cs, report, items };
}

// ---------------------------------------------------------------- exit code

const ACTION_SEVERITY: Record<PlanAction, Severity | 'ok' | 'unknown'> = {
  resize: 'ok',
  none: 'ok',
  hold: 'warning',
  refuse: 'critical',
  failed: 'critical',
  unknown: 'unknown',
};

function itemSeverity(i: PlanItem): Severity | 'ok' | 'unknown' | 'timeout' {
  if (i.wait?.status === 'failed') return 'critical';
  if (i.wait?.status === 'timeout') return 'timeout';
  if (i.result) {
    if (i.result.status === 'failed') return 'critical';
    if (i.result.status !== 'applied') return 'warning';
    return 'ok';
  }
  return ACTION_SEVERITY[i.action];
}

/**
 * 0: every selected volume resized or nothing to do; 1: something held
 * (blocked, at limit, in progress) or not applied; 2: refused, failed
 * expansion, failed write or failed --wait; 3: could not decide (no facts)
 * or --wait timed out.
 */
export function resizeExitCode(items: PlanItem[], specUpdates: SpecUpdate[] = []): ExitCode {
  const sev = items.map(itemSeverity);
  if (sev.includes('critical') || specUpdates.some((u) => u.status === 'failed')) return ExitCode.CRITICAL;
  if (sev.includes('timeout')) return ExitCode.UNKNOWN;
  return exitCodeForSeverities(sev.filter((s): s is Severity | 'ok' | 'unknown' => s !== 'timeout'));
}
