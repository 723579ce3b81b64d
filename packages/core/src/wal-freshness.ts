/**
 * How old WAL facts are, and when a resize may not rest on them.
 *
 * CloudNativePG caches the results of its monitoring queries (the
 * `cnpg_pg_*` series: archiver, replication slots) for the Cluster's
 * `spec.monitoring.metricsQueriesTTL` (Go duration text, 30 s when unset,
 * 0 = no cache). A figure read from an instance's /metrics page may be that
 * much older than the scrape, so its true time is scrape time − TTL.
 *
 * A resize whose WAL-safety gate passed may only be acted on when the WAL
 * facts the gate judged were observed no earlier than the run began: facts
 * that may predate the run may predate the very change (an inactive slot,
 * an archive failure) the gate exists to catch.
 */
import type { Decision } from './engine.js';
import type { ClusterShape, VolumeRef, WalHealth } from './model.js';
import type { ResizePolicy } from './policy.js';

/** CloudNativePG's default metricsQueriesTTL. */
export const DEFAULT_METRICS_QUERIES_TTL_MS = 30_000;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
/** Go's time.Duration ends at 2^63 − 1 ns (about 292 years). */
const MAX_DURATION_MS = 9_223_372_036_854.775;

/**
 * Go's time.ParseDuration grammar ("30s", "1m30s", "1.5h", "500ms", "0"),
 * which is how Kubernetes writes a metav1.Duration. Hand-written: a few
 * lines, and no npm package may enter core. Negative durations parse (Go
 * accepts them); the caller decides what they mean.
 */
export function parseGoDuration(text: string): { ok: true; ms: number } | { ok: false; error: string } {
  const bad = (why: string) => ({ ok: false as const, error: `${JSON.stringify(text.slice(0, 64))} ${why}` });
  if (text.length > 64) return bad('is not a duration (too long)');
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ms: 0 };
  if (s === '') return bad('is not a duration (e.g. 30s, 1m30s, 0s)');
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  while (s.length > 0) {
    const m = part.exec(s);
    if (!m) return bad('is not a duration (e.g. 30s, 1m30s, 0s)');
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    s = s.slice(m[0].length);
  }
  if (total > MAX_DURATION_MS) return bad('is longer than a Go duration can be');
  return { ok: true, ms: sign * total };
}

/** Whether the WAL facts were observed at or after `notBeforeMs` (a missing or unreadable time: no). */
export function walFactsObservedSince(w: WalHealth, notBeforeMs: number): boolean {
  if (!w.observedAt) return false;
  const t = Date.parse(w.observedAt);
  return !Number.isNaN(t) && t >= notBeforeMs;
}

/** Whether the policy's WAL-safety checks judge any fact at all for this cluster. */
export function walGateJudgesFacts(policy: ResizePolicy, cluster: ClusterShape, w: WalHealth): boolean {
  const p = policy.strategy.walSafetyPolicy;
  const archiving = (cluster.archiving.configured ?? w.archivingConfigured) !== false;
  return (p.requireArchiveHealthy && archiving) || p.maxPendingWALFiles > 0 || p.maxSlotRetentionBytes > 0n;
}

/**
 * A resize the WAL-safety gate let through on WAL facts of the volume's own
 * instance that may predate `notBeforeMs`: acting on it needs fresher facts
 * first. Reads the decision's trace (decide(), not the untraced fast path):
 * a decision that never reached the gate (a sibling-floor resize, a volume
 * the gate does not govern) or passed it without facts (fail-open) does not
 * rest on them.
 */
export function needsFresherWalFacts(
  f: {
    volume: Pick<VolumeRef, 'instance'>;
    cluster: ClusterShape;
    policy: ResizePolicy;
    walHealth?: WalHealth | undefined;
  },
  decision: Decision,
  notBeforeMs: number,
): boolean {
  if (decision.verdict !== 'resize' || !decision.walSafetyApplies) return false;
  const w = f.walHealth;
  if (!w || w.instance !== f.volume.instance) return false;
  const gate = decision.trace.find((t) => t.check === 'wal-safety');
  if (!gate || (gate.outcome !== 'pass' && gate.outcome !== 'warn')) return false;
  if (!walGateJudgesFacts(f.policy, f.cluster, w)) return false;
  return !walFactsObservedSince(w, notBeforeMs);
}
