/**
 * The controller's /metrics, with prom-client (the ecosystem's library:
 * counters that live as long as the process, a histogram for the loop, the
 * process and Node.js runtime metrics). Names, help and labels come from
 * core's one table (METRICS), the same the probe writes and the CLI reads.
 *
 * Per-volume gauges are replaced wholesale after every pass (a volume that
 * left the scope leaves /metrics); counters only grow. Byte counts are
 * numbers here: exact up to 8 PiB (2^53), far above any volume.
 */
import {
  BLOCK_REASONS as BLOCK_REASONS_ALL,
  METRICS,
  RESIZE_RESULTS,
  type BlockReason,
  type MetricDef,
  type ResizeResult,
} from '@cnpg-disk/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One volume's row after a pass. */
export interface VolumeRow {
  clusterNamespace: string;
  cluster: string;
  pod: string;
  volumeType: string;
  tablespace?: string;
  totalBytes?: bigint;
  usedBytes?: bigint;
  availableBytes?: bigint;
  percentUsed?: number;
  atLimit?: boolean;
  /** null: not blocked; undefined: the engine could not decide. */
  blocked?: BlockReason | null;
  budgetRemaining?: number;
}

function gauge(reg: Registry, m: MetricDef): Gauge {
  return new Gauge({ name: m.name, help: m.help, labelNames: [...m.labels], registers: [reg] });
}
function counter(reg: Registry, m: MetricDef): Counter {
  return new Counter({ name: m.name, help: m.help, labelNames: [...m.labels], registers: [reg] });
}

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly decisions: Counter;
  readonly resizes: Counter;
  readonly sourceErrors: Counter;
  readonly loopDuration: Histogram;
  readonly leader: Gauge;
  readonly blockedVolumes: Gauge;
  readonly lastLoop: Gauge;
  private readonly volume: Record<'total' | 'used' | 'available' | 'percent' | 'atLimit' | 'blocked' | 'budget', Gauge>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: r });
    this.decisions = counter(r, METRICS.decisionsTotal);
    this.resizes = counter(r, METRICS.resizesTotal);
    this.sourceErrors = counter(r, METRICS.sourceErrorsTotal);
    this.loopDuration = new Histogram({
      name: METRICS.loopDurationSeconds.name,
      help: METRICS.loopDurationSeconds.help,
      // A pass is mostly waiting for measurements: 50 ms (a handful of clusters) to 2 min (a slow source).
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [r],
    });
    this.leader = gauge(r, METRICS.leader);
    this.blockedVolumes = gauge(r, METRICS.blockedVolumes);
    this.lastLoop = gauge(r, METRICS.lastLoopTimestampSeconds);
    this.volume = {
      total: gauge(r, METRICS.diskTotalBytes),
      used: gauge(r, METRICS.diskUsedBytes),
      available: gauge(r, METRICS.diskAvailableBytes),
      percent: gauge(r, METRICS.diskPercentUsed),
      atLimit: gauge(r, METRICS.diskAtLimit),
      blocked: gauge(r, METRICS.diskResizeBlocked),
      budget: gauge(r, METRICS.diskResizeBudgetRemaining),
    };
    // Series that alerts take rate() of exist from the start, at 0.
    for (const result of RESIZE_RESULTS) this.resizes.inc({ result }, 0);
    for (const reason of BLOCK_REASONS_ALL) this.blockedVolumes.set({ reason }, 0);
    this.leader.set(0);
  }

  resized(result: ResizeResult): void {
    this.resizes.inc({ result });
  }

  /** Replaces every per-volume series with this pass's rows. */
  setVolumes(rows: readonly VolumeRow[]): void {
    for (const g of Object.values(this.volume)) g.reset();
    const blockedCounts = new Map<BlockReason, number>(BLOCK_REASONS_ALL.map((r) => [r, 0]));
    for (const v of rows) {
      const l = {
        cluster_namespace: v.clusterNamespace,
        cluster: v.cluster,
        pod: v.pod,
        volume_type: v.volumeType,
        tablespace: v.tablespace ?? '',
      };
      if (v.totalBytes !== undefined) this.volume.total.set(l, Number(v.totalBytes));
      if (v.usedBytes !== undefined) this.volume.used.set(l, Number(v.usedBytes));
      if (v.availableBytes !== undefined) this.volume.available.set(l, Number(v.availableBytes));
      if (v.percentUsed !== undefined) this.volume.percent.set(l, v.percentUsed);
      if (v.atLimit !== undefined) this.volume.atLimit.set(l, v.atLimit ? 1 : 0);
      if (v.budgetRemaining !== undefined) this.volume.budget.set(l, v.budgetRemaining);
      if (v.blocked !== undefined) {
        for (const reason of BLOCK_REASONS_ALL) this.volume.blocked.set({ ...l, reason }, v.blocked === reason ? 1 : 0);
        if (v.blocked) blockedCounts.set(v.blocked, (blockedCounts.get(v.blocked) ?? 0) + 1);
      }
    }
    for (const [reason, n] of blockedCounts) this.blockedVolumes.set({ reason }, n);
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
