/**
 * The autoresize decision engine (spec/engine.md, "Decision, per PVC").
 *
 * decide() is a pure function: the same input gives the same decision. It
 * never reads a clock (`now` is an input) and never performs I/O.
 */
import { BUDGET_WINDOW_MS, budgetOf, countedEntries, LEDGER_TIME_PRECISION_MS, type Budget } from './ledger.js';
import type {
  ClusterShape,
  FilesystemFacts,
  PvcCondition,
  Ledger,
  PvcFacts,
  VolumeRef,
  WalHealth,
  WalSpaceExhausted,
} from './model.js';
import type { UsageSample } from './forecast.js';
import { PREDICTIVE_MIN_SIGNAL_TO_NOISE, type PredictiveTrigger, type ResizePolicy } from './policy.js';
import { formatBytes, formatBytesHuman, MiB, percentOfBytes, roundUpTo } from './quantity.js';
import {
  FAILED_ALLOCATED,
  FAILED_CONDITIONS,
  filesystemSmallerThanPvc,
  IN_PROGRESS_ALLOCATED,
  IN_PROGRESS_CONDITIONS,
} from './pvc-state.js';
import { usageTrend, type UsageTrend } from './trend.js';
import { walSafetyApplies } from './wal-safety.js';

export type Verdict =
  'disabled' | 'unknown' | 'none' | 'resize' | 'resize-in-progress' | 'resize-failed' | 'blocked' | 'at-limit';

export type BlockReason =
  | 'rate-limit'
  | 'ledger-unreadable'
  | 'wal-risk-not-acknowledged'
  | 'archive-unhealthy'
  | 'pending-wal'
  | 'slot-retention';

export type CheckName =
  'enabled' | 'facts' | 'trigger' | 'in-progress' | 'budget' | 'limit' | 'wal-safety' | 'new-size';

/**
 * pass: the check let the decision go on; stop: the check decided;
 * warn: it went on, with something a person should know; skip: not applicable.
 */
export type CheckOutcome = 'pass' | 'stop' | 'warn' | 'skip';

export type TraceValue = string | number | boolean | null;

export interface TraceStep {
  check: CheckName;
  outcome: CheckOutcome;
  /** The inputs the check looked at (byte counts as canonical quantities). */
  inputs: Record<string, TraceValue>;
  message: string;
}

export interface DecisionInput {
  volume: VolumeRef;
  cluster: ClusterShape;
  policy: ResizePolicy;
  pvc: PvcFacts;
  filesystem?: FilesystemFacts;
  ledger: Ledger;
  /** WAL health of this volume's own instance. */
  walHealth?: WalHealth;
  /**
   * CloudNativePG found no room for one more WAL segment on this instance
   * (exit code 4). Counts only for the volume that holds pg_wal: the wal
   * volume, or data on a single-volume cluster.
   */
  walSpaceExhausted?: WalSpaceExhausted;
  /**
   * Recent usage of this volume, for the predictive trigger (ignored unless
   * the policy has one): fitted over the policy's window.
   */
  usageHistory?: readonly UsageSample[];
  /**
   * The same, already fitted (usageTrend() or a TrendWindow): wins over
   * usageHistory, so a caller stepping through time pays O(1) per decision.
   */
  usageTrend?: UsageTrend;
  /** Epoch milliseconds. */
  now: number;
}

export type WarningCode =
  | 'filesystem-unmeasured'
  | 'wal-health-unavailable'
  | 'archive-not-configured'
  | 'archive-facts-missing'
  | 'pending-wal-unknown'
  | 'slots-unknown'
  | 'budget-disabled'
  | 'ledger-future-entry'
  | 'capped-at-limit';

export interface DecisionWarning {
  code: WarningCode;
  message: string;
}

export interface Decision {
  verdict: Verdict;
  /** For `blocked`. */
  reason?: BlockReason;
  /** One sentence: why this verdict. */
  message: string;
  /** max(request, capacity), when known. */
  currentBytes?: bigint;
  /** For `resize`. */
  newBytes?: bigint;
  stepBytes?: bigint;
  percentUsed?: number;
  /** Whether the WAL safety checks govern this volume. */
  walSafetyApplies: boolean;
  budget: Budget;
  warnings: DecisionWarning[];
  trace: TraceStep[];
}

// The PVC resize states (conditions, allocated-resource status, filesystem
// smaller than capacity) are in pvc-state.ts; WAL-safety applicability in
// wal-safety.ts.

/**
 * Both figures as doubles when they are safe non-negative integers (they
 * nearly always are); undefined sends the caller to exact BigInt arithmetic.
 */
function safePair(fs: Pick<FilesystemFacts, 'usedBytes' | 'availableBytes'>): boolean {
  const u = Number(fs.usedBytes);
  const a = Number(fs.availableBytes);
  return u >= 0 && a >= 0 && u + a <= Number.MAX_SAFE_INTEGER;
}

/**
 * percentUsed() of two safe non-negative integers in doubles, or NaN when
 * the result lies within a millionth of a rounding boundary (then only the
 * BigInt formula is exact). Shared by decide() and the prepared fast path.
 */
function percentUsedOfNumbers(u: number, a: number): number {
  const d = u + a;
  if (d === 0) return 0;
  const q = (u * 1_000_000) / d;
  const f = Math.floor(q);
  return q - f > 1e-6 && f + 1 - q > 1e-6 ? f / 10_000 : NaN;
}

/**
 * ⌊used × 10^6 / (used + available)⌋ / 10^4 exactly, in doubles: long
 * division one decimal digit at a time, every product below 2^53 while
 * used + available ≤ 2^49 (NaN above: BigInt decides); used ≤ used + available. For the figures on a
 * rounding boundary (a volume exactly 85% used), where the plain division
 * cannot tell which side it is on.
 */
function percentUsedByDigits(u: number, a: number): number {
  const d = u + a;
  if (d > 2 ** 49) return NaN;
  // Base 1000 (two divisions) while 1000r < 2^53, else base 10 (six). r < d,
  // so base × r is exact, and r / d < base is never rounded up to the next
  // whole number: the true quotient lies at least 1/d below it, at least a
  // unit in the last place of a double under 2 × base (2^-43 under 1024 for
  // d ≤ 2^43, 2^-49 under 16 for d ≤ 2^49).
  const base = d <= 2 ** 43 ? 1000 : 10;
  const rounds = base === 1000 ? 2 : 6;
  let q = 0;
  let r = u;
  for (let i = 0; i < rounds; i++) {
    r *= base;
    const digit = Math.floor(r / d);
    q = q * base + digit;
    r -= digit * d;
  }
  return q / 10_000;
}

function percentUsedOfBig(usedBytes: bigint, availableBytes: bigint): number {
  const denom = usedBytes + availableBytes;
  if (denom <= 0n) return 0;
  return Number((usedBytes * 1_000_000n) / denom) / 10_000;
}

/**
 * Percent used like df: used / (used + available), root-reserved blocks
 * excluded; exact to 1/10000 of a percent (truncated), then a plain number
 * for display. Computed in doubles unless the result lies within a millionth
 * of a rounding boundary (double error here is below 1e-9), then in BigInt:
 * the same result as the BigInt formula, without its allocations on the
 * engine's hot path.
 */
