/**
 * Storage backend models: how long a resize takes to reach the disk and the
 * filesystem, and which modifications a provider refuses. Sources and the
 * choices made where nothing is published: docs/simulate.md.
 */
import { GIB, HOUR_MS, MINUTE_MS } from './scenarios.js';

/** One accepted modification of the volume. */
export interface Modification {
  /** Epoch ms the provider accepted it. */
  at: number;
  /** Epoch ms it finished (EBS: left the `optimizing` state). */
  doneAt: number;
  fromBytes: number;
  toBytes: number;
}

export type Refusal = { ok: true } | { ok: false; rule: string };

export interface BackendModel {
  id: BackendId;
  title: string;
  /** From accepting a modification to the new capacity on the PVC. */
  resizeLatencyMs: number;
  /** From the new capacity to the grown filesystem (kubelet's online expansion). */
  fsGrowDelayMs: number;
  /** How long a modification keeps the volume busy (EBS `optimizing`). */
  busyMs(toBytes: number): number;
  /** Whether the provider accepts growing the volume from → to at `now`, given the past modifications. */
  check(history: readonly Modification[], now: number, fromBytes: number, toBytes: number): Refusal;
}

export const BACKENDS = ['ebs', 'ebs-legacy', 'gcp-pd', 'azure-disk', 'ideal'] as const;
export type BackendId = (typeof BACKENDS)[number];

/** EBS: at most this many modifications per volume in a rolling 24 h. */
export const EBS_MAX_MODIFICATIONS_PER_DAY = 4;
/** Older EBS rule: at least 6 h between two modifications of a volume. */
export const EBS_LEGACY_COOLDOWN_MS = 6 * HOUR_MS;
/**
 * EBS optimizing time (our choice, from "a fully used 1-TiB volume takes about
 * 6 hours" for a new performance configuration): 6 h per TiB, at least 30 min.
 */
export function ebsOptimizingMs(toBytes: number): number {
  return Math.max(30 * MINUTE_MS, (6 * HOUR_MS * toBytes) / (1024 * GIB));
}
/** Azure: online expansion cannot cross 4 TiB (4,096 GiB). */
export const AZURE_ONLINE_BORDER_BYTES = 4096 * GIB;

const DAY = 24 * HOUR_MS;

function ebsRolling(history: readonly Modification[], now: number): Refusal {
  const last = history[history.length - 1];
  if (last && now < last.doneAt) return { ok: false, rule: 'previous modification still optimizing' };
  const inDay = history.filter((m) => now - m.at < DAY).length;
  if (inDay >= EBS_MAX_MODIFICATIONS_PER_DAY) {
    return { ok: false, rule: `${EBS_MAX_MODIFICATIONS_PER_DAY} modifications in the last 24 h` };
  }
  return { ok: true };
}

export function backendModel(id: BackendId): BackendModel {
  switch (id) {
    case 'ebs':
      return {
        id,
        title: 'AWS EBS (4 modifications per rolling 24 h, each after the last finished optimizing)',
        resizeLatencyMs: MINUTE_MS,
        fsGrowDelayMs: 2 * MINUTE_MS,
        busyMs: ebsOptimizingMs,
        check: (h, now) => ebsRolling(h, now),
      };
    case 'ebs-legacy':
      return {
        id,
        title: 'AWS EBS, older rule (6 h between modifications)',
        resizeLatencyMs: MINUTE_MS,
        fsGrowDelayMs: 2 * MINUTE_MS,
        busyMs: ebsOptimizingMs,
        check: (h, now) => {
          const last = h[h.length - 1];
          return last && now - last.at < EBS_LEGACY_COOLDOWN_MS
            ? { ok: false, rule: 'less than 6 h since the last modification' }
            : { ok: true };
        },
      };
    case 'gcp-pd':
      return {
        id,
        title: 'Google Cloud Persistent Disk (no published rate limit on size increases)',
        resizeLatencyMs: MINUTE_MS,
        fsGrowDelayMs: 2 * MINUTE_MS,
        busyMs: () => MINUTE_MS,
        check: (h, now) => {
          const last = h[h.length - 1];
          return last && now < last.doneAt ? { ok: false, rule: 'previous resize operation running' } : { ok: true };
        },
      };
    case 'azure-disk':
      return {
        id,
        title: 'Azure managed disk (online expansion up to 4 TiB; crossing 4 TiB needs downtime)',
        resizeLatencyMs: MINUTE_MS,
        fsGrowDelayMs: 2 * MINUTE_MS,
        busyMs: () => MINUTE_MS,
        check: (h, now, from, to) => {
          const last = h[h.length - 1];
          if (last && now < last.doneAt) return { ok: false, rule: 'previous resize operation running' };
          if (from <= AZURE_ONLINE_BORDER_BYTES && to > AZURE_ONLINE_BORDER_BYTES) {
            return { ok: false, rule: 'online expansion cannot cross 4 TiB' };
          }
          return { ok: true };
        },
      };
    case 'ideal':
      return {
        id,
        title: 'ideal backend (instant, unlimited): isolates the policy from the provider',
        resizeLatencyMs: 0,
        fsGrowDelayMs: 0,
        busyMs: () => 0,
        check: () => ({ ok: true }),
      };
  }
}
