/**
 * One autoresize pass over a Snapshot: decide per PVC with the engine (the
 * same evaluate → plan path as `disk resize`), add the sibling floor, refuse
 * what is unknown (fail closed), act with exactly the CLI's guarded write
 * (applyResize: the PVC's new request and its ledger entry in one patch with
 * the resourceVersion precondition; 409 → read again, decide again), and say
 * what happened: outcomes per volume, metrics, events.
 *
 * Used by `disk autoresize` (one pass, a CronJob or a person) and by the
 * controller's loop (every interval, only while it leads).
 */
import pLimit from 'p-limit';
import {
  formatBytes,
  siblingFloor,
  type BlockReason,
  type Decision,
  type FloorVolume,
  type LedgerWhy,
} from '@cnpg-disk/core';
import { evaluateCluster, type ClusterReport, type VolumeReport } from '../analysis/evaluate.js';
import { get, labels } from '../model/kube-objects.js';
import {
  buildPlan,
  largest,
  refusalFor,
  type PlanItem,
  type ResizePlan,
  type SpecUpdate,
} from '../actions/resize-plan.js';
import { applyResize, eventsFor, type ApplyContext } from '../actions/resize-apply.js';
import { updateClusterSpec } from '../actions/spec-update.js';
import { recheckWalFacts, type WalRecheckContext } from '../actions/wal-recheck.js';
import type { KubeClient } from '../kube/client.js';
import type { ClusterSnapshot, Snapshot } from '../model/snapshot.js';
import { defaultPolicyFor, type DefaultPolicyFile } from './default-policy.js';
import { fromCoreEvent, type EventRecorder, type VolumeEvent } from './events.js';
import type { ControllerMetrics, VolumeRow } from './metrics.js';

export type VolumeAction =
  /** Written: the PVC's request and ledger. */
  | 'resized'
  /** Nothing to do (disabled, below the trigger, already at the floor). */
  | 'none'
  /** The engine holds: blocked, at the limit, an expansion in progress. */
  | 'held'
  /** The engine said resize, a guard refused (storage class, limit, invalid policy). */
  | 'refused'
  /** The last expansion failed, or the write failed. */
  | 'failed'
  /** Not enough facts, or facts too old, or a policy that cannot be read: no action (fail closed). */
  | 'unknown'
  /** A resize was due but this process does not lead (or is stopping). */
  | 'skipped';

export interface VolumeOutcome {
  namespace: string;
  cluster: string;
  instance: string;
  pvc: string;
  type: string;
  tablespace?: string;
  policySource: string;
  verdict: string;
  reason?: BlockReason;
  action: VolumeAction;
  /** Why the action: the engine's or guard's sentence, or the write's result. */
  message: string;
  /** engine: the usage trigger; sibling-floor: grown to its role's largest PVC. */
  why?: 'engine' | LedgerWhy;
  fromBytes?: bigint;
  toBytes?: bigint;
  conflicts?: number;
  events: VolumeEvent[];
}

export interface ClusterOutcome {
  namespace: string;
  name: string;
  volumes: VolumeOutcome[];
  specUpdates?: SpecUpdate[];
  problems: string[];
}

export interface PassResult {
  clusters: ClusterOutcome[];
  /** The plan items (for the exit code, which `disk resize` computes the same way). */
  items: PlanItem[];
  rows: VolumeRow[];
}

export interface PassContext {
  client: KubeClient;
  now: () => Date;
  /** The controller's default policy; `error` when the file cannot be read (fail closed). */
  defaultPolicy?: { file?: DefaultPolicyFile; error?: string };
  /** Raise the Cluster's declared sizes after a resize (opt-in; GitOps reverts it otherwise). */
  keepSpecInStep: boolean;
  /** Facts older than this are not acted on (the controller: two intervals). */
  maxFactAgeMs?: number;
  /** Asked right before each write: still the leader, not stopping. */
  mayAct: () => boolean;
  metrics?: ControllerMetrics;
  recorder?: EventRecorder;
  /** Clusters judged at once. */
  concurrency: number;
  maxAttempts?: number;
  /** Each write's promise, so a SIGTERM can wait for the one in flight. */
  track?: (p: Promise<unknown>) => void;
  /**
   * WAL facts read again before a write that rests on facts older than the
   * pass (actions/wal-recheck.ts): when the pass began measuring, and how.
   */
  walRecheck: Omit<WalRecheckContext, 'client' | 'now'>;
}