export function percentUsed(fs: Pick<FilesystemFacts, 'usedBytes' | 'availableBytes'>): number {
  if (safePair(fs)) {
    const u = Number(fs.usedBytes);
    const a = Number(fs.availableBytes);
    let p = percentUsedOfNumbers(u, a);
    if (Number.isNaN(p) && u + a > 0) p = percentUsedByDigits(u, a);
    if (!Number.isNaN(p)) return p;
  }
  return percentUsedOfBig(fs.usedBytes, fs.availableBytes);
}

/** The threshold scaled by 1e6, so a fractional threshold stays in integers. */
function thresholdMicros(threshold: number): number {
  return Math.round(threshold * 1_000_000);
}

/**
 * used × 100 > threshold × (used + available) for safe integers, in doubles
 * when the two sides differ by more than a billionth (far above double
 * rounding); undefined when they are that close (BigInt decides).
 */
function aboveThresholdOfNumbers(u: number, a: number, tm: number): boolean | undefined {
  const lhs = u * 100_000_000;
  const rhs = tm * (u + a);
  return Math.abs(lhs - rhs) > 1e-9 * Math.max(lhs, rhs) ? lhs > rhs : undefined;
}

function aboveThresholdOfBig(usedBytes: bigint, availableBytes: bigint, tm: number): boolean {
  return usedBytes * 100_000_000n > BigInt(tm) * (usedBytes + availableBytes);
}

/** used × 100 > threshold × (used + available), exactly. */
function aboveThreshold(fs: FilesystemFacts, threshold: number): boolean {
  const tm = thresholdMicros(threshold);
  if (safePair(fs)) {
    const r = aboveThresholdOfNumbers(Number(fs.usedBytes), Number(fs.availableBytes), tm);
    if (r !== undefined) return r;
  }
  return aboveThresholdOfBig(fs.usedBytes, fs.availableBytes, tm);
}

