/**
 * Baseline policies, each from its published rule (sources and exact
 * numbers in docs/simulate.md). They see what their real counterpart sees:
 * the filesystem figures, the PVC (or instance) size, and when the last
 * modification happened. Sizes are plain byte numbers.
 */
import type { Modification } from './backends.js';
import { GIB, HOUR_MS, MIB, MINUTE_MS } from './scenarios.js';

/** What a policy sees at one step of the simulation. */
export interface StepView {
  now: number;
  stepMs: number;
  /** Index of the step in `usedSeries`. */
  i: number;
  usedSeries: Float64Array;
  usedBytes: number;
  fsTotalBytes: number;
  availableBytes: number;
  /** The size last asked for (PVC spec.resources.requests.storage). */
  requestBytes: number;
  /** The size the backend has applied (PVC status.capacity). */
  capacityBytes: number;
  /** The backend refused the last request and it has not been applied yet. */
  refused: boolean;
  /** The capacity grew and the filesystem has not yet (the PVC's FileSystemResizePending). */
  fsResizePending: boolean;
  /** Accepted modifications, oldest first. */
  history: readonly Modification[];
}

export interface SimPolicy {
  id: string;
  title: string;
  /** Below this many available bytes the disk counts as full for this policy (besides one WAL segment). */
  floorBytes: number;
  /** The new size to ask for, or undefined to leave the volume alone. */
  decide(v: StepView): number | undefined;
}

const ceilTo = (bytes: number, unit: number) => Math.ceil(bytes / unit) * unit;
const capAt = (bytes: number, limit: number | undefined) => (limit !== undefined && bytes > limit ? limit : bytes);
/** A resize is on its way: asked for and not yet applied, or applied and the filesystem not grown. */
const resizing = (v: StepView) => v.requestBytes > v.capacityBytes || v.fsTotalBytes < v.capacityBytes;

/**
 * AWS RDS storage autoscaling: free space ≤ 10% of the allocated storage for
 * at least 5 minutes, at least 6 h since the last storage modification and
 * its optimization finished; grows by the largest of 10 GiB, 10% of the
 * allocated storage, and the growth predicted for the next 7 h (from the
 * last hour) beyond the allocated size. Sizes in whole GiB.
 */
export function rdsPolicy(limit?: number): SimPolicy {
  let lowSince: number | undefined;
  return {
    id: 'rds',
    title: 'AWS RDS storage autoscaling',
    floorBytes: 0,
    decide(v) {
      if (v.availableBytes > 0.1 * v.capacityBytes) {
        lowSince = undefined;
        return undefined;
      }
      lowSince ??= v.now;
      if (v.now - lowSince < 5 * MINUTE_MS || resizing(v)) return undefined;
      const last = v.history[v.history.length - 1];
      if (last && (v.now - last.at < 6 * HOUR_MS || v.now < last.doneAt)) return undefined;
      const hourAgo = Math.max(0, v.i - Math.round(HOUR_MS / v.stepMs));
      const perHour =
        ((v.usedBytes - (v.usedSeries[hourAgo] as number)) * HOUR_MS) / Math.max(v.stepMs, (v.i - hourAgo) * v.stepMs);
      const predicted = Math.max(0, v.usedBytes + 7 * perHour - v.capacityBytes);
      const step = Math.max(10 * GIB, 0.1 * v.capacityBytes, predicted);
      const next = capAt(ceilTo(v.capacityBytes + step, GIB), limit);
      return next > v.capacityBytes ? next : undefined;
    },
  };
}

/** Cloud SQL: threshold = increase = min(floor(size in GB / 25) + 5, 25) GB, checked every 30 s. */
export function cloudSqlThresholdBytes(capacityBytes: number): number {
  return Math.min(Math.floor(capacityBytes / GIB / 25) + 5, 25) * GIB;
}

/** Google Cloud SQL automatic storage increase: below the threshold, add the same amount. */
export function cloudSqlPolicy(limit?: number): SimPolicy {
  return {
    id: 'cloudsql',
    title: 'Google Cloud SQL automatic storage increase',
    floorBytes: 0,
    decide(v) {
      const t = cloudSqlThresholdBytes(v.capacityBytes);
      if (v.availableBytes >= t || resizing(v)) return undefined;
      const next = capAt(v.capacityBytes + t, limit);
      return next > v.capacityBytes ? next : undefined;
    },
  };
}

