/**
 * The autoresize decision engine (spec/engine.md, "Decision, per PVC").
 *
 * decide() is a pure function: the same input gives the same decision. It
 * never reads a clock (`now` is an input) and never performs I/O.
 */
import { budgetOf, type Budget } from './ledger.js';
import type {
  ClusterShape,
  FilesystemFacts,
  Ledger,
  PvcFacts,
  VolumeRef,
  WalHealth,
  WalSpaceExhausted,
} from './model.js';
import type { ResizePolicy } from './policy.js';
import {
  FAILED_ALLOCATED,
  FAILED_CONDITIONS,
  filesystemSmallerThanPvc,
  IN_PROGRESS_ALLOCATED,
  IN_PROGRESS_CONDITIONS,
} from './pvc-state.js';
import { formatBytes, MiB, percentOfBytes, roundUpTo } from './quantity.js';
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

/** Percent used like df: used / (used + available), root-reserved blocks excluded. */
export function percentUsed(fs: Pick<FilesystemFacts, 'usedBytes' | 'availableBytes'>): number {
  const denom = fs.usedBytes + fs.availableBytes;
  if (denom <= 0n) return 0;
  // Exact to 1/10000 of a percent, then a plain number for display.
  return Number((fs.usedBytes * 1_000_000n) / denom) / 10_000;
}