/** The larger of two optional sizes; undefined only when both are. */
function largerOf(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

function q(b: bigint | undefined): TraceValue {
  return b === undefined ? null : formatBytes(b);
}

/** Archive health per spec: a failure later than the last success, or no success ever. */
export function archiveHealthy(archiver: NonNullable<WalHealth['archiver']>): {
  healthy: boolean;
  why: string;
} {
  const ok = archiver.lastArchivedTime ? Date.parse(archiver.lastArchivedTime) : undefined;
  const failed = archiver.lastFailedTime ? Date.parse(archiver.lastFailedTime) : undefined;
  if (ok === undefined || Number.isNaN(ok)) {
    return {
      healthy: false,
      why:
        failed !== undefined
          ? `archiving has failed (${archiver.lastFailedWal ?? 'unknown WAL'} at ${archiver.lastFailedTime}) and never succeeded`
          : 'no WAL has ever been archived',
    };
  }
  if (failed !== undefined && !Number.isNaN(failed) && failed > ok) {
    return {
      healthy: false,
      why: `the last failure (${archiver.lastFailedWal ?? 'unknown WAL'} at ${archiver.lastFailedTime}) is later than the last success (${archiver.lastArchivedTime})`,
    };
  }
  return { healthy: true, why: `last archived ${archiver.lastArchivedWal ?? 'WAL'} at ${archiver.lastArchivedTime}` };
}

/** The predictive trigger's findings, when the policy has one and it was judged. */
export interface PredictiveFinding {
  /** Whether the forecast said full within the horizon (and was believed). */
  fires: boolean;
  /** Why not, when it does not fire: which test the forecast failed. */
  why: 'no-history' | 'few-samples' | 'short-span' | 'not-growing' | 'noise' | 'beyond-horizon' | 'fires';
  samples: number;
  bytesPerHour: number;
  /** Forecast time to full from the current available bytes, ms (absent unless growing). */
  msToFull?: number;
  /** Growth expected over the horizon, bytes (absent unless it fires). */
  horizonGrowthBytes?: bigint;
}

/**
 * Judges the predictive trigger: believed only with enough samples spanning
 * at least half the window, a positive slope, and a fitted growth over the
 * span at least PREDICTIVE_MIN_SIGNAL_TO_NOISE times the scatter around the
 * line; fires when the available bytes run out within the horizon at that slope.
 */
export function judgePredictive(
  pred: PredictiveTrigger,
  fs: Pick<FilesystemFacts, 'availableBytes'>,
  trend: UsageTrend | undefined,
): PredictiveFinding {
  return judgePredictiveOf(pred, Number(fs.availableBytes > 0n ? fs.availableBytes : 0n), trend);
}

/** judgePredictive() with the available bytes as a number (≥ 0). */
function judgePredictiveOf(
  pred: PredictiveTrigger,
  available: number,
  trend: UsageTrend | undefined,
): PredictiveFinding {
  if (!trend || trend.samples === 0) return { fires: false, why: 'no-history', samples: 0, bytesPerHour: 0 };
  const out = { samples: trend.samples, bytesPerHour: trend.bytesPerMs * 3_600_000 };
  if (trend.samples < pred.minSamples) return { fires: false, why: 'few-samples', ...out };
  if (trend.spanMs * 2 < pred.windowMs) return { fires: false, why: 'short-span', ...out };
  if (!(trend.bytesPerMs > 0)) return { fires: false, why: 'not-growing', ...out };
  const msToFull = available / trend.bytesPerMs;
  if (trend.bytesPerMs * trend.spanMs < PREDICTIVE_MIN_SIGNAL_TO_NOISE * trend.residualRmsBytes) {
    return { fires: false, why: 'noise', msToFull, ...out };
  }
  if (msToFull >= pred.horizonMs) return { fires: false, why: 'beyond-horizon', msToFull, ...out };
  const horizonGrowthBytes = BigInt(Math.ceil(trend.bytesPerMs * pred.horizonMs));
  return { fires: true, why: 'fires', msToFull, horizonGrowthBytes, ...out };
}

const EMPTY_TRACE: TraceStep[] = [];
Object.freeze(EMPTY_TRACE);

/**
 * The decision with its trace: every check reached adds a TraceStep, and
 * every message is written for a person.
 */
export function decide(input: DecisionInput): Decision {
  return evaluate(input, true);
}

/**
 * The same decision without the trace (the fast path): no TraceStep, no
 * message and no string formatting; `message` is '' and `trace` is empty,
 * warnings carry their code with an empty message. verdict, reason,
 * currentBytes, newBytes, stepBytes, percentUsed, walSafetyApplies, budget
 * and the warning codes equal decide()'s (a property test holds them equal).
 */
export function decideUntraced(input: DecisionInput): Decision {
  return evaluate(input, false);
}

function evaluate(input: DecisionInput, traced: boolean): Decision {
  const { policy, pvc, filesystem: fs, volume, cluster, now } = input;
  const trace: TraceStep[] = traced ? [] : EMPTY_TRACE;
  const warnings: DecisionWarning[] = [];
  const walSafety = walSafetyApplies(volume, cluster);
  const budget = budgetOf(input.ledger, policy.strategy.maxActionsPerDay, now);
  const currentBytes = largerOf(pvc.requestBytes, pvc.capacityBytes);
  // No closures in here: the fast path runs millions of times, and a
  // closure per call (plus the name helpers some bundlers add) costs more
  // than the decision itself.
  const st: Outcome = {
    walSafety,
    budget,
    warnings,
    trace,
    currentBytes,
    percentUsed: fs ? percentUsed(fs) : undefined,
  };

  // 1. Enabled?
  if (!policy.enabled) {
    if (!traced) return finish(st, 'disabled', '');
    trace.push({
      check: 'enabled',
      outcome: 'stop',
      inputs: { enabled: false },
      message: 'resize is not enabled for this volume',
    });
    return finish(st, 'disabled', 'automatic resize is not enabled for this volume');
  }
  if (traced)
    trace.push({ check: 'enabled', outcome: 'pass', inputs: { enabled: true }, message: 'resize is enabled' });

  // 2. Facts available? CloudNativePG's own "WAL disk full" stands in for a
  // filesystem no source could measure (the instance is down), but only on
  // the volume that holds pg_wal.
  const exhausted = walSafety ? input.walSpaceExhausted : undefined;
  const badFigures = fs !== undefined && (fs.totalBytes < 0n || fs.usedBytes < 0n || fs.availableBytes < 0n);
  if ((!fs && !exhausted) || currentBytes === undefined || badFigures) {
    if (!traced) return finish(st, 'unknown', '');
    const missing: string[] = [];
    if (!fs && !exhausted) missing.push('filesystem usage (total/used/available)');
    if (currentBytes === undefined) missing.push('PVC size (request or capacity)');
    if (badFigures) missing.push('sane filesystem figures (a figure is negative)');
    const why = `missing ${missing.join(' and ')}`;
    trace.push({
      check: 'facts',
      outcome: 'stop',
      inputs: { filesystem: fs ? 'present' : null, request: q(pvc.requestBytes), capacity: q(pvc.capacityBytes) },
      message: why,
    });
    return finish(st, 'unknown', `cannot decide: ${why}`);
  }
  const exhaustedText =
    traced && exhausted
      ? `CloudNativePG's instance manager exited with code 4${exhausted.exitedAt ? ` at ${exhausted.exitedAt}` : ''}: less than one WAL segment free`
      : undefined;
  if (fs) {
    if (traced) {
      trace.push({
        check: 'facts',
        outcome: 'pass',
        inputs: {
          total: q(fs.totalBytes),
          used: q(fs.usedBytes),
          available: q(fs.availableBytes),
          source: fs.source ?? null,
        },
        message: 'filesystem and PVC facts are available',
      });
    }
  } else if (!traced) {
    warnings.push({ code: 'filesystem-unmeasured', message: '' });
  } else {
    // no filesystem passed the facts check, so the fact is there
    const msg = `no source measured this filesystem; ${exhaustedText as string}, so the volume is taken as full`;
    warnings.push({ code: 'filesystem-unmeasured', message: msg });
    trace.push({
      check: 'facts',
      outcome: 'warn',
      inputs: {
        filesystem: null,
        walSpaceExhausted: true,
        exitedAt: exhausted?.exitedAt ?? null,
        restarts: exhausted?.restarts ?? null,
        request: q(pvc.requestBytes),
        capacity: q(pvc.capacityBytes),
      },
      message: msg,
    });
  }

  // 3. Trigger. A WAL volume CloudNativePG found full fires it whatever the
  // figures: PostgreSQL cannot run until it grows. The predictive trigger
  // (opt-in) fires when the forecast says full within its horizon.
  const { usageThreshold, minAvailableBytes } = policy.triggers;
  const overThreshold = fs !== undefined && aboveThreshold(fs, usageThreshold);
  const underMinAvailable =
    fs !== undefined && minAvailableBytes !== undefined && fs.availableBytes < minAvailableBytes;
  const pred = policy.triggers.predictive;
  const predictive =
    pred && fs && !exhausted
      ? judgePredictive(
          pred,
          fs,
          input.usageTrend ?? (input.usageHistory ? usageTrend(input.usageHistory, pred.windowMs) : undefined),
        )
      : undefined;
  const predictiveFires = predictive?.fires === true;
  if (fs && !exhausted && !overThreshold && !underMinAvailable && !predictiveFires) {
    if (!traced) return finish(st, 'none', '');
    const pct = st.percentUsed;
    const msg =
      `${pct}% used is not above ${usageThreshold}%` +
      (minAvailableBytes !== undefined
        ? ` and ${formatBytes(fs.availableBytes)} available is not below ${formatBytes(minAvailableBytes)}`
        : '') +
      (predictive && pred ? ` and ${predictiveText(predictive, pred)}` : '');
    trace.push({ check: 'trigger', outcome: 'stop', inputs: triggerInputs(input, predictive), message: msg });
    return finish(st, 'none', `no resize needed: ${msg}`);
  }
  let why = '';
  if (traced) {
    why = [
      exhaustedText ?? '',
      overThreshold ? `${st.percentUsed}% used is above ${usageThreshold}%` : '',
      underMinAvailable && fs
        ? `${formatBytes(fs.availableBytes)} available is below ${formatBytes(minAvailableBytes as bigint)}`
        : '',
      predictiveFires && pred ? predictiveText(predictive as PredictiveFinding, pred) : '',
    ]
      .filter(Boolean)
      .join(' and ');
    trace.push({ check: 'trigger', outcome: 'pass', inputs: triggerInputs(input, predictive), message: why });
  }

  // 4. Resize already in progress or failed?
  let failedCondition: PvcCondition | undefined;
  let inProgressCondition: PvcCondition | undefined;
  for (const c of pvc.conditions) {
    if (c.status !== 'True') continue;
    if (!failedCondition && FAILED_CONDITIONS.includes(c.type)) failedCondition = c;
    if (!inProgressCondition && IN_PROGRESS_CONDITIONS.includes(c.type)) inProgressCondition = c;
  }
  const alloc = pvc.allocatedResourceStatus;
  if (failedCondition || (alloc && FAILED_ALLOCATED.includes(alloc))) {
    if (!traced) return finish(st, 'resize-failed', '');
    const detail = failedCondition
      ? `${failedCondition.type}: ${failedCondition.message ?? failedCondition.reason ?? 'no message'}`
      : `status.allocatedResourceStatuses.storage is ${alloc}`;
    trace.push({
      check: 'in-progress',
      outcome: 'stop',
      inputs: progressInputs(pvc, fs, failedCondition ?? inProgressCondition),
      message: `expansion failed: ${detail}`,
    });
    return finish(st, 'resize-failed', `the last expansion failed (${detail}); fix it before another resize`);
  }
  let inProgress: 'request' | 'condition' | 'allocated' | 'filesystem' | undefined;
  if (pvc.requestBytes !== undefined && pvc.capacityBytes !== undefined && pvc.requestBytes > pvc.capacityBytes) {
    inProgress = 'request';
  } else if (inProgressCondition) {
    inProgress = 'condition';
  } else if (alloc && IN_PROGRESS_ALLOCATED.includes(alloc)) {
    inProgress = 'allocated';
  } else if (pvc.capacityBytes !== undefined && fs && filesystemSmallerThanPvc(pvc.capacityBytes, fs)) {
    inProgress = 'filesystem';
  }
  if (inProgress) {
    if (!traced) return finish(st, 'resize-in-progress', '');
    const progressWhy =
      inProgress === 'request'
        ? `request ${formatBytes(pvc.requestBytes as bigint)} is above capacity ${formatBytes(pvc.capacityBytes as bigint)}`
        : inProgress === 'condition'
          ? `condition ${inProgressCondition?.type}${inProgressCondition?.message ? `: ${inProgressCondition.message}` : ''}`
          : inProgress === 'allocated'
            ? `status.allocatedResourceStatuses.storage is ${alloc}`
            : `filesystem ${formatBytes((fs as FilesystemFacts).totalBytes)} is much smaller than capacity ${formatBytes(pvc.capacityBytes as bigint)} (the filesystem has not been grown)`;
    trace.push({
      check: 'in-progress',
      outcome: 'stop',
      inputs: progressInputs(pvc, fs, failedCondition ?? inProgressCondition),
      message: progressWhy,
    });
    return finish(st, 'resize-in-progress', `an expansion has not finished: ${progressWhy}`);
  }
  if (traced) {
    trace.push({
      check: 'in-progress',
      outcome: 'pass',
      inputs: progressInputs(pvc, fs, failedCondition ?? inProgressCondition),
      message: 'no expansion in progress',
    });
  }

  // 5. Budget.
  for (const w of budget.warnings) warnings.push({ code: 'ledger-future-entry', message: traced ? w : '' });
  if (input.ledger.corrupt !== undefined) {
    if (!traced) return finish(st, 'blocked', '', { reason: 'ledger-unreadable' });
    const msg = `the resize ledger cannot be read (${input.ledger.corrupt}); no budget is spent until it is repaired or removed`;
    trace.push({ check: 'budget', outcome: 'stop', inputs: budgetInputs(budget), message: msg });
    return finish(st, 'blocked', msg, { reason: 'ledger-unreadable' });
  }
  if (budget.max === 0) {
    const msg = traced ? 'maxActionsPerDay is 0: automatic resizes are turned off for this volume' : '';
    warnings.push({ code: 'budget-disabled', message: msg });
    if (traced) trace.push({ check: 'budget', outcome: 'stop', inputs: budgetInputs(budget), message: msg });
    return finish(st, 'blocked', msg, { reason: 'rate-limit' });
  }
  if (budget.remaining <= 0) {
    if (!traced) return finish(st, 'blocked', '', { reason: 'rate-limit' });
    const msg = `${budget.used} of ${budget.max} resizes used in the last 24 h; the next slot opens at ${budget.nextSlotAt}`;
    trace.push({ check: 'budget', outcome: 'stop', inputs: budgetInputs(budget), message: msg });
    return finish(st, 'blocked', `rate limit: ${msg}`, { reason: 'rate-limit' });
  }
  if (traced) {
    trace.push({
      check: 'budget',
      outcome: 'pass',
      inputs: budgetInputs(budget),
      message: `${budget.remaining} of ${budget.max} resizes left in the last 24 h`,
    });
  }

  // 6. Limit.
  const limit = policy.expansion.limitBytes;
  if (limit !== undefined && currentBytes >= limit) {
    if (!traced) return finish(st, 'at-limit', '');
    const msg = `current size ${formatBytes(currentBytes)} is at or above the limit ${formatBytes(limit)}`;
    trace.push({
      check: 'limit',
      outcome: 'stop',
      inputs: { current: q(currentBytes), limit: q(limit) },
      message: msg,
    });
    return finish(st, 'at-limit', msg);
  }
  if (traced) {
    trace.push({
      check: 'limit',
      outcome: limit === undefined ? 'skip' : 'pass',
      inputs: { current: q(currentBytes), limit: q(limit) },
      message: limit === undefined ? 'no limit set' : `below the limit ${formatBytes(limit)}`,
    });
  }

  // 7. WAL safety. It comes after the trigger, so a forecast fed by WAL
  // piling up during an archive outage is blocked here like any other trigger.
  if (walSafety) {
    const blocked = checkWalSafety(input, traced ? trace : undefined, warnings);
    if (blocked) return finish(st, 'blocked', blocked.message, { reason: blocked.reason });
  } else if (traced) {
    trace.push({
      check: 'wal-safety',
      outcome: 'skip',
      inputs: { volumeType: volume.type, singleVolume: cluster.singleVolume },
      message: 'WAL safety does not apply to this volume',
    });
  }

  // 8. New size. With the predictive trigger, the step also covers the
  // growth expected over the horizon: the new size leaves the volume at the
  // usage threshold when the horizon is reached, within [minStep, maxStep].
  const { step, minStepBytes, maxStepBytes } = policy.expansion;
  let stepBytes: bigint | undefined;
  if (overThreshold || underMinAvailable || exhausted) {
    stepBytes =
      step.kind === 'percent'
        ? clampStep(percentOfBytes(currentBytes, step.basisPoints), minStepBytes, maxStepBytes)
        : step.bytes;
  }
  let predictiveStep: bigint | undefined;
  if (predictiveFires && fs) {
    const oldest = budget.remaining === 1 ? countedEntries(input.ledger, now)[0] : undefined;
    predictiveStep = predictiveStepBytes(
      predictive as PredictiveFinding,
      policy,
      fs.usedBytes,
      currentBytes,
      budget.remaining,
      oldest ? Date.parse(oldest.at) : undefined,
      now,
    );
    if (stepBytes === undefined || predictiveStep > stepBytes) stepBytes = predictiveStep;
  }
  const chosenStep = stepBytes as bigint;
  let newBytes = roundUpTo(currentBytes + chosenStep, MiB);
  let capped = false;
  if (limit !== undefined && newBytes > limit) {
    newBytes = limit;
    capped = true;
    warnings.push({
      code: 'capped-at-limit',
      message: traced ? `the new size is capped at the limit ${formatBytes(limit)}` : '',
    });
  }
  if (newBytes <= currentBytes) {
    if (!traced) return finish(st, 'none', '');
    const msg = `the new size ${formatBytes(newBytes)} would not be larger than ${formatBytes(currentBytes)}`;
    trace.push({
      check: 'new-size',
      outcome: 'stop',
      inputs: sizeInputs(policy, currentBytes, predictiveStep, chosenStep, newBytes),
      message: msg,
    });
    return finish(st, 'none', msg);
  }
  if (!traced) return finish(st, 'resize', '', { newBytes, stepBytes: newBytes - currentBytes });
  const msg = `grow ${formatBytes(currentBytes)} → ${formatBytes(newBytes)}${capped ? ' (capped at the limit)' : ''}`;
  trace.push({
    check: 'new-size',
    outcome: capped ? 'warn' : 'pass',
    inputs: sizeInputs(policy, currentBytes, predictiveStep, chosenStep, newBytes),
    message: msg,
  });
  return finish(st, 'resize', `${why}: ${msg}`, { newBytes, stepBytes: newBytes - currentBytes });
}

/** What a decision carries whatever its verdict. */
interface Outcome {
  walSafety: boolean;
  budget: Budget;
  warnings: DecisionWarning[];
  trace: TraceStep[];
  currentBytes: bigint | undefined;
  percentUsed: number | undefined;
}

function finish(st: Outcome, verdict: Verdict, message: string, extra?: Partial<Decision>): Decision {
  const d: Decision = {
    verdict,
    message,
    walSafetyApplies: st.walSafety,
    budget: st.budget,
    warnings: st.warnings,
    trace: st.trace,
  };
  if (st.currentBytes !== undefined) d.currentBytes = st.currentBytes;
  if (st.percentUsed !== undefined) d.percentUsed = st.percentUsed;
  return extra ? Object.assign(d, extra) : d;
}

/** How many horizons the step that spends the last slot of the budget may cover at most. */
const LAST_SLOT_HORIZONS = 2;

/**
 * The step the predictive trigger asks for: the new size leaves the volume at
 * the usage threshold once the growth expected over the horizon has come,
 * within [minStep, maxStep]. The last slot of the budget: the engine cannot
 * act again until the oldest counted resize (at `oldestAt`) leaves the 24 h
 * window, so that step covers the growth expected until then when that is
 * longer than the horizon — but at most LAST_SLOT_HORIZONS horizons: a slope
 * fitted over a burst is believed for about its horizon, and extrapolated
 * over a whole day it bought hundreds of GiB for a load that had stopped.
 */
function predictiveStepBytes(
  p: PredictiveFinding,
  policy: ResizePolicy,
  usedBytes: bigint,
  currentBytes: bigint,
  remaining: number,
  oldestAt: number | undefined,
  now: number,
): bigint {
  let growth = p.horizonGrowthBytes as bigint;
  if (remaining === 1) {
    const untilSlot = oldestAt !== undefined ? oldestAt + BUDGET_WINDOW_MS - now : BUDGET_WINDOW_MS;
    const horizonMs = (policy.triggers.predictive as PredictiveTrigger).horizonMs;
    const coverMs = Math.min(untilSlot, LAST_SLOT_HORIZONS * horizonMs);
    if (coverMs > horizonMs) growth = BigInt(Math.ceil((p.bytesPerHour / 3_600_000) * coverMs));
  }
  const expected = usedBytes + growth;
  const target = ceilDivBig(expected * 1_000_000n, BigInt(Math.round(policy.triggers.usageThreshold * 10_000)));
  const { minStepBytes, maxStepBytes } = policy.expansion;
  return clampStep(target - currentBytes, minStepBytes, maxStepBytes);
}

function clampStep(b: bigint, min: bigint, max: bigint): bigint {
  return b < min ? min : b > max ? max : b;
}

function progressInputs(
  pvc: PvcFacts,
  fs: FilesystemFacts | undefined,
  condition: PvcFacts['conditions'][number] | undefined,
): Record<string, TraceValue> {
  return {
    request: q(pvc.requestBytes),
    capacity: q(pvc.capacityBytes),
    filesystemTotal: q(fs?.totalBytes),
    condition: condition?.type ?? null,
    allocatedResourceStatus: pvc.allocatedResourceStatus ?? null,
  };
}

function budgetInputs(budget: Budget): Record<string, TraceValue> {
  return {
    maxActionsPerDay: budget.max,
    usedInWindow: budget.used,
    remaining: budget.remaining,
    nextSlotAt: budget.nextSlotAt ?? null,
  };
}

function sizeInputs(
  policy: ResizePolicy,
  currentBytes: bigint,
  predictiveStep: bigint | undefined,
  chosenStep: bigint,
  newBytes: bigint,
): Record<string, TraceValue> {
  const { step, minStepBytes, maxStepBytes, limitBytes } = policy.expansion;
  const bounded = step.kind === 'percent' || predictiveStep !== undefined;
  return {
    current: q(currentBytes),
    step: step.kind === 'percent' ? `${step.basisPoints / 100}%` : q(step.bytes),
    minStep: bounded ? q(minStepBytes) : null,
    maxStep: bounded ? q(maxStepBytes) : null,
    ...(policy.triggers.predictive ? { predictiveStep: q(predictiveStep) } : {}),
    stepBytes: q(chosenStep),
    limit: q(limitBytes),
    new: q(newBytes),
  };
}

function ceilDivBig(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function hours(ms: number): string {
  return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
}

/** One sentence about the predictive trigger's finding. */
function predictiveText(p: PredictiveFinding, pred: PredictiveTrigger): string {
  const rate = `${formatBytesHuman(BigInt(Math.round(Math.abs(p.bytesPerHour))))}/h`;
  switch (p.why) {
    case 'no-history':
      return 'the predictive trigger has no usage history yet';
    case 'few-samples':
      return `the forecast has ${p.samples} samples, fewer than ${pred.minSamples}`;
    case 'short-span':
      return `the forecast's samples span less than half its ${hours(pred.windowMs)} window`;
    case 'not-growing':
      return `the forecast sees no growth (${p.bytesPerHour < 0 ? '-' : ''}${rate})`;
    case 'noise':
      return `the growth of ${rate} is within the scatter of the samples (not believed)`;
    case 'beyond-horizon':
      return `at ${rate} the volume fills in ${hours(p.msToFull as number)}, not within ${hours(pred.horizonMs)}`;
    default:
      return `at ${rate} the volume fills in ${hours(p.msToFull as number)}, within the ${hours(pred.horizonMs)} horizon`;
  }
}

function triggerInputs(input: DecisionInput, p: PredictiveFinding | undefined): Record<string, TraceValue> {
  const fs = input.filesystem;
  const t = input.policy.triggers;
  return {
    percentUsed: fs ? percentUsed(fs) : null,
    usageThreshold: t.usageThreshold,
    available: q(fs?.availableBytes),
    minAvailable: q(t.minAvailableBytes),
    walSpaceExhausted: input.walSpaceExhausted !== undefined && walSafetyApplies(input.volume, input.cluster),
    ...(t.predictive
      ? {
          predictiveHorizonHours: t.predictive.horizonMs / 3_600_000,
          predictiveSamples: p?.samples ?? null,
          predictiveBytesPerHour: p ? Math.round(p.bytesPerHour) : null,
          predictiveHoursToFull: p?.msToFull !== undefined ? Math.round(p.msToFull / 360_000) / 10 : null,
          predictive: p?.why ?? null,
        }
      : {}),
  };
}

/** A WAL-safety block; the sentence and inputs are only built with a trace. */
function walStop(
  trace: TraceStep[] | undefined,
  reason: BlockReason,
  inputs: () => Record<string, TraceValue>,
  message: () => string,
): { reason: BlockReason; message: string } {
  if (!trace) return { reason, message: '' };
  const m = message();
  trace.push({ check: 'wal-safety', outcome: 'stop', inputs: inputs(), message: m });
  return { reason, message: m };
}

function walWarn(warnings: DecisionWarning[], traced: boolean, code: WarningCode, message: string): void {
  warnings.push({ code, message: traced ? message : '' });
}

/**
 * Date.parse of the same few RFC 3339 strings, pass after pass, is most of
 * what the fast path's WAL check costs: remembered (a bounded memo; the
 * result of parsing a string never changes, so decisions stay pure).
 */
const parsed = new Map<string, number>();
function parseTime(text: string | undefined): number {
  if (text === undefined) return NaN;
  let t = parsed.get(text);
  if (t === undefined) {
    if (parsed.size >= 4096) parsed.clear();
    t = Date.parse(text);
    parsed.set(text, t);
  }
  return t;
}

/** Archive health without the sentence: the fast path's version of archiveHealthy(). */
function archiveIsHealthy(archiver: NonNullable<WalHealth['archiver']>): boolean {
  const ok = parseTime(archiver.lastArchivedTime);
  if (Number.isNaN(ok)) return false;
  const failed = parseTime(archiver.lastFailedTime);
  return Number.isNaN(failed) || failed <= ok;
}

/**
 * Step 7, in the spec's order. Returns the block, or undefined when allowed.
 * Without a trace (the fast path) no sentence is written: messages are ''.
 */
function checkWalSafety(
  input: DecisionInput,
  trace: TraceStep[] | undefined,
  warnings: DecisionWarning[],
): { reason: BlockReason; message: string } | undefined {
  const { policy, volume, cluster, walHealth } = input;
  const w = policy.strategy.walSafetyPolicy;
  const traced = trace !== undefined;

  if (volume.type === 'data' && cluster.singleVolume && !w.acknowledgeWALRisk) {
    return walStop(
      trace,
      'wal-risk-not-acknowledged',
      () => ({ singleVolume: true, acknowledgeWALRisk: false }),
      () => 'WAL lives on this data volume and acknowledgeWALRisk is not set: growing it could hide a WAL problem',
    );
  }
  // Each instance is judged on its own WAL health (a replica on its own
  // archiver and slots): figures from another instance are not used.
  if (!walHealth || walHealth.instance !== volume.instance) {
    if (!traced) {
      walWarn(warnings, traced, 'wal-health-unavailable', '');
      return undefined;
    }
    const what = walHealth
      ? `the WAL health given is for ${walHealth.instance}, not ${volume.instance}, so there is none for this instance`
      : 'no WAL health data';
    const msg = `${what}: resize allowed anyway (fail-open), because a full disk is the greater danger`;
    walWarn(warnings, traced, 'wal-health-unavailable', msg);
    trace.push({
      check: 'wal-safety',
      outcome: 'warn',
      inputs: { walHealth: walHealth ? walHealth.instance : null, instance: volume.instance },
      message: msg,
    });
    return undefined;
  }

  const notes: string[] = [];
  let outcome: CheckOutcome = 'pass';
  // Archive.
  const configured = cluster.archiving.configured ?? walHealth.archivingConfigured;
  if (configured === false) {
    walWarn(
      warnings,
      traced,
      'archive-not-configured',
      'WAL archiving is not configured: the archive check does not apply',
    );
    if (traced) notes.push('archiving not configured, archive check skipped');
  } else if (!w.requireArchiveHealthy) {
    if (traced) notes.push('requireArchiveHealthy is off');
  } else if (!walHealth.archiver) {
    walWarn(
      warnings,
      traced,
      'archive-facts-missing',
      'archiver statistics are unavailable: the archive check was skipped (fail-open)',
    );
    if (traced) notes.push('archiver statistics unavailable, archive check skipped');
    outcome = 'warn';
  } else {
    const archiver = walHealth.archiver;
    if (!traced) {
      if (!archiveIsHealthy(archiver)) return { reason: 'archive-unhealthy', message: '' };
    } else {
      const a = archiveHealthy(archiver);
      if (!a.healthy) {
        return walStop(
          trace,
          'archive-unhealthy',
          () => ({
            lastArchivedTime: archiver.lastArchivedTime ?? null,
            lastFailedTime: archiver.lastFailedTime ?? null,
            failedCount: archiver.failedCount,
          }),
          () => `WAL archiving is unhealthy on ${walHealth.instance}: ${a.why}`,
        );
      }
      notes.push(`archive healthy (${a.why})`);
    }
  }

  // Pending .ready files.
  if (w.maxPendingWALFiles > 0) {
    const ready = walHealth.readyFiles;
    if (ready === undefined) {
      walWarn(
        warnings,
        traced,
        'pending-wal-unknown',
        'the .ready backlog is unknown: the pending-WAL check was skipped (fail-open)',
      );
      if (traced) notes.push('.ready backlog unknown');
      outcome = 'warn';
    } else if (ready > w.maxPendingWALFiles) {
      return walStop(
        trace,
        'pending-wal',
        () => ({ readyFiles: ready, maxPendingWALFiles: w.maxPendingWALFiles }),
        () => `${ready} WAL files wait to be archived on ${walHealth.instance}, more than ${w.maxPendingWALFiles}`,
      );
    } else if (traced) {
      notes.push(`${ready} .ready files (max ${w.maxPendingWALFiles})`);
    }
  }

  // Inactive slots.
  if (w.maxSlotRetentionBytes > 0n) {
    if (!walHealth.slots) {
      walWarn(
        warnings,
        traced,
        'slots-unknown',
        'replication slots are unknown: the slot check was skipped (fail-open)',
      );
      if (traced) notes.push('slots unknown');
      outcome = 'warn';
    } else {
      const offender = walHealth.slots.find(
        (s) => !s.active && s.retainedBytes !== undefined && s.retainedBytes > w.maxSlotRetentionBytes,
      );
      if (offender) {
        return walStop(
          trace,
          'slot-retention',
          () => ({
            slot: offender.name,
            retained: q(offender.retainedBytes),
            maxSlotRetentionBytes: q(w.maxSlotRetentionBytes),
          }),
          () =>
            `inactive slot ${offender.name} on ${walHealth.instance} retains ${formatBytes(offender.retainedBytes as bigint)}, more than ${formatBytes(w.maxSlotRetentionBytes)}`,
        );
      }
      if (traced) notes.push('no inactive slot over the retention limit');
    }
  }
  if (traced) {
    trace.push({
      check: 'wal-safety',
      outcome,
      inputs: {
        instance: walHealth.instance,
        archivingConfigured: configured ?? null,
        readyFiles: walHealth.readyFiles ?? null,
        slots: walHealth.slots?.length ?? null,
      },
      // The archive check always leaves a note, so the message is never empty.
      message: notes.join('; '),
    });
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The prepared fast path.

/** Byte figures up to 2^49 (512 TiB): sums and ten-fold products stay exact in doubles. */
const FAST_MAX = 2 ** 49;
const MIB_N = 1024 * 1024;
const NO_WARNINGS: DecisionWarning[] = [];
Object.freeze(NO_WARNINGS);
/** Filled by the WAL check and copied only when it warned (most passes it does not). */
const WAL_WARNINGS_SCRATCH: DecisionWarning[] = [];

function fastNumber(b: bigint | undefined): number {
  if (b === undefined || b < 0n) return NaN;
  const n = Number(b);
  return n <= FAST_MAX ? n : NaN;
}

/**
 * One volume prepared for deciding again and again (the simulator: a year
 * of minutes; a controller: pass after pass): the policy is read once into
 * plain numbers, the ledger's times are parsed once, and the figures that
 * change every step are set as numbers, so a decision allocates only the
 * Decision itself (and its BigInt sizes).
 *
 * decide() gives what decideUntraced() gives for toInput() — a property test
 * holds them equal. It is core's engine, not a copy of it: every rule outside
 * the common case (figures beyond 512 TiB, no filesystem facts, a WAL disk
 * CloudNativePG found full, a corrupt ledger or one with entries in the
 * future, facts carrying their observation time) is decided by
 * decideUntraced() itself, and the WAL-safety check, the predictive
 * judgement and the predictive step are the same functions decide() calls.
 * The budget and warnings of its decisions may be shared between decisions
 * of the same volume: treat them as read-only.
 */
export class PreparedDecision {
  private readonly input: DecisionInput;
  private readonly walSafety: boolean;
  // the policy, once
  private readonly enabled: boolean;
  private readonly tm: number;
  private readonly minAvailable: number;
  private readonly pred: PredictiveTrigger | undefined;
  private readonly percentStep: number;
  private readonly absoluteStep: number;
  private readonly minStep: number;
  private readonly maxStep: number;
  private readonly limit: number;
  private readonly maxActions: number;
  private readonly policyFast: boolean;
  /** The filesystem facts carry their observation time: the general path judges them. */
  private readonly factsTimed: boolean;
  /** CloudNativePG found this WAL volume full: the general path decides. */
  private readonly exhausted: boolean;
  // what changes
  private now = 0;
  private used = 0;
  private available = 0;
  private total = 0;
  private request = 0;
  private capacity = 0;
  private current = -1;
  private currentBig = 0n;
  private figuresSet = false;
  private figuresFast = false;
  private failed = false;
  private inProgress = false;
  private ledgerTimes: number[] = [];
  private ledgerCount = 0;
  private ledgerFast = true;
  private budgetUsed = -1;
  private budget: Budget | undefined;

  constructor(input: DecisionInput) {
    // A snapshot of what stays put (a caller editing its policy later does
    // not change the numbers read from it here), allocated together with
    // this object so the WAL check reads it from nearby memory.
    const policy = snapshotPolicy(input.policy);
    this.input = { ...input, policy, volume: { ...input.volume }, cluster: { ...input.cluster } };
    this.walSafety = walSafetyApplies(input.volume, input.cluster);
    this.exhausted = this.walSafety && input.walSpaceExhausted !== undefined;
    this.enabled = policy.enabled;
    this.tm = thresholdMicros(policy.triggers.usageThreshold);
    const minAvail = policy.triggers.minAvailableBytes;
    this.minAvailable = minAvail === undefined ? -1 : Number(minAvail);
    this.pred = policy.triggers.predictive;
    const { step, minStepBytes, maxStepBytes, limitBytes } = policy.expansion;
    this.percentStep = step.kind === 'percent' ? step.basisPoints : -1;
    this.absoluteStep = step.kind === 'absolute' ? fastNumber(step.bytes) : -1;
    this.minStep = fastNumber(minStepBytes);
    this.maxStep = fastNumber(maxStepBytes);
    this.limit = limitBytes === undefined ? Infinity : Number(limitBytes);
    this.maxActions = policy.strategy.maxActionsPerDay;
    this.policyFast =
      !Number.isNaN(this.absoluteStep) &&
      !Number.isNaN(this.minStep) &&
      !Number.isNaN(this.maxStep) &&
      Number.isInteger(this.percentStep);
    this.setConditions(input.pvc.conditions, input.pvc.allocatedResourceStatus);
    this.setLedger(input.ledger);
    // Facts that carry their observation time, or figures beyond 2^49, are
    // decided by the general path from the input as given.
    const fs = input.filesystem;
    this.now = input.now;
    this.factsTimed = fs?.observedAt !== undefined;
    if (fs && !this.factsTimed) {
      const figures = [
        fastNumber(fs.usedBytes),
        fastNumber(fs.availableBytes),
        fastNumber(fs.totalBytes),
        fastNumber(input.pvc.requestBytes),
        fastNumber(input.pvc.capacityBytes),
      ] as const;
      if (!figures.some(Number.isNaN)) this.setFigures(input.now, ...figures);
    }
  }

  /**
   * The figures of this step: bytes (whole numbers, at least 0) and epoch ms.
   * Figures above 2^49 are decided by the general path.
   */
  setFigures(now: number, used: number, available: number, total: number, request: number, capacity: number): void {
    for (const n of [used, available, total, request, capacity]) {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a byte figure must be a whole number ≥ 0: ${n}`);
    }
    this.figuresSet = true;
    this.now = now;
    this.used = used;
    this.available = available;
    this.total = total;
    this.request = request;
    this.capacity = capacity;
    const current = request > capacity ? request : capacity;
    if (current !== this.current) {
      this.current = current;
      this.currentBig = BigInt(current);
    }
    this.figuresFast =
      !this.factsTimed && used <= FAST_MAX && available <= FAST_MAX && total <= FAST_MAX && current <= FAST_MAX;
  }

  /** The trend of this step for the predictive trigger (usageTrend() or a TrendWindow). */
  setUsageTrend(trend: UsageTrend | undefined): void {
    this.input.usageTrend = trend;
  }

  /** The PVC's conditions and allocated-resource status. */
  setConditions(conditions: PvcCondition[], allocatedResourceStatus?: string): void {
    const pvc: PvcFacts = { ...this.input.pvc, conditions };
    if (allocatedResourceStatus === undefined) delete pvc.allocatedResourceStatus;
    else pvc.allocatedResourceStatus = allocatedResourceStatus;
    this.input.pvc = pvc;
    const alloc = allocatedResourceStatus;
    let failed = alloc !== undefined && FAILED_ALLOCATED.includes(alloc);
    let inProgress = alloc !== undefined && IN_PROGRESS_ALLOCATED.includes(alloc);
    for (const c of conditions) {
      if (c.status !== 'True') continue;
      if (FAILED_CONDITIONS.includes(c.type)) failed = true;
      if (IN_PROGRESS_CONDITIONS.includes(c.type)) inProgress = true;
    }
    this.failed = failed;
    this.inProgress = inProgress;
  }

  /** The resize ledger (its times are parsed here, once). */
  setLedger(ledger: Ledger): void {
    this.input.ledger = ledger;
    this.ledgerTimes = ledger.entries
      .filter((e) => e.by === 'engine')
      .map((e) => Date.parse(e.at))
      .sort((a, b) => a - b);
    this.ledgerCount = this.ledgerTimes.length;
    this.ledgerFast = ledger.corrupt === undefined && !this.ledgerTimes.some(Number.isNaN);
    this.budget = undefined;
    this.budgetUsed = -1;
  }

  /** This instance's WAL health (undefined: none). */
  setWalHealth(walHealth: WalHealth | undefined): void {
    this.input.walHealth = walHealth;
  }

  /** The DecisionInput this prepared volume stands for. */
  toInput(): DecisionInput {
    const input = { ...this.input, now: this.now };
    if (this.figuresSet) {
      input.filesystem = {
        ...this.input.filesystem,
        totalBytes: BigInt(this.total),
        usedBytes: BigInt(this.used),
        availableBytes: BigInt(this.available),
      };
      input.pvc = { ...this.input.pvc, requestBytes: BigInt(this.request), capacityBytes: BigInt(this.capacity) };
    }
    return input;
  }

  /** decideUntraced(this.toInput()), without building that input in the common case. */
  decide(): Decision {
    const noFacts = !this.figuresSet && this.input.filesystem === undefined;
    if (!this.ledgerFast || (!noFacts && (!this.figuresFast || !this.policyFast))) {
      return decideUntraced(this.toInput());
    }
    const now = this.now;
    const times = this.ledgerTimes;
    // The counted entries are the newest ones (times sorted); one in the future
    // beyond the ledger's rounding is a warning the general path writes.
    let used = 0;
    for (let i = this.ledgerCount - 1; i >= 0; i--) {
      const t = times[i] as number;
      if (now - t >= BUDGET_WINDOW_MS) break;
      if (t - now > LEDGER_TIME_PRECISION_MS) return decideUntraced(this.toInput());
      used++;
    }
    if (this.exhausted) return decideUntraced(this.toInput());
    const budget = this.budgetFor(used);
    if (noFacts) {
      // Nothing measured this filesystem: disabled, or unknown.
      const d = this.finish(this.enabled ? 'unknown' : 'disabled', budget, 0, NO_WARNINGS);
      delete d.percentUsed;
      const { requestBytes, capacityBytes } = this.input.pvc;
      const current = largerOf(requestBytes, capacityBytes);
      if (current === undefined) delete d.currentBytes;
      else d.currentBytes = current;
      return d;
    }
    const u = this.used;
    const a = this.available;
    let pct = percentUsedOfNumbers(u, a);
    if (Number.isNaN(pct)) pct = percentUsedByDigits(u, a);
    if (Number.isNaN(pct)) pct = percentUsedOfBig(BigInt(u), BigInt(a));
    if (!this.enabled) return this.finish('disabled', budget, pct, NO_WARNINGS);

    // 3. Trigger.
    let over = aboveThresholdOfNumbers(u, a, this.tm);
    if (over === undefined) over = aboveThresholdOfBig(BigInt(u), BigInt(a), this.tm);
    const under = this.minAvailable >= 0 && a < this.minAvailable;
    const pred = this.pred;
    let predictive: PredictiveFinding | undefined;
    if (pred) {
      const trend =
        this.input.usageTrend ??
        (this.input.usageHistory ? usageTrend(this.input.usageHistory, pred.windowMs) : undefined);
      predictive = judgePredictiveOf(pred, a, trend);
    }
    const predictiveFires = predictive?.fires === true;
    if (!over && !under && !predictiveFires) return this.finish('none', budget, pct, NO_WARNINGS);

    // 4. In progress or failed.
    if (this.failed) return this.finish('resize-failed', budget, pct, NO_WARNINGS);
    const cap = this.capacity;
    const gap = cap - this.total;
    if (this.request > cap || this.inProgress || (gap * 10 > cap && gap > MIB_N * 64)) {
      return this.finish('resize-in-progress', budget, pct, NO_WARNINGS);
    }

    // 5. Budget.
    let warnings = NO_WARNINGS;
    if (this.maxActions === 0) {
      warnings = [{ code: 'budget-disabled', message: '' }];
      return this.finish('blocked', budget, pct, warnings, 'rate-limit');
    }
    if (budget.remaining <= 0) return this.finish('blocked', budget, pct, warnings, 'rate-limit');

    // 6. Limit.
    const current = this.current;
    if (current >= this.limit) return this.finish('at-limit', budget, pct, warnings);

    // 7. WAL safety: the same check decide() makes.
    if (this.walSafety) {
      const walWarnings = WAL_WARNINGS_SCRATCH;
      walWarnings.length = 0;
      // (written only when it changed: a new number here is an allocation)
      if (this.input.now !== now) this.input.now = now;
      const blocked = checkWalSafety(this.input, undefined, walWarnings);
      if (walWarnings.length > 0) warnings = walWarnings.slice();
      if (blocked) return this.finish('blocked', budget, pct, warnings, blocked.reason);
    }

    // 8. New size, in doubles: every figure is at most 2^49.
    let step = -1;
    if (over || under) {
      if (this.percentStep >= 0) {
        // ⌈current × bp / 10^4⌉ exactly: current = hi × 10^4 + lo, so it is
        // hi × bp + ⌈lo × bp / 10^4⌉, every product below 2^53.
        const lo = current % 10_000;
        const loProduct = lo * this.percentStep;
        const loRem = loProduct % 10_000;
        const s = ((current - lo) / 10_000) * this.percentStep + (loProduct - loRem) / 10_000 + (loRem > 0 ? 1 : 0);
        step = s < this.minStep ? this.minStep : s > this.maxStep ? this.maxStep : s;
      } else {
        step = this.absoluteStep;
      }
    }
    if (predictiveFires) {
      const p = predictive as PredictiveFinding;
      const oldest = budget.remaining === 1 && used > 0 ? (times[times.length - used] as number) : undefined;
      const ps = Number(
        predictiveStepBytes(p, this.input.policy, BigInt(u), this.currentBig, budget.remaining, oldest, now),
      );
      if (ps > step) step = ps;
    }
    const sum = current + step;
    const rem = sum % MIB_N;
    let next = rem === 0 ? sum : sum + MIB_N - rem;
    if (next > this.limit) {
      next = this.limit;
      const capped: DecisionWarning = { code: 'capped-at-limit', message: '' };
      warnings = warnings === NO_WARNINGS ? [capped] : [...warnings, capped];
    }
    if (next <= current) return this.finish('none', budget, pct, warnings);
    const d = this.finish('resize', budget, pct, warnings);
    d.newBytes = BigInt(next);
    d.stepBytes = BigInt(next - current);
    return d;
  }

  /** The budget for `used` counted entries (the same object while `used` holds). */
  private budgetFor(used: number): Budget {
    if (this.budget && this.budgetUsed === used) return this.budget;
    const max = this.maxActions;
    const remaining = Math.max(0, max - used);
    const budget: Budget = { max, used, remaining, warnings: [] };
    if (remaining === 0 && max > 0) {
      const times = this.ledgerTimes;
      const counted0 = times.length - used;
      budget.nextSlotAt = new Date((times[counted0 + used - max] as number) + BUDGET_WINDOW_MS).toISOString();
    }
    this.budget = budget;
    this.budgetUsed = used;
    return budget;
  }

  private finish(
    verdict: Verdict,
    budget: Budget,
    pct: number,
    warnings: DecisionWarning[],
    reason?: BlockReason,
  ): Decision {
    const d: Decision = {
      verdict,
      message: '',
      walSafetyApplies: this.walSafety,
      budget,
      warnings,
      trace: EMPTY_TRACE,
      currentBytes: this.currentBig,
      percentUsed: pct,
    };
    if (reason !== undefined) d.reason = reason;
    return d;
  }
}

/** A copy of a policy, nested objects included. */
function snapshotPolicy(p: ResizePolicy): ResizePolicy {
  const { triggers, expansion, strategy } = p;
  return {
    ...p,
    triggers: triggers.predictive ? { ...triggers, predictive: { ...triggers.predictive } } : { ...triggers },
    expansion: { ...expansion, step: { ...expansion.step } },
    strategy: { ...strategy, walSafetyPolicy: { ...strategy.walSafetyPolicy } },
  };
}

/** A volume prepared for the fast path: see PreparedDecision. */
export function prepareDecision(input: DecisionInput): PreparedDecision {
  return new PreparedDecision(input);
}
