/**
 * disk resize CLUSTER: the engine's plan for each volume, and with --apply
 * the writes that perform it.
 *
 *   gather → evaluate → plan (pure) → render → [confirm → apply → events →
 *   spec update → wait] → exit code
 *
 * The one write per PVC carries the new request, the ledger entry and the
 * resourceVersion the decision was made on. On 409 Conflict the PVC is read
 * again and the decision is made again from the fresh request, capacity,
 * conditions and ledger: a second run that lost the race sees the first
 * run's request above the capacity (resize-in-progress) or its ledger entry
 * (budget), and never resizes twice. docs/resize.md describes all of it.
 */
import {
  addLedgerEntry,
  decide,
  eventsForAppliedResize,
  eventsForDecision,
  formatBytes,
  FS_MISMATCH_MIN_BYTES,
  FS_MISMATCH_RATIO_PERCENT,
  LEDGER_ANNOTATION,
  parseBytes,
  parseLedger,
  serializeLedger,
  type Decision,
  type FilesystemFacts,
  type PvcFacts,
  type ResizeEvent,
  type ResizePolicy,
  type VolumeType,
  type WalHealth,
} from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import { ExitCode, exitCodeForSeverities, usageError, type Severity } from '../cli/errors.js';
import { document, paint, printDocument, type OutputFormat } from '../cli/output.js';
import type { IOStreams } from '../cli/io.js';
import { evaluateCluster, type ClusterReport, type VolumeReport } from '../analysis/evaluate.js';
import { annotations, arr, get, isObj, nameOf, pvcFacts, str } from '../analysis/kube-objects.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import {
  createPvcEvent,
  getCluster,
  getPvc,
  listEventsFor,
  patchClusterSpec,
  patchPvcResize,
} from '../kube/pvc-write.js';
import { renderTable } from '../render/table.js';
import { sanitize } from '../render/sanitize.js';
import { usageText, sourcesLine } from '../render/common.js';
import type { ClusterSnapshot, KubeObject, Snapshot, SourceName } from '../snapshot/types.js';
import { clusterFields, requireSomeFacts, volumeFields, volumeLabel } from './disk-status.js';
import { gatherSnapshot, requireCluster, snapshotHeader } from './gather.js';

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
  /** Writes attempted per PVC before giving up on conflicts (default 5). */
  maxAttempts?: number;
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