/** used × 100 > threshold × (used + available), exactly, without floating point. */
function aboveThreshold(fs: FilesystemFacts, threshold: number): boolean {
  const denom = fs.usedBytes + fs.availableBytes;
  // threshold may be fractional; scale by 1e6 to stay in integers.
  const t = BigInt(Math.round(threshold * 1_000_000));
  return fs.usedBytes * 100_000_000n > t * denom;
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

export function decide(input: DecisionInput): Decision {
  const { policy, pvc, filesystem: fs, volume, cluster, now } = input;
  const trace: TraceStep[] = [];
  const warnings: DecisionWarning[] = [];
  const walSafety = walSafetyApplies(volume, cluster);
  const budget = budgetOf(input.ledger, policy.strategy.maxActionsPerDay, now);
  const currentBytes = largerOf(pvc.requestBytes, pvc.capacityBytes);
  const base = {
    walSafetyApplies: walSafety,
    budget,
    warnings,
    trace,
    ...(currentBytes !== undefined ? { currentBytes } : {}),
    ...(fs ? { percentUsed: percentUsed(fs) } : {}),
  };
  const done = (verdict: Verdict, message: string, extra: Partial<Decision> = {}): Decision => ({
    verdict,
    message,
    ...base,
    ...extra,
  });

  // 1. Enabled?
  if (!policy.enabled) {
    trace.push({
      check: 'enabled',
      outcome: 'stop',
      inputs: { enabled: false },
      message: 'resize is not enabled for this volume',
    });
    return done('disabled', 'automatic resize is not enabled for this volume');
  }
  trace.push({ check: 'enabled', outcome: 'pass', inputs: { enabled: true }, message: 'resize is enabled' });

  // 2. Facts available? CloudNativePG's own "WAL disk full" stands in for a
  // statfs of the volume that holds pg_wal (none can run while it is down).
  const exhausted = walSafety ? input.walSpaceExhausted : undefined;
  const exhaustedText = exhausted
    ? `CloudNativePG's instance manager exited with code 4${exhausted.exitedAt ? ` at ${exhausted.exitedAt}` : ''}: less than one WAL segment free`
    : undefined;
  const missing: string[] = [];
  if (!fs && !exhausted) missing.push('filesystem usage (total/used/available)');
  if (currentBytes === undefined) missing.push('PVC size (request or capacity)');
  if (fs && (fs.totalBytes < 0n || fs.usedBytes < 0n || fs.availableBytes < 0n)) {
    missing.push('sane filesystem figures (a figure is negative)');
  }
  if (missing.length > 0 || currentBytes === undefined) {
    const why = `missing ${missing.join(' and ')}`;
    trace.push({
      check: 'facts',
      outcome: 'stop',
      inputs: { filesystem: fs ? 'present' : null, request: q(pvc.requestBytes), capacity: q(pvc.capacityBytes) },
      message: why,
    });
    return done('unknown', `cannot decide: ${why}`);
  }
  if (fs) {
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
  // figures: PostgreSQL cannot run until it grows.
  const pct = fs ? percentUsed(fs) : undefined;
  const { usageThreshold, minAvailableBytes } = policy.triggers;
  const overThreshold = fs !== undefined && aboveThreshold(fs, usageThreshold);
  const underMinAvailable =
    fs !== undefined && minAvailableBytes !== undefined && fs.availableBytes < minAvailableBytes;
  const triggerInputs = {
    percentUsed: pct ?? null,
    usageThreshold,
    available: q(fs?.availableBytes),
    minAvailable: q(minAvailableBytes),
    walSpaceExhausted: exhausted !== undefined,
  };
  if (fs && !exhausted && !overThreshold && !underMinAvailable) {
    const msg =
      `${pct}% used is not above ${usageThreshold}%` +
      (minAvailableBytes !== undefined
        ? ` and ${formatBytes(fs.availableBytes)} available is not below ${formatBytes(minAvailableBytes)}`
        : '');
    trace.push({ check: 'trigger', outcome: 'stop', inputs: triggerInputs, message: msg });
    return done('none', `no resize needed: ${msg}`);
  }
  const why = [
    exhaustedText ?? '',
    overThreshold ? `${pct}% used is above ${usageThreshold}%` : '',
    underMinAvailable && fs
      ? `${formatBytes(fs.availableBytes)} available is below ${formatBytes(minAvailableBytes as bigint)}`
      : '',
  ]
    .filter(Boolean)
    .join(' and ');
  trace.push({ check: 'trigger', outcome: 'pass', inputs: triggerInputs, message: why });

  // 4. Resize already in progress or failed?
  const failedCondition = pvc.conditions.find((c) => FAILED_CONDITIONS.includes(c.type) && c.status === 'True');
  const inProgressCondition = pvc.conditions.find(
    (c) => IN_PROGRESS_CONDITIONS.includes(c.type) && c.status === 'True',
  );
  const alloc = pvc.allocatedResourceStatus;
  const progressInputs = {
    request: q(pvc.requestBytes),
    capacity: q(pvc.capacityBytes),
    filesystemTotal: q(fs?.totalBytes),
    condition: (failedCondition ?? inProgressCondition)?.type ?? null,
    allocatedResourceStatus: alloc ?? null,
  };
  if (failedCondition || (alloc && FAILED_ALLOCATED.includes(alloc))) {
    const detail = failedCondition
      ? `${failedCondition.type}: ${failedCondition.message ?? failedCondition.reason ?? 'no message'}`
      : `status.allocatedResourceStatuses.storage is ${alloc}`;
    trace.push({
      check: 'in-progress',
      outcome: 'stop',
      inputs: progressInputs,
      message: `expansion failed: ${detail}`,
    });
    return done('resize-failed', `the last expansion failed (${detail}); fix it before another resize`);
  }
  let progressWhy: string | undefined;
  if (pvc.requestBytes !== undefined && pvc.capacityBytes !== undefined && pvc.requestBytes > pvc.capacityBytes) {
    progressWhy = `request ${formatBytes(pvc.requestBytes)} is above capacity ${formatBytes(pvc.capacityBytes)}`;
  } else if (inProgressCondition) {
    progressWhy = `condition ${inProgressCondition.type}${inProgressCondition.message ? `: ${inProgressCondition.message}` : ''}`;
  } else if (alloc && IN_PROGRESS_ALLOCATED.includes(alloc)) {
    progressWhy = `status.allocatedResourceStatuses.storage is ${alloc}`;
  } else if (pvc.capacityBytes !== undefined && fs && filesystemSmallerThanPvc(pvc.capacityBytes, fs)) {
    progressWhy = `filesystem ${formatBytes(fs.totalBytes)} is much smaller than capacity ${formatBytes(pvc.capacityBytes)} (the filesystem has not been grown)`;
  }
  if (progressWhy) {
    trace.push({ check: 'in-progress', outcome: 'stop', inputs: progressInputs, message: progressWhy });
    return done('resize-in-progress', `an expansion has not finished: ${progressWhy}`);
  }
  trace.push({ check: 'in-progress', outcome: 'pass', inputs: progressInputs, message: 'no expansion in progress' });

  // 5. Budget.
  const budgetInputs = {
    maxActionsPerDay: budget.max,
    usedInWindow: budget.used,
    remaining: budget.remaining,
    nextSlotAt: budget.nextSlotAt ?? null,
  };
  for (const w of budget.warnings) warnings.push({ code: 'ledger-future-entry', message: w });
  if (input.ledger.corrupt !== undefined) {
    const msg = `the resize ledger cannot be read (${input.ledger.corrupt}); no budget is spent until it is repaired or removed`;
    trace.push({ check: 'budget', outcome: 'stop', inputs: budgetInputs, message: msg });
    return done('blocked', msg, { reason: 'ledger-unreadable' });
  }
  if (budget.max === 0) {
    const msg = 'maxActionsPerDay is 0: automatic resizes are turned off for this volume';
    warnings.push({ code: 'budget-disabled', message: msg });
    trace.push({ check: 'budget', outcome: 'stop', inputs: budgetInputs, message: msg });
    return done('blocked', msg, { reason: 'rate-limit' });
  }
  if (budget.remaining <= 0) {
    const msg = `${budget.used} of ${budget.max} resizes used in the last 24 h; the next slot opens at ${budget.nextSlotAt}`;
    trace.push({ check: 'budget', outcome: 'stop', inputs: budgetInputs, message: msg });
    return done('blocked', `rate limit: ${msg}`, { reason: 'rate-limit' });
  }
  trace.push({
    check: 'budget',
    outcome: 'pass',
    inputs: budgetInputs,
    message: `${budget.remaining} of ${budget.max} resizes left in the last 24 h`,
  });

  // 6. Limit.
  const limit = policy.expansion.limitBytes;
  if (limit !== undefined && currentBytes >= limit) {
    const msg = `current size ${formatBytes(currentBytes)} is at or above the limit ${formatBytes(limit)}`;
    trace.push({
      check: 'limit',
      outcome: 'stop',
      inputs: { current: q(currentBytes), limit: q(limit) },
      message: msg,
    });
    return done('at-limit', msg);
  }
  trace.push({
    check: 'limit',
    outcome: limit === undefined ? 'skip' : 'pass',
    inputs: { current: q(currentBytes), limit: q(limit) },
    message: limit === undefined ? 'no limit set' : `below the limit ${formatBytes(limit)}`,
  });

  // 7. WAL safety.
  const blocked = walSafety ? checkWalSafety(input, trace, warnings) : undefined;
  if (!walSafety) {
    trace.push({
      check: 'wal-safety',
      outcome: 'skip',
      inputs: { volumeType: volume.type, singleVolume: cluster.singleVolume },
      message: 'WAL safety does not apply to this volume',
    });
  }
  if (blocked) return done('blocked', blocked.message, { reason: blocked.reason });

  // 8. New size.
  const { step, minStepBytes, maxStepBytes } = policy.expansion;
  let stepBytes: bigint;
  if (step.kind === 'percent') {
    const raw = percentOfBytes(currentBytes, step.basisPoints);
    stepBytes = raw < minStepBytes ? minStepBytes : raw > maxStepBytes ? maxStepBytes : raw;
  } else {
    stepBytes = step.bytes;
  }
  let newBytes = roundUpTo(currentBytes + stepBytes, MiB);
  let capped = false;
  if (limit !== undefined && newBytes > limit) {
    newBytes = limit;
    capped = true;
    warnings.push({ code: 'capped-at-limit', message: `the new size is capped at the limit ${formatBytes(limit)}` });
  }
  const sizeInputs = {
    current: q(currentBytes),
    step: step.kind === 'percent' ? `${step.basisPoints / 100}%` : q(step.bytes),
    minStep: step.kind === 'percent' ? q(minStepBytes) : null,
    maxStep: step.kind === 'percent' ? q(maxStepBytes) : null,
    stepBytes: q(stepBytes),
    limit: q(limit),
    new: q(newBytes),
  };
  if (newBytes <= currentBytes) {
    const msg = `the new size ${formatBytes(newBytes)} would not be larger than ${formatBytes(currentBytes)}`;
    trace.push({ check: 'new-size', outcome: 'stop', inputs: sizeInputs, message: msg });
    return done('none', msg);
  }
  const msg = `grow ${formatBytes(currentBytes)} → ${formatBytes(newBytes)}${capped ? ' (capped at the limit)' : ''}`;
  trace.push({ check: 'new-size', outcome: capped ? 'warn' : 'pass', inputs: sizeInputs, message: msg });
  return done('resize', `${why}: ${msg}`, { newBytes, stepBytes: newBytes - currentBytes });
}

/** Step 7, in the spec's order. Returns the block, or undefined when allowed. */
function checkWalSafety(
  input: DecisionInput,
  trace: TraceStep[],
  warnings: DecisionWarning[],
): { reason: BlockReason; message: string } | undefined {
  const { policy, volume, cluster, walHealth } = input;
  const w = policy.strategy.walSafetyPolicy;
  const stop = (reason: BlockReason, inputs: Record<string, TraceValue>, message: string) => {
    trace.push({ check: 'wal-safety', outcome: 'stop', inputs, message });
    return { reason, message };
  };

  if (volume.type === 'data' && cluster.singleVolume && !w.acknowledgeWALRisk) {
    return stop(
      'wal-risk-not-acknowledged',
      { singleVolume: true, acknowledgeWALRisk: false },
      'WAL lives on this data volume and acknowledgeWALRisk is not set: growing it could hide a WAL problem',
    );
  }
  // Each instance is judged on its own WAL health (a replica on its own
  // archiver and slots): figures from another instance are not used.
  if (!walHealth || walHealth.instance !== volume.instance) {
    const what = walHealth
      ? `the WAL health given is for ${walHealth.instance}, not ${volume.instance}, so there is none for this instance`
      : 'no WAL health data';
    const msg = `${what}: resize allowed anyway (fail-open), because a full disk is the greater danger`;
    warnings.push({ code: 'wal-health-unavailable', message: msg });
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
    warnings.push({
      code: 'archive-not-configured',
      message: 'WAL archiving is not configured: the archive check does not apply',
    });
    notes.push('archiving not configured, archive check skipped');
  } else if (!w.requireArchiveHealthy) {
    notes.push('requireArchiveHealthy is off');
  } else if (!walHealth.archiver) {
    warnings.push({
      code: 'archive-facts-missing',
      message: 'archiver statistics are unavailable: the archive check was skipped (fail-open)',
    });
    notes.push('archiver statistics unavailable, archive check skipped');
    outcome = 'warn';
  } else {
    const a = archiveHealthy(walHealth.archiver);
    if (!a.healthy) {
      return stop(
        'archive-unhealthy',
        {
          lastArchivedTime: walHealth.archiver.lastArchivedTime ?? null,
          lastFailedTime: walHealth.archiver.lastFailedTime ?? null,
          failedCount: walHealth.archiver.failedCount,
        },
        `WAL archiving is unhealthy on ${walHealth.instance}: ${a.why}`,
      );
    }
    notes.push(`archive healthy (${a.why})`);
  }

  // Pending .ready files.
  if (w.maxPendingWALFiles > 0) {
    if (walHealth.readyFiles === undefined) {
      warnings.push({
        code: 'pending-wal-unknown',
        message: 'the .ready backlog is unknown: the pending-WAL check was skipped (fail-open)',
      });
      notes.push('.ready backlog unknown');
      outcome = 'warn';
    } else if (walHealth.readyFiles > w.maxPendingWALFiles) {
      return stop(
        'pending-wal',
        { readyFiles: walHealth.readyFiles, maxPendingWALFiles: w.maxPendingWALFiles },
        `${walHealth.readyFiles} WAL files wait to be archived on ${walHealth.instance}, more than ${w.maxPendingWALFiles}`,
      );
    } else {
      notes.push(`${walHealth.readyFiles} .ready files (max ${w.maxPendingWALFiles})`);
    }
  }

  // Inactive slots.
  if (w.maxSlotRetentionBytes > 0n) {
    if (!walHealth.slots) {
      warnings.push({
        code: 'slots-unknown',
        message: 'replication slots are unknown: the slot check was skipped (fail-open)',
      });
      notes.push('slots unknown');
      outcome = 'warn';
    } else {
      const offender = walHealth.slots.find(
        (s) => !s.active && s.retainedBytes !== undefined && s.retainedBytes > w.maxSlotRetentionBytes,
      );
      if (offender) {
        return stop(
          'slot-retention',
          {
            slot: offender.name,
            retained: q(offender.retainedBytes),
            maxSlotRetentionBytes: q(w.maxSlotRetentionBytes),
          },
          `inactive slot ${offender.name} on ${walHealth.instance} retains ${formatBytes(offender.retainedBytes as bigint)}, more than ${formatBytes(w.maxSlotRetentionBytes)}`,
        );
      }
      notes.push('no inactive slot over the retention limit');
    }
  }
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
  return undefined;
}