/** Azure Premium SSD sizes (GiB) the flexible server grows through. */
export const AZURE_TIERS_GIB = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767];

/** Azure flexible server autogrow threshold: min(20% (≤ 1 TiB) or 10% (> 1 TiB) of the size, 64 GiB). */
export function azureThresholdBytes(capacityBytes: number): number {
  const share = capacityBytes > 1024 * GIB ? 0.1 : 0.2;
  return Math.min(share * capacityBytes, 64 * GIB);
}

/** The next Premium SSD size above `bytes`, or undefined past the largest. */
export function azureNextTierBytes(bytes: number): number | undefined {
  const gib = AZURE_TIERS_GIB.find((t) => t * GIB > bytes);
  return gib === undefined ? undefined : gib * GIB;
}

/** Azure Database for PostgreSQL flexible server storage autogrow: below the threshold, the next size up (double). */
export function azurePolicy(limit?: number): SimPolicy {
  return {
    id: 'azure',
    title: 'Azure PostgreSQL flexible server autogrow',
    floorBytes: 0,
    decide(v) {
      if (v.availableBytes >= azureThresholdBytes(v.capacityBytes) || resizing(v)) return undefined;
      const tier = azureNextTierBytes(v.capacityBytes);
      if (tier === undefined) return undefined;
      const next = capAt(tier, limit);
      return next > v.capacityBytes ? next : undefined;
    },
  };
}

/**
 * topolvm pvc-autoresizer defaults: fires when 10% of the filesystem size is
 * more than the available bytes; the new request is the capacity plus 10% of
 * it, rounded up to a whole GiB, capped at the storage limit; waits while the
 * filesystem still has the size it had when it last asked.
 */
export function topolvmPolicy(limit?: number): SimPolicy {
  let askedAtFsSize: number | undefined;
  return {
    id: 'topolvm',
    title: 'topolvm pvc-autoresizer (defaults)',
    floorBytes: 0,
    decide(v) {
      if (askedAtFsSize !== undefined && askedAtFsSize === v.fsTotalBytes) return undefined;
      askedAtFsSize = undefined;
      const threshold = Math.floor(0.1 * v.fsTotalBytes);
      if (!(threshold > v.availableBytes)) return undefined;
      if (limit !== undefined && v.capacityBytes >= limit) return undefined;
      const next = capAt(ceilTo(v.capacityBytes + Math.floor(0.1 * v.capacityBytes), GIB), limit);
      if (next <= v.requestBytes) return undefined;
      askedAtFsSize = v.fsTotalBytes;
      return next;
    },
  };
}

/** Crunchy PGO auto-grow: at 75% used, request 150% of the current size (whole MiB), up to the required limit. */
export function pgoPolicy(limit?: number): SimPolicy {
  return {
    id: 'pgo',
    title: 'Crunchy PGO auto-grow',
    floorBytes: 0,
    decide(v) {
      if (v.fsTotalBytes <= 0 || v.usedBytes < 0.75 * v.fsTotalBytes || resizing(v)) return undefined;
      const next = capAt(ceilTo(1.5 * v.capacityBytes, MIB), limit);
      return next > v.requestBytes ? next : undefined;
    },
  };
}

/**
 * The CloudNativePG autoresize RFC's defaults as first written: above 80%
 * used, grow the PVC spec by 20% of it (at least 2 GiB, at most 500 GiB), at
 * most 3 times in a rolling 24 h. No check for a resize in progress, and the
 * size it grows from is the spec's request: the gaps our engine fixes.
 */
export function cnpgRfcPolicy(limit?: number): SimPolicy {
  const asked: number[] = [];
  return {
    id: 'cnpg-rfc',
    title: 'CloudNativePG autoresize RFC defaults',
    floorBytes: 0,
    decide(v) {
      const denom = v.usedBytes + v.availableBytes;
      if (denom <= 0 || (v.usedBytes * 100) / denom <= 80) return undefined;
      while (asked.length > 0 && v.now - (asked[0] as number) >= 24 * HOUR_MS) asked.shift();
      if (asked.length >= 3) return undefined;
      const step = Math.min(Math.max(Math.ceil(0.2 * v.requestBytes), 2 * GIB), 500 * GIB);
      const next = capAt(ceilTo(v.requestBytes + step, MIB), limit);
      if (next <= v.requestBytes) return undefined;
      asked.push(v.now);
      return next;
    },
  };
}
