/**
 * Kubernetes events for decisions, with the names users grep for, and the
 * rule that the same condition is not announced again on every pass.
 */
import type { Decision } from './engine.js';
import type { VolumeRef } from './model.js';
import type { ResizePolicy } from './policy.js';
import { formatBytes } from './quantity.js';

export type EventReason =
  | 'AutoResizeSuccess'
  | 'AutoResizeBlocked'
  | 'AutoResizeAtLimit'
  | 'AutoResizeWALHealthUnavailable'
  | 'AutoResizeWALRisk'
  | 'AutoResizeInProgress'
  | 'AutoResizeFailed';

export interface ResizeEvent {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
  /** Identifies the condition: the same key is not announced twice in a row. */
  key: string;
}

function volumeName(v: VolumeRef): string {
  return `${v.pvcName} (${v.type}${v.tablespace ? ` ${v.tablespace}` : ''})`;
}

/** Events that describe a decision that did not (yet) resize anything. */
export function eventsForDecision(volume: VolumeRef, d: Decision): ResizeEvent[] {
  const events: ResizeEvent[] = [];
  const name = volumeName(volume);
  const key = (reason: EventReason, detail: string) => `${volume.namespace}/${volume.pvcName}/${reason}/${detail}`;
  if (d.verdict === 'blocked' && d.reason) {
    events.push({
      type: 'Warning',
      reason: 'AutoResizeBlocked',
      message: `${d.reason}: resize of ${name} blocked: ${d.message}`,
      key: key('AutoResizeBlocked', d.reason),
    });
  } else if (d.verdict === 'at-limit') {
    events.push({
      type: 'Warning',
      reason: 'AutoResizeAtLimit',
      message: `${name}: ${d.message}`,
      key: key('AutoResizeAtLimit', ''),
    });
  } else if (d.verdict === 'resize-in-progress') {
    events.push({
      type: 'Normal',
      reason: 'AutoResizeInProgress',
      message: `${name}: ${d.message}`,
      key: key('AutoResizeInProgress', ''),
    });
  } else if (d.verdict === 'resize-failed') {
    events.push({
      type: 'Warning',
      reason: 'AutoResizeFailed',
      message: `${name}: ${d.message}`,
      key: key('AutoResizeFailed', ''),
    });
  }
  if (d.warnings.some((w) => w.code === 'wal-health-unavailable')) {
    events.push({
      type: 'Warning',
      reason: 'AutoResizeWALHealthUnavailable',
      message: `${name}: no WAL health data; the WAL safety checks were skipped (fail-open)`,
      key: key('AutoResizeWALHealthUnavailable', ''),
    });
  }
  return events;
}

/** Events after a resize was applied: success, and the WAL risk alert when asked for. */
export function eventsForAppliedResize(volume: VolumeRef, d: Decision, policy: ResizePolicy): ResizeEvent[] {
  if (d.verdict !== 'resize' || d.newBytes === undefined || d.currentBytes === undefined) return [];
  const name = volumeName(volume);
  const sizes = `${formatBytes(d.currentBytes)} → ${formatBytes(d.newBytes)}`;
  const events: ResizeEvent[] = [
    {
      type: 'Normal',
      reason: 'AutoResizeSuccess',
      message: `${name} resized ${sizes}`,
      key: `${volume.namespace}/${volume.pvcName}/AutoResizeSuccess/${d.newBytes}`,
    },
  ];
  if (d.walSafetyApplies && policy.strategy.walSafetyPolicy.alertOnResize) {
    events.push({
      type: 'Warning',
      reason: 'AutoResizeWALRisk',
      message: `${name} holds WAL and was resized ${sizes}: check WAL archiving and replication slots, growth may hide a WAL problem`,
      key: `${volume.namespace}/${volume.pvcName}/AutoResizeWALRisk/${d.newBytes}`,
    });
  }
  return events;
}

/**
 * Keeps only the events whose condition was not already announced on the
 * previous pass. `previousKeys` are the keys announced last time; the
 * returned `keys` are what to remember for the next pass (conditions that
 * cleared are forgotten, so they are announced again if they come back).
 */
export function dedupeEvents(
  previousKeys: readonly string[],
  events: readonly ResizeEvent[],
): { toEmit: ResizeEvent[]; keys: string[] } {
  const seen = new Set(previousKeys);
  return { toEmit: events.filter((e) => !seen.has(e.key)), keys: events.map((e) => e.key) };
}