/** Fail closed: the reasons a volume with an enabled policy must not be acted on. */
function unknownBecause(v: VolumeReport, ctx: PassContext, defaultBroken: string | undefined): string | undefined {
  if (defaultBroken && v.policy.source === 'defaults') {
    return `the controller's default policy cannot be read (${defaultBroken}); no automatic resize until it is fixed`;
  }
  if (!v.policy.enabled) return undefined;
  if (ctx.maxFactAgeMs !== undefined && v.filesystem?.observedAt) {
    const age = ctx.now().getTime() - Date.parse(v.filesystem.observedAt);
    if (age > ctx.maxFactAgeMs) {
      return `the filesystem facts are ${Math.round(age / 1000)} s old (more than ${Math.round(ctx.maxFactAgeMs / 1000)} s): not acted on`;
    }
  }
  return undefined;
}

/** Sibling floor: turns a 'none' (or a smaller 'resize') into a resize to the role's largest PVC. */
function applyFloor(plan: ResizePlan, report: ClusterReport, floorPvcs: Set<string>): void {
  const vols: FloorVolume[] = report.volumes.map((v) => ({
    pvcName: v.pvcName,
    type: v.type,
    ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}),
    ...(largest(v.pvc.requestBytes, v.pvc.capacityBytes) !== undefined
      ? { currentBytes: largest(v.pvc.requestBytes, v.pvc.capacityBytes) as bigint }
      : {}),
    live: v.pvc.phase === 'Bound' || v.pvc.phase === undefined,
  }));
  const byPvc = new Map(plan.items.map((i) => [i.volume.pvcName, i]));
  for (const f of siblingFloor(vols, (p) => byPvc.get(p)?.volume.resolvedPolicy?.expansion.limitBytes)) {
    const item = byPvc.get(f.pvcName);
    const v = item?.volume;
    const d = v?.decision;
    if (!item || !v || !d || !v.resolvedPolicy?.enabled) continue;
    // A claim not bound yet grows at a later pass, once it is (expansion needs a bound claim).
    if (v.pvc.phase !== undefined && v.pvc.phase !== 'Bound') continue;
    if (d.verdict !== 'none' && d.verdict !== 'resize') continue;
    if (d.verdict === 'resize' && d.newBytes !== undefined && d.newBytes >= f.targetBytes) continue;
    const current = largest(v.pvc.requestBytes, v.pvc.capacityBytes) as bigint;
    const why = `sibling floor: ${f.siblingPvc} of the same role is ${formatBytes(f.siblingBytes)}, so ${v.pvcName} grows from ${formatBytes(current)} to ${formatBytes(f.targetBytes)}${f.capped ? ' (capped at the policy limit)' : ''}`;
    if (d.budget.max > 0 && d.budget.remaining === 0) {
      v.decision = {
        ...d,
        verdict: 'blocked',
        reason: 'rate-limit',
        message: `${why}, but the budget of ${d.budget.max} resize(s) per 24 h is spent`,
      };
      item.action = 'hold';
      continue;
    }
    const floorDecision: Decision = {
      ...d,
      verdict: 'resize',
      currentBytes: current,
      newBytes: f.targetBytes,
      stepBytes: f.targetBytes - current,
      message: why,
    };
    v.decision = floorDecision;
    const refusal = refusalFor(v.pvcName, floorDecision, v.pvc, v.resolvedPolicy, { forceUnknownStorageClass: false });
    if (refusal) {
      item.action = 'refuse';
      item.refusal = refusal;
    } else {
      item.action = 'resize';
      delete item.refusal;
      floorPvcs.add(v.pvcName);
    }
  }
}