export interface PlanItem {
  volume: VolumeReport;
  /** The PVC as read when planning (its resourceVersion is the write's precondition). */
  pvcObject: KubeObject;
  walHealth?: WalHealth;
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

function largest(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
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
  return vols;
}

/** The plan for one evaluated cluster (pure). */
export function buildPlan(
  snapshot: Snapshot,
  cs: ClusterSnapshot,
  report: ClusterReport,
  opts: Pick<DiskResizeOptions, 'instance' | 'volume' | 'tablespace' | 'forceUnknownStorageClass'>,
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

// ---------------------------------------------------------------- rendering

function q(b: bigint | undefined): string {
  return b === undefined ? '-' : formatBytes(b);
}

function verdictText(i: PlanItem): string {
  if (i.action === 'refuse') return i.refusal?.code === 'policy-invalid' ? 'policy-invalid' : 'refused';
  const d = i.volume.decision;
  if (!d) return '-';
  return d.verdict === 'blocked' && d.reason ? `blocked/${d.reason}` : d.verdict;
}

function reasonText(i: PlanItem): string {
  if (i.refusal) return i.refusal.message;
  return i.volume.decision?.message ?? '-';
}

function resultText(i: PlanItem): string {
  if (!i.result) return '-';
  const w = i.wait ? ` (${i.wait.status === 'done' ? 'expanded' : `wait: ${i.wait.status}`})` : '';
  return `${i.result.status}${w}`;
}

export function planTable(plan: ResizePlan, wide: boolean, withResult: boolean): string {
  const head = ['INSTANCE', 'VOLUME', 'CURRENT', 'NEW', 'STEP', 'VERDICT', 'REASON'];
  if (wide) head.splice(6, 0, 'PVC', 'STORAGECLASS', 'EXPAND', 'USE%', 'POLICY', 'BUDGET');
  if (withResult) head.push('RESULT');
  const rows = plan.items.map((i) => {
    const v = i.volume;
    const d = v.decision;
    const current = d?.currentBytes ?? largest(v.pvc.requestBytes, v.pvc.capacityBytes);
    const row = [
      v.instance,
      volumeLabel(v),
      q(current),
      q(d?.verdict === 'resize' ? d.newBytes : undefined),
      q(d?.verdict === 'resize' ? d.stepBytes : undefined),
      verdictText(i),
    ];
    if (wide) {
      const b = d?.budget;
      row.push(
        v.pvcName,
        v.pvc.storageClass ?? '-',
        v.pvc.allowVolumeExpansion === undefined ? '?' : v.pvc.allowVolumeExpansion ? 'yes' : 'no',
        usageText(v),
        `${v.policy.enabled ? 'on' : 'off'} (${v.policy.source})`,
        b ? `${b.remaining}/${b.max}` : '-',
      );
    }
    row.push(reasonText(i));
    if (withResult) row.push(resultText(i));
    return row;
  });
  return renderTable(head, rows);
}

function traceText(plan: ResizePlan): string {
  return sanitize(traceLines(plan), { keepNewlines: true });
}

function traceLines(plan: ResizePlan): string {
  let out = '';
  for (const i of plan.items) {
    const d = i.result?.freshDecision ?? i.volume.decision;
    if (!d) continue;
    out += `\n${i.volume.pvcName} (${volumeLabel(i.volume)}): ${d.verdict}${i.result?.freshDecision ? ' (after re-reading the PVC)' : ''}\n`;
    for (const t of d.trace) out += `  ${t.outcome.padEnd(4)} ${t.check}: ${t.message}\n`;
    for (const w of d.warnings) out += `  warning: ${w.message}\n`;
  }
  return out;
}

function decisionDoc(d: Decision | undefined): Record<string, unknown> | undefined {
  if (!d) return undefined;
  return {
    verdict: d.verdict,
    reason: d.reason,
    message: d.message,
    currentBytes: d.currentBytes,
    newBytes: d.newBytes,
    stepBytes: d.stepBytes,
    percentUsed: d.percentUsed,
    walSafetyApplies: d.walSafetyApplies,
    budget: d.budget,
    warnings: d.warnings,
    trace: d.trace,
  };
}

export function planDocument(
  plan: ResizePlan,
  mode: 'preview' | 'apply',
  specUpdates: SpecUpdate[] | undefined,
  exitCode: ExitCode,
): Record<string, unknown> {
  const { snapshot, report } = plan;
  const count = (a: PlanAction) => plan.items.filter((i) => i.action === a).length;
  return document('ResizePlan', {
    mode,
    ...snapshotHeader(snapshot, report.problems),
    cluster: clusterFields(report),
    policyIssues: report.policyIssues,
    summary: {
      volumes: plan.items.length,
      resize: count('resize'),
      refused: count('refuse'),
      nothingToDo: count('none'),
      held: count('hold'),
      failed: count('failed'),
      unknown: count('unknown'),
      ...(mode === 'apply'
        ? { applied: plan.items.filter((i) => i.result?.status === 'applied').length, exitCode }
        : { exitCode }),
    },
    volumes: plan.items.map((i) => {
      const v = i.volume;
      return {
        ...volumeFields(v),
        resourceVersion: v.pvc.resourceVersion,
        filesystem: v.filesystem,
        walSpaceExhausted: v.walSpaceExhausted,
        policy: v.policy,
        action: i.action,
        refusal: i.refusal,
        decision: decisionDoc(v.decision),
        lastResizes: v.lastResizes,
        ledgerProblem: v.ledgerProblem,
        events:
          i.events.length > 0 ? i.events.map(({ type, reason, message }) => ({ type, reason, message })) : undefined,
        result: i.result && {
          status: i.result.status,
          message: i.result.message,
          attempts: i.result.attempts,
          conflicts: i.result.conflicts,
          fromBytes: i.result.fromBytes,
          toBytes: i.result.toBytes,
          ledger: i.result.ledger,
          freshDecision: decisionDoc(i.result.freshDecision),
        },
        wait: i.wait,
      };
    }),
    specUpdates,
  });
}

// ---------------------------------------------------------------- apply

export interface ApplyContext {
  client: KubeClient;
  now: () => Date;
  storageClasses: KubeObject[];
  report: ClusterReport;
  forceUnknownStorageClass: boolean;
  maxAttempts: number;
}

function apiMessage(e: unknown): string {
  if (e instanceof KubeApiError) return `${e.status ?? e.reason ?? 'error'}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Performs one planned resize: one merge patch with the new request, the
 * ledger entry and the resourceVersion precondition. On 409 the PVC is read
 * again and the decision made again from its fresh facts; the write is
 * retried only when that decision is still the planned resize.
 */
export async function applyResize(item: PlanItem, ctx: ApplyContext): Promise<ApplyResult> {
  const v = item.volume;
  const planned = v.decision;
  const policy = v.resolvedPolicy;
  if (!planned || planned.verdict !== 'resize' || planned.newBytes === undefined || !policy) {
    return { status: 'not-applied', message: 'nothing planned for this volume', attempts: 0, conflicts: 0 };
  }
  const { client } = ctx;
  let raw = item.pvcObject;
  let decision = planned;
  let conflicts = 0;
  let freshDecision: Decision | undefined;
  for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
    const now = ctx.now().getTime();
    const facts = pvcFacts(raw, ctx.storageClasses, []);
    const ledger = parseLedger(annotations(raw)[LEDGER_ANNOTATION]);
    if (attempt > 1) {
      // Decide again: the fresh request, capacity, conditions and ledger.
      decision = decide({
        volume: v,
        cluster: ctx.report.shape,
        policy,
        pvc: facts,
        ...(v.filesystem ? { filesystem: v.filesystem } : {}),
        ledger,
        ...(item.walHealth ? { walHealth: item.walHealth } : {}),
        ...(v.walSpaceExhausted ? { walSpaceExhausted: v.walSpaceExhausted } : {}),
        now,
      });
      freshDecision = decision;
      const base = { attempts: attempt - 1, conflicts, freshDecision };
      if (decision.verdict !== 'resize' || decision.newBytes === undefined) {
        return {
          status: 'not-applied',
          message: `the PVC changed while this run was deciding (another run or a person?); read again, it is ${decision.verdict}: ${decision.message}`,
          ...base,
        };
      }
      if (decision.newBytes !== planned.newBytes) {
        return {
          status: 'not-applied',
          message: `the PVC changed while this run was deciding; the engine now plans ${formatBytes(decision.currentBytes ?? 0n)} → ${formatBytes(decision.newBytes)} instead of ${formatBytes(planned.newBytes)}, which was not the plan shown; run again`,
          ...base,
        };
      }
    }
    const refusal = refusalFor(v.pvcName, decision, facts, policy, {
      forceUnknownStorageClass: ctx.forceUnknownStorageClass,
    });
    if (refusal) {
      return {
        status: 'not-applied',
        message: refusal.message,
        attempts: attempt - 1,
        conflicts,
        ...(freshDecision ? { freshDecision } : {}),
      };
    }
    const rv = facts.resourceVersion;
    if (!rv) {
      return {
        status: 'failed',
        message: `${v.pvcName} has no resourceVersion, so the write cannot be made safe against concurrent changes`,
        attempts: attempt - 1,
        conflicts,
      };
    }
    const fromBytes = decision.currentBytes as bigint;
    const toBytes = decision.newBytes as bigint;
    const ledgerText = serializeLedger(
      addLedgerEntry(ledger, { at: new Date(now).toISOString(), fromBytes, toBytes, by: 'engine' }, now),
    );
    try {
      const updated = await patchPvcResize(client, v.namespace, v.pvcName, {
        resourceVersion: rv,
        storage: formatBytes(toBytes),
        annotations: { [LEDGER_ANNOTATION]: ledgerText },
      });
      return {
        status: 'applied',
        message: `resized ${formatBytes(fromBytes)} → ${formatBytes(toBytes)}${conflicts ? ` after ${conflicts} conflict(s)` : ''}`,
        attempts: attempt,
        conflicts,
        fromBytes,
        toBytes,
        ledger: ledgerText,
        pvcObject: updated,
        ...(freshDecision ? { freshDecision } : {}),
      };
    } catch (e) {
      if (e instanceof KubeApiError && e.isConflict) {
        conflicts++;
        try {
          raw = await getPvc(client, v.namespace, v.pvcName);
        } catch (g) {
          return {
            status: 'failed',
            message: `the write conflicted and re-reading ${v.pvcName} failed (${apiMessage(g)})`,
            attempts: attempt,
            conflicts,
          };
        }
        continue;
      }
      const forbidden = e instanceof KubeApiError && e.isForbidden;
      const rbac = forbidden && /cannot patch/i.test(e.message);
      return {
        status: 'failed',
        message: `the API server refused the patch (${apiMessage(e)})${rbac ? `; grant "patch persistentvolumeclaims" in namespace ${v.namespace}` : ''}`,
        attempts: attempt,
        conflicts,
      };
    }
  }
  return {
    status: 'not-applied',
    message: `gave up after ${conflicts} conflicting writes in a row: ${v.pvcName} keeps changing; run again`,
    attempts: ctx.maxAttempts,
    conflicts,
    ...(freshDecision ? { freshDecision } : {}),
  };
}

// ---------------------------------------------------------------- events

function eventsFor(i: PlanItem): ResizeEvent[] {
  const v = i.volume;
  if (i.result?.status === 'applied') {
    const d = i.result.freshDecision ?? v.decision;
    return d && v.resolvedPolicy ? eventsForAppliedResize(v, d, v.resolvedPolicy) : [];
  }
  const d = i.result?.freshDecision ?? v.decision;
  return d && i.action !== 'refuse' ? eventsForDecision(v, d) : [];
}

async function createEvents(client: KubeClient, plan: ResizePlan, now: Date, io: IOStreams): Promise<void> {
  for (const i of plan.items) {
    if (i.events.length === 0) continue;
    const v = i.volume;
    let existing: KubeObject[] = [];
    try {
      existing = await listEventsFor(client, v.namespace, 'PersistentVolumeClaim', v.pvcName);
    } catch (e) {
      io.stderr(`warning: cannot list events of ${v.pvcName} (${apiMessage(e)}); creating them anyway\n`);
    }
    for (const e of i.events) {
      // The same condition is not announced again (an event with the same reason and message exists).
      if (existing.some((x) => str(x, 'reason') === e.reason && str(x, 'message') === e.message)) continue;
      try {
        await createPvcEvent(client, i.result?.pvcObject ?? i.pvcObject, e, now);
      } catch (err) {
        io.stderr(
          `warning: could not create event ${e.reason} on ${v.pvcName} (${apiMessage(err)}); grant "create events" in namespace ${v.namespace}\n`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------- spec update

interface RoleTarget {
  role: string;
  type: VolumeType;
  tablespace?: string;
  bytes: bigint;
}

/** Per resized role: the largest PVC of that role (after the writes). */
function roleTargets(plan: ResizePlan): RoleTarget[] {
  const applied = plan.items.filter((i) => i.result?.status === 'applied');
  const newSize = new Map(applied.map((i) => [i.volume.pvcName, i.result?.toBytes]));
  const out = new Map<string, RoleTarget>();
  for (const i of applied) {
    const v = i.volume;
    const role = volumeLabel(v);
    if (out.has(role)) continue;
    let bytes = 0n;
    for (const o of plan.report.volumes) {
      if (o.type !== v.type || o.tablespace !== v.tablespace) continue;
      const size = largest(newSize.get(o.pvcName), largest(o.pvc.requestBytes, o.pvc.capacityBytes)) ?? 0n;
      if (size > bytes) bytes = size;
    }
    out.set(role, { role, type: v.type, ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}), bytes });
  }
  return [...out.values()];
}

function specSizeOf(cluster: KubeObject, t: RoleTarget): { field: string; text?: string; index?: number } {
  const spec = get(cluster, 'spec');
  if (t.type === 'data') return { field: 'spec.storage.size', text: str(spec, 'storage', 'size') };
  if (t.type === 'wal') return { field: 'spec.walStorage.size', text: str(spec, 'walStorage', 'size') };
  const index = arr(spec, 'tablespaces').findIndex((x) => str(x, 'name') === t.tablespace);
  if (index < 0) return { field: `spec.tablespaces[name=${t.tablespace ?? ''}]` };
  return {
    field: `spec.tablespaces[${index}].storage.size`,
    text: str(spec, 'tablespaces', index, 'storage', 'size'),
    index,
  };
}

/** Compares the Cluster's sizes with the targets; returns the updates and the spec merge patch. */
function specChanges(
  cluster: KubeObject,
  targets: RoleTarget[],
): { updates: SpecUpdate[]; patch: Record<string, unknown> | undefined } {
  const updates: SpecUpdate[] = [];
  const patch: Record<string, unknown> = {};
  let tablespaces: unknown[] | undefined;
  for (const t of targets) {
    const s = specSizeOf(cluster, t);
    const base = { role: t.role, field: s.field, toBytes: t.bytes };
    if (s.text === undefined) {
      updates.push({
        ...base,
        status: 'skipped',
        message: `${s.field} is not set (a pvcTemplate?); not changed`,
      });
      continue;
    }
    let from: bigint;
    try {
      from = parseBytes(s.text);
    } catch {
      updates.push({ ...base, status: 'skipped', message: `${s.field} (${s.text}) is not a quantity; not changed` });
      continue;
    }
    if (from >= t.bytes) {
      updates.push({
        ...base,
        fromBytes: from,
        status: 'unchanged',
        message: `${s.field} is already ${s.text}`,
      });
      continue;
    }
    const size = formatBytes(t.bytes);
    updates.push({
      ...base,
      fromBytes: from,
      status: 'updated',
      message: `${s.field} ${s.text} → ${size}`,
    });
    if (t.type === 'data') patch['storage'] = { size };
    else if (t.type === 'wal') patch['walStorage'] = { size };
    else {
      // A merge patch replaces lists whole: send the fresh list with the one size changed
      // (safe: the resourceVersion precondition rejects it if the list changed meanwhile).
      tablespaces ??= structuredClone(arr(get(cluster, 'spec'), 'tablespaces'));
      const entry = tablespaces[s.index as number];
      if (isObj(entry)) {
        const storage = isObj(entry['storage']) ? entry['storage'] : {};
        entry['storage'] = { ...storage, size };
      }
    }
  }
  if (tablespaces) patch['tablespaces'] = tablespaces;
  return { updates, patch: Object.keys(patch).length > 0 ? patch : undefined };
}

/** --update-spec: raises the Cluster's sizes to the largest PVC of each resized role, never lowers them. */
export async function updateClusterSpec(plan: ResizePlan, ctx: ApplyContext): Promise<SpecUpdate[]> {
  const targets = roleTargets(plan);
  if (targets.length === 0) return [];
  const { client } = ctx;
  const { namespace, name } = plan.report;
  let cluster = plan.clusterSnapshot.cluster;
  let last: SpecUpdate[] = [];
  for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
    const { updates, patch } = specChanges(cluster, targets);
    last = updates;
    if (!patch) return updates;
    const rv = str(cluster, 'metadata', 'resourceVersion');
    const failed = (e: unknown) =>
      updates.map((u) =>
        u.status === 'updated'
          ? { ...u, status: 'failed' as const, message: `${u.message} failed: ${apiMessage(e)}` }
          : u,
      );
    try {
      if (!rv) throw new Error('the Cluster has no resourceVersion');
      await patchClusterSpec(client, namespace, name, rv, patch);
      return updates;
    } catch (e) {
      if (!(e instanceof KubeApiError && e.isConflict && attempt < ctx.maxAttempts)) return failed(e);
    }
    try {
      cluster = await getCluster(client, namespace, name);
    } catch (e) {
      return failed(e);
    }
  }
  return last;
}

// ---------------------------------------------------------------- wait

const FAILED_CONDITIONS = ['ControllerResizeError', 'NodeResizeError'];
const FAILED_ALLOCATED = [
  'ControllerResizeInfeasible',
  'NodeResizeInfeasible',
  'ControllerResizeFailed',
  'NodeResizeFailed',
];
const NODE_ALLOCATED = ['NodeResizePending', 'NodeResizeInProgress'];

export type ExpansionState =
  | { state: 'failed'; detail: string }
  | { state: 'controller' | 'node'; detail: string }
  | { state: 'capacity-reached'; detail: string };

/** Where a PVC's expansion to `target` stands, from its status alone. */
export function expansionState(pvc: PvcFacts, target: bigint): ExpansionState {
  const on = (types: string[]) => pvc.conditions.find((c) => types.includes(c.type) && c.status === 'True');
  const failed = on(FAILED_CONDITIONS);
  if (failed) return { state: 'failed', detail: `${failed.type}: ${failed.message ?? failed.reason ?? 'no message'}` };
  const alloc = pvc.allocatedResourceStatus;
  if (alloc && FAILED_ALLOCATED.includes(alloc)) {
    return { state: 'failed', detail: `status.allocatedResourceStatuses.storage is ${alloc}` };
  }
  const capacity = pvc.capacityBytes;
  const fsPending = on(['FileSystemResizePending']);
  if (fsPending || (alloc && NODE_ALLOCATED.includes(alloc))) {
    return {
      state: 'node',
      detail: fsPending
        ? `waiting for the node to grow the filesystem (FileSystemResizePending${fsPending.message ? `: ${fsPending.message}` : ''})`
        : `status.allocatedResourceStatuses.storage is ${alloc}`,
    };
  }
  const resizing = on(['Resizing']);
  if (resizing || alloc === 'ControllerResizeInProgress' || capacity === undefined || capacity < target) {
    return {
      state: 'controller',
      detail: `capacity ${q(capacity)} of ${formatBytes(target)}${resizing ? ' (Resizing)' : alloc ? ` (${alloc})` : ''}: waiting for the storage driver`,
    };
  }
  return { state: 'capacity-reached', detail: `capacity ${formatBytes(capacity)}` };
}

/** Whether a filesystem has caught up with the capacity (the engine's "clearly smaller" rule, inverted). */
export function filesystemCaughtUp(capacity: bigint, fs: Pick<FilesystemFacts, 'totalBytes'>): boolean {
  const gap = capacity - fs.totalBytes;
  return !(gap > (capacity * FS_MISMATCH_RATIO_PERCENT) / 100n && gap > FS_MISMATCH_MIN_BYTES);
}

export interface WaitContext {
  client: KubeClient;
  io: IOStreams;
  storageClasses: KubeObject[];
  timeoutMs: number;
  pollIntervalMs: number;
  /** When the writes started: older events are not about this expansion. */
  since: number;
  /** Measures the cluster's filesystems again (a fresh snapshot). */
  remeasure: () => Promise<Snapshot>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function latestWarning(client: KubeClient, namespace: string, pvc: string, since: number): Promise<string> {
  try {
    const events = await listEventsFor(client, namespace, 'PersistentVolumeClaim', pvc);
    const warnings = events
      .filter((e) => str(e, 'type') === 'Warning')
      .map((e) => ({
        e,
        at: Date.parse(str(e, 'lastTimestamp') ?? str(e, 'eventTime') ?? str(e, 'metadata', 'creationTimestamp') ?? ''),
      }))
      // Event times have whole seconds.
      .filter((x) => Number.isNaN(x.at) || x.at >= since - 2000)
      .sort((a, b) => a.at - b.at);
    const last = warnings[warnings.length - 1]?.e;
    return last ? `; last event ${str(last, 'reason') ?? ''}: ${str(last, 'message') ?? ''}` : '';
  } catch {
    return '';
  }
}

/** --wait: follows every applied resize to the filesystem (or to a failure, or the timeout). */
export async function waitForExpansions(items: PlanItem[], ctx: WaitContext): Promise<void> {
  const started = Date.now();
  const deadline = started + ctx.timeoutMs;
  const seconds = () => Math.round((Date.now() - started) / 1000);
  interface Pending {
    item: PlanItem;
    target: bigint;
    phase: WaitResult['phase'];
    detail: string;
    capacity?: bigint;
    fsTotal?: bigint;
  }
  const pending: Pending[] = items
    .filter((i) => i.result?.status === 'applied' && i.result.toBytes !== undefined)
    .map((i) => ({ item: i, target: i.result?.toBytes as bigint, phase: 'controller', detail: 'not read yet' }));
  const say = (p: Pending, text: string) => ctx.io.stderr(`wait: ${p.item.volume.pvcName}: ${text}\n`);
  const finish = (p: Pending, status: WaitResult['status'], message: string, verified: boolean) => {
    p.item.wait = {
      status,
      phase: status === 'done' ? 'done' : status === 'failed' ? 'failed' : p.phase,
      ...(p.capacity !== undefined ? { capacityBytes: p.capacity } : {}),
      ...(p.fsTotal !== undefined ? { filesystemTotalBytes: p.fsTotal } : {}),
      filesystemVerified: verified,
      message,
      seconds: seconds(),
    };
  };
  let open = [...pending];
  while (open.length > 0) {
    for (const p of open) {
      const v = p.item.volume;
      let facts: PvcFacts;
      try {
        facts = pvcFacts(await getPvc(ctx.client, v.namespace, v.pvcName), ctx.storageClasses, []);
      } catch (e) {
        p.detail = `cannot read the PVC (${apiMessage(e)})`;
        continue;
      }
      if (facts.capacityBytes !== undefined) p.capacity = facts.capacityBytes;
      const s = expansionState(facts, p.target);
      if (s.state === 'failed') {
        const ev = await latestWarning(ctx.client, v.namespace, v.pvcName, ctx.since);
        p.phase = 'failed';
        finish(p, 'failed', `expansion failed: ${s.detail}${ev}`, false);
        say(p, `FAILED: ${s.detail}${ev}`);
        continue;
      }
      const phase = s.state === 'capacity-reached' ? 'filesystem' : s.state;
      if (phase !== p.phase || s.detail !== p.detail) say(p, s.detail);
      p.phase = phase;
      p.detail = s.detail;
      if (phase === 'filesystem' && !p.item.volume.filesystem) {
        finish(
          p,
          'done',
          `capacity ${q(p.capacity)} reached; the filesystem size was not verified (no source measured this volume)`,
          false,
        );
        say(p, 'capacity reached (filesystem not verified: no source measured it)');
      }
    }
    open = open.filter((p) => !p.item.wait);
    const fsOpen = open.filter((p) => p.phase === 'filesystem');
    if (fsOpen.length > 0) {
      try {
        const snap = await ctx.remeasure();
        const byPvc = new Map<string, FilesystemFacts>();
        for (const c of snap.clusters)
          for (const m of c.measurements) for (const [k, f] of Object.entries(m.filesystems)) byPvc.set(k, f);
        for (const p of fsOpen) {
          const f = byPvc.get(p.item.volume.pvcName);
          if (!f) {
            p.detail = 'capacity reached; the filesystem could not be measured this time';
            continue;
          }
          p.fsTotal = f.totalBytes;
          if (p.capacity !== undefined && filesystemCaughtUp(p.capacity, f)) {
            finish(
              p,
              'done',
              `expanded: capacity ${q(p.capacity)}, filesystem ${formatBytes(f.totalBytes)} (${f.source ?? 'measured'})`,
              true,
            );
            say(p, `done: filesystem ${formatBytes(f.totalBytes)}`);
          } else {
            p.detail = `capacity ${q(p.capacity)} reached; the filesystem is still ${formatBytes(f.totalBytes)}`;
          }
        }
      } catch (e) {
        for (const p of fsOpen) p.detail = `capacity reached; measuring the filesystem failed (${apiMessage(e)})`;
      }
      open = open.filter((p) => !p.item.wait);
    }
    if (open.length === 0) break;
    if (Date.now() + ctx.pollIntervalMs > deadline) {
      for (const p of open) {
        const v = p.item.volume;
        const ev = await latestWarning(ctx.client, v.namespace, v.pvcName, ctx.since);
        finish(p, 'timeout', `timed out after ${seconds()} s: ${p.detail}${ev}`, false);
        say(p, `TIMEOUT: ${p.detail}${ev}`);
      }
      break;
    }
    await sleep(ctx.pollIntervalMs);
  }
}

// ---------------------------------------------------------------- run

function describeTodo(items: PlanItem[]): string {
  return items
    .map((i) => `${i.volume.pvcName} ${q(i.volume.decision?.currentBytes)} → ${q(i.volume.decision?.newBytes)}`)
    .join(', ');
}

export async function runDiskResize(opts: DiskResizeOptions, deps: Deps): Promise<ExitCode> {
  const { io } = deps;
  checkResizeOptions(opts, io);
  const scope = {
    namespace: opts.namespace,
    allNamespaces: false,
    cluster: opts.cluster,
    fromBundle: opts.fromBundle,
    source: opts.source,
    concurrency: opts.concurrency,
    context: opts.context,
    prometheusUrl: opts.prometheusUrl,
    measure: true,
  };
  const snapshot = await gatherSnapshot(scope, deps);
  const cs = requireCluster(snapshot, opts, deps);
  const report = evaluateCluster(cs, snapshot.storageClasses, {
    now: deps.now().getTime(),
    ...(opts.policyFile !== undefined ? { policyFile: opts.policyFile } : {}),
  });
  requireSomeFacts(snapshot, [report]);
  const plan = buildPlan(snapshot, cs, report, opts);
  const machine = opts.output === 'json' || opts.output === 'yaml';
  const wide = opts.output === 'wide';
  const mode = opts.apply ? 'apply' : 'preview';

  const todo = plan.items.filter((i) => i.action === 'resize');
  if (!machine) {
    io.stderr(sourcesLine(snapshot, opts.verbose));
    if (opts.verbose) for (const p of report.problems) io.stderr(`  problem: ${p}\n`);
    // With --yes and something to apply, the outcome table (below) is the only one.
    if (!opts.apply || !opts.yes || todo.length === 0) {
      io.stdout(planTable(plan, wide, false));
      if (opts.verbose) io.stdout(traceText(plan));
    }
  }
  const done = (specUpdates?: SpecUpdate[]): ExitCode => {
    const code = resizeExitCode(plan.items, specUpdates);
    if (machine) printDocument(io, opts.output as 'json' | 'yaml', planDocument(plan, mode, specUpdates, code));
    return code;
  };
  if (!opts.apply) {
    if (!machine && todo.length > 0) {
      io.stderr(`preview only: add --apply to resize ${todo.length} volume(s): ${describeTodo(todo)}\n`);
    }
    return done();
  }
  if (todo.length === 0) {
    io.stderr(`nothing to apply for ${report.namespace}/${report.name}\n`);
    for (const i of plan.items) io.stderr(`  ${i.volume.pvcName}: ${reasonText(i)}\n`);
  } else if (!opts.yes) {
    const ok = await io.confirm(
      `Resize ${todo.length} PVC(s) of ${report.namespace}/${report.name}: ${describeTodo(todo)}?`,
    );
    if (!ok) {
      for (const i of todo) {
        i.result = { status: 'declined', message: 'not confirmed; nothing changed', attempts: 0, conflicts: 0 };
      }
      io.stderr('not confirmed: nothing changed\n');
      return done();
    }
  }

  const client = deps.kube();
  const ctx: ApplyContext = {
    client,
    now: deps.now,
    storageClasses: snapshot.storageClasses,
    report,
    forceUnknownStorageClass: opts.forceUnknownStorageClass,
    maxAttempts: opts.maxAttempts ?? 5,
  };
  const applyStarted = Date.now();
  for (const i of todo) {
    i.result = await applyResize(i, ctx);
    const r = i.result;
    const label = `${i.volume.pvcName} (${volumeLabel(i.volume)})`;
    if (r.status === 'applied') io.stderr(`${paint(io, 'green', 'resized')} ${label}: ${r.message}\n`);
    else io.stderr(`${paint(io, r.status === 'failed' ? 'red' : 'yellow', `${r.status}`)} ${label}: ${r.message}\n`);
  }

  // Events, also when nothing was applied (blocked, in progress...): printed
  // always, created on the PVCs only with --events.
  for (const i of plan.items) {
    i.events = eventsFor(i);
    for (const e of i.events)
      io.stderr(`event: ${e.type} ${e.reason} ${i.volume.namespace}/${i.volume.pvcName}: ${e.message}\n`);
  }
  if (opts.events) await createEvents(client, plan, deps.now(), io);
  if (todo.length === 0) return done();

  let specUpdates: SpecUpdate[] | undefined;
  const applied = plan.items.filter((i) => i.result?.status === 'applied');
  if (applied.length > 0) {
    if (opts.updateSpec) {
      specUpdates = await updateClusterSpec(plan, ctx);
      for (const u of specUpdates) io.stderr(`spec: ${u.status}: ${u.message}\n`);
      if (specUpdates.some((u) => u.status === 'updated')) {
        io.stderr(
          `warning: the Cluster ${report.namespace}/${report.name} was changed in the API server only; if it is managed by GitOps (Argo CD, Flux, Helm), update its manifest in Git too, or the next sync sets the old size back (the PVCs stay larger: nothing shrinks)\n`,
        );
      }
    } else {
      const { updates } = specChanges(cs.cluster, roleTargets(plan));
      for (const u of updates.filter((x) => x.status === 'updated')) {
        io.stderr(
          `hint: ${u.field} is still ${q(u.fromBytes)}, below the PVC size ${formatBytes(u.toBytes)}: CloudNativePG leaves a larger PVC alone, but a new instance would get the old size; pass --update-spec, or change the manifest\n`,
        );
      }
    }
    if (opts.wait) {
      await waitForExpansions(applied, {
        client,
        io,
        storageClasses: snapshot.storageClasses,
        timeoutMs: opts.waitTimeoutMs,
        pollIntervalMs: opts.pollIntervalMs ?? 2000,
        since: applyStarted,
        remeasure: () => gatherSnapshot(scope, deps),
      });
    }
  }
  if (!machine) {
    io.stdout(`${opts.yes ? '' : '\n'}${planTable(plan, wide, true)}`);
    if (opts.verbose) io.stdout(traceText(plan));
  }
  return done(specUpdates);
}