function actionOf(i: PlanItem): VolumeAction {
  // WAL facts read again before the write: too stale is unknown (fail closed);
  // a fresh decision that differs is acted on like any decision.
  if (i.walRecheck?.outcome === 'stale') return 'unknown';
  const fresh = i.walRecheck?.outcome === 'changed' ? i.result?.freshDecision : undefined;
  if (fresh) {
    if (fresh.verdict === 'unknown') return 'unknown';
    if (fresh.verdict === 'none' || fresh.verdict === 'disabled') return 'none';
    if (fresh.verdict === 'resize-failed') return 'failed';
    return 'held';
  }
  if (i.result) {
    if (i.result.status === 'applied') return 'resized';
    if (i.result.status === 'failed') return 'failed';
    return 'skipped';
  }
  switch (i.action) {
    case 'resize':
      return 'skipped';
    case 'refuse':
      return 'refused';
    case 'hold':
      return 'held';
    case 'failed':
      return 'failed';
    case 'unknown':
      return 'unknown';
    case 'none':
      return 'none';
  }
}

async function judgeCluster(
  snapshot: Snapshot,
  cs: ClusterSnapshot,
  ctx: PassContext,
  items: PlanItem[],
  rows: VolumeRow[],
): Promise<ClusterOutcome> {
  const now = ctx.now().getTime();
  const dp = ctx.defaultPolicy;
  const rule = dp?.file
    ? defaultPolicyFor(dp.file, { namespace: cs.namespace, labels: labels(cs.cluster) })
    : undefined;
  const report = evaluateCluster(cs, snapshot.storageClasses, {
    now,
    ...(rule ? { defaultPolicy: rule.policy } : {}),
  });
  const plan = buildPlan(snapshot, cs, report, { forceUnknownStorageClass: false });
  const unknown = new Map<string, string>();
  for (const i of plan.items) {
    const why = unknownBecause(i.volume, ctx, dp?.error);
    if (why) {
      unknown.set(i.volume.pvcName, why);
      i.action = 'unknown';
      delete i.refusal;
    }
  }
  const floorPvcs = new Set<string>();
  applyFloor({ ...plan, items: plan.items.filter((i) => !unknown.has(i.volume.pvcName)) }, report, floorPvcs);

  const applyCtx: ApplyContext = {
    client: ctx.client,
    now: ctx.now,
    storageClasses: snapshot.storageClasses,
    report,
    forceUnknownStorageClass: false,
    maxAttempts: ctx.maxAttempts ?? 5,
    ledgerWhy: (pvc) => (floorPvcs.has(pvc) ? 'sibling-floor' : undefined),
  };
  // The same re-read as disk resize --apply: it waits (bounded) inside this
  // Cluster's judgement rather than deferring to the next pass, so a one-shot
  // pass (a CronJob) is as safe as the loop. Only a pass that may write asks.
  if (ctx.mayAct()) {
    await recheckWalFacts(
      plan,
      plan.items.filter((i) => i.action === 'resize'),
      { client: ctx.client, now: ctx.now, ...ctx.walRecheck },
    );
  }
  for (const i of plan.items) {
    if (i.action !== 'resize' || i.result || !ctx.mayAct()) continue;
    const write = applyResize(i, applyCtx);
    ctx.track?.(write);
    i.result = await write;
    const r = i.result;
    ctx.metrics?.resized(r.status === 'applied' ? 'applied' : r.status === 'failed' ? 'failed' : 'conflict');
  }
  let specUpdates: SpecUpdate[] | undefined;
  if (ctx.keepSpecInStep && plan.items.some((i) => i.result?.status === 'applied') && ctx.mayAct()) {
    specUpdates = await updateClusterSpec(plan, applyCtx);
  }

  const clusterRef = {
    namespace: cs.namespace,
    name: cs.name,
    ...(typeof get(cs.cluster, 'metadata', 'uid') === 'string'
      ? { uid: get(cs.cluster, 'metadata', 'uid') as string }
      : {}),
  };
  const volumes: VolumeOutcome[] = [];
  for (const i of plan.items) {
    const v = i.volume;
    const d = i.result?.freshDecision ?? v.decision;
    const action = actionOf(i);
    const events: VolumeEvent[] = eventsFor(i).map((e) => fromCoreEvent(e, v.policy.source));
    const unknownWhy = unknown.get(v.pvcName) ?? (i.walRecheck?.outcome === 'stale' ? i.walRecheck.message : undefined);
    if (action === 'unknown' && (v.policy.enabled || unknownWhy)) {
      events.push({
        type: 'Warning',
        reason: 'AutoResizeUnavailable',
        message: `${v.pvcName}: ${unknownWhy ?? d?.message ?? 'not enough facts to decide'}; no action (policy: ${v.policy.source})`,
        key: `${v.namespace}/${v.pvcName}/AutoResizeUnavailable/`,
      });
    }
    if (i.result?.status === 'failed') {
      events.push({
        type: 'Warning',
        reason: 'AutoResizeFailed',
        message: `${v.pvcName}: ${i.result.message} (policy: ${v.policy.source})`,
        key: `${v.namespace}/${v.pvcName}/AutoResizeFailed/write`,
      });
    }
    if (ctx.recorder && ctx.mayAct()) await ctx.recorder.observe(clusterRef, `${v.namespace}/${v.pvcName}`, events);
    ctx.metrics?.decisions.inc({ verdict: d?.verdict ?? 'unknown', reason: d?.reason ?? '' });
    const message =
      unknownWhy ?? (i.result ? i.result.message : i.refusal ? i.refusal.message : (d?.message ?? 'no decision'));
    const applied = i.result?.status === 'applied';
    volumes.push({
      namespace: v.namespace,
      cluster: v.cluster,
      instance: v.instance,
      pvc: v.pvcName,
      type: v.type,
      ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}),
      policySource: v.policy.source,
      verdict: d?.verdict ?? 'unknown',
      ...(d?.reason ? { reason: d.reason } : {}),
      action,
      message,
      ...(applied ? { why: floorPvcs.has(v.pvcName) ? ('sibling-floor' as const) : ('engine' as const) } : {}),
      ...(i.result?.fromBytes !== undefined ? { fromBytes: i.result.fromBytes } : {}),
      ...(i.result?.toBytes !== undefined ? { toBytes: i.result.toBytes } : {}),
      ...(i.result?.conflicts ? { conflicts: i.result.conflicts } : {}),
      events,
    });
    const fs = v.filesystem;
    const limit = v.resolvedPolicy?.expansion.limitBytes;
    const current = largest(v.pvc.requestBytes, v.pvc.capacityBytes);
    rows.push({
      clusterNamespace: v.namespace,
      cluster: v.cluster,
      pod: v.instance,
      volumeType: v.type,
      ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}),
      ...(fs
        ? {
            totalBytes: fs.totalBytes,
            usedBytes: fs.usedBytes,
            availableBytes: fs.availableBytes,
            percentUsed: fs.percentUsed,
          }
        : {}),
      ...(v.policy.enabled && limit !== undefined && current !== undefined ? { atLimit: current >= limit } : {}),
      ...(v.policy.enabled && d && action !== 'unknown'
        ? { blocked: d.verdict === 'blocked' ? (d.reason ?? null) : null, budgetRemaining: d.budget.remaining }
        : {}),
    });
  }
  items.push(...plan.items);
  return {
    namespace: cs.namespace,
    name: cs.name,
    volumes,
    ...(specUpdates ? { specUpdates } : {}),
    problems: report.problems,
  };
}

/** One pass over every Cluster of the snapshot, at most `concurrency` Clusters at once. */
export async function autoresizePass(snapshot: Snapshot, ctx: PassContext): Promise<PassResult> {
  const limit = pLimit(Math.max(1, ctx.concurrency));
  const items: PlanItem[] = [];
  const rows: VolumeRow[] = [];
  const clusters = await Promise.all(
    snapshot.clusters.map((cs) =>
      limit(async () => {
        try {
          return await judgeCluster(snapshot, cs, ctx, items, rows);
        } catch (e) {
          // One Cluster's failure (an API error mid-write, a bug) never stops the others.
          return {
            namespace: cs.namespace,
            name: cs.name,
            volumes: [],
            problems: [`this Cluster could not be judged: ${(e as Error).message}`],
          };
        }
      }),
    ),
  );
  ctx.metrics?.setVolumes(rows);
  return { clusters, items, rows };
}
