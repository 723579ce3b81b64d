/**
 * The replay loop: a simulated clock steps through a usage series; at each
 * step every policy looks at the volume, may ask for a new size, and the
 * simulated backend accepts (after its latency) or refuses. Measures per
 * policy: disk-full minutes, resizes, refusals, peak and final size,
 * provisioned and wasted GiB-hours.
 */
import { PreparedDecision } from '../engine.js';
import type { ClusterShape, Ledger, LedgerEntry, PvcCondition, VolumeRef, WalHealth } from '../model.js';
import type { ResizePolicy } from '../policy.js';
import { TrendWindow } from '../trend.js';
import { defaultPolicy } from '../validation.js';
import { backendModel, type BackendId, type BackendModel, type Modification } from './backends.js';
import {
  azurePolicy,
  cloudSqlPolicy,
  cnpgRfcPolicy,
  pgoPolicy,
  rdsPolicy,
  topolvmPolicy,
  type SimPolicy,
  type StepView,
} from './baselines.js';
import { GIB, HOUR_MS, MIB, MINUTE_MS, type UsageSeries } from './scenarios.js';

/** One WAL segment: less than this available is a full disk, whatever the policy. */
export const WAL_SEGMENT_BYTES = 16 * MIB;
/** How often the external resizer retries a modification the backend refused. */
export const RETRY_MS = 5 * MINUTE_MS;

export const POLICY_IDS = [
  'ours',
  'ours-predictive',
  'rds',
  'cloudsql',
  'azure',
  'topolvm',
  'pgo',
  'cnpg-rfc',
] as const;
export type PolicyId = (typeof POLICY_IDS)[number];

/** Our default policy, enabled: the spec's defaults. */
export function oursDefaultPolicy(limitBytes?: number): ResizePolicy {
  const p = defaultPolicy();
  p.enabled = true;
  if (limitBytes !== undefined) p.expansion.limitBytes = BigInt(Math.floor(limitBytes));
  return p;
}

/**
 * Our predictive preset: the default policy with the usage threshold at 95%
 * and a 5% step (at least 1 GiB), plus the predictive trigger with a 3 h
 * horizon over a 2 h window (12 samples at least). The forecast buys room
 * ahead of fast growth, so the threshold can sit close to full on slow
 * growth; a horizon of a few hours covers a resize and the EBS optimization
 * after it without buying a day of a burst that may stop. As a policy
 * document: PREDICTIVE_PRESET_YAML.
 */
export function oursPredictivePolicy(limitBytes?: number): ResizePolicy {
  const p = oursDefaultPolicy(limitBytes);
  p.triggers.usageThreshold = 95;
  p.expansion.step = { kind: 'percent', basisPoints: 500 };
  p.expansion.minStepBytes = GIB_BIG;
  p.triggers.predictive = { horizonMs: 3 * HOUR_MS, windowMs: 2 * HOUR_MS, minSamples: 12 };
  return p;
}

/** The predictive preset as users would write it (docs/simulate.md). */
export const PREDICTIVE_PRESET_YAML = `storage:
  resize:
    enabled: true
    triggers:
      usageThreshold: 95
      predictive: { horizon: 3h, window: 2h, minSamples: 12 }
    expansion:
      step: "5%"
      minStep: 1Gi
`;
const GIB_BIG = 1024n ** 3n;

const REFUSED_CONDITIONS = [
  { type: 'ControllerResizeError', status: 'True', message: 'the backend refused the modification' },
];
const FS_PENDING_CONDITIONS = [{ type: 'FileSystemResizePending', status: 'True' }];
const NO_CONDITIONS: PvcCondition[] = [];

const CLUSTER: ClusterShape = {
  namespace: 'sim',
  name: 'pg',
  singleVolume: false,
  tablespaces: [],
  archiving: { configured: true, method: 'barmanObjectStore' },
};

/**
 * Our engine as a simulated policy: core's prepared fast path (a
 * PreparedDecision, decideUntraced()'s decisions) at every step, nothing
 * re-implemented. The volume is prepared once; each step sets its figures.
 */
export function enginePolicy(id: string, title: string, policy: ResizePolicy, series: UsageSeries): SimPolicy {
  const volume: VolumeRef = {
    namespace: 'sim',
    cluster: 'pg',
    instance: 'pg-1',
    pvcName: series.volume === 'wal' ? 'pg-1-wal' : 'pg-1',
    type: series.volume,
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  const o = series.archiveOutage;
  const healthyBefore: WalHealth = {
    instance: 'pg-1',
    archivingConfigured: true,
    archiver: { archivedCount: 1, failedCount: 0, lastArchivedTime: iso(series.startAt) },
    readyFiles: 0,
  };
  const outageFrom = o ? series.startAt + o.from * series.stepMs : 0;
  const outageTo = o ? series.startAt + o.to * series.stepMs : 0;
  const failing: WalHealth = {
    instance: 'pg-1',
    archivingConfigured: true,
    archiver: {
      archivedCount: 1,
      failedCount: 1,
      lastArchivedTime: iso(outageFrom),
      lastFailedTime: iso(outageFrom + MINUTE_MS),
    },
    readyFiles: 1000,
  };
  const healthyAfter: WalHealth = {
    instance: 'pg-1',
    archivingConfigured: true,
    archiver: {
      archivedCount: 2,
      failedCount: 1,
      lastArchivedTime: iso(outageTo),
      lastFailedTime: iso(outageFrom + MINUTE_MS),
    },
    readyFiles: 0,
  };
  const pred = policy.triggers.predictive;
  const trend = pred ? new TrendWindow(pred.windowMs) : undefined;
  let ledger: Ledger = { entries: [] };
  const floor = policy.triggers.minAvailableBytes;
  // Prepared once for the whole series; each step sets the figures as
  // numbers, and the rest only when it changes.
  const prepared = new PreparedDecision({
    volume,
    cluster: CLUSTER,
    policy,
    pvc: { requestBytes: 0n, capacityBytes: 0n, conditions: NO_CONDITIONS },
    filesystem: { totalBytes: 0n, usedBytes: 0n, availableBytes: 0n },
    ledger,
    now: series.startAt,
  });
  let conditions = NO_CONDITIONS;
  let walHealth: WalHealth | undefined;
  return {
    id,
    title,
    floorBytes: floor === undefined ? 0 : Number(floor),
    decide(v: StepView) {
      if (trend) {
        trend.push(v.now, v.usedBytes);
        prepared.setUsageTrend(trend.trend());
      }
      if (ledger.entries.length > 0 && v.now - Date.parse((ledger.entries[0] as LedgerEntry).at) >= 24 * HOUR_MS) {
        ledger = { entries: ledger.entries.filter((e) => v.now - Date.parse(e.at) < 24 * HOUR_MS) };
        prepared.setLedger(ledger);
      }
      if (series.volume === 'wal') {
        const w = !o || v.i < o.from ? healthyBefore : v.i < o.to ? failing : healthyAfter;
        if (w !== walHealth) prepared.setWalHealth((walHealth = w));
      }
      const c = v.refused ? REFUSED_CONDITIONS : v.fsResizePending ? FS_PENDING_CONDITIONS : NO_CONDITIONS;
      if (c !== conditions) prepared.setConditions((conditions = c));
      const used = Math.min(v.usedBytes, v.fsTotalBytes);
      prepared.setFigures(v.now, used, v.availableBytes, v.fsTotalBytes, v.requestBytes, v.capacityBytes);
      const d = prepared.decide();
      if (d.verdict !== 'resize' || d.newBytes === undefined) return undefined;
      ledger = {
        entries: [
          ...ledger.entries,
          { at: iso(v.now), fromBytes: BigInt(v.requestBytes), toBytes: d.newBytes, by: 'engine' },
        ],
      };
      prepared.setLedger(ledger);
      return Number(d.newBytes);
    },
  };
}

export function makePolicy(id: PolicyId, series: UsageSeries, limitBytes?: number): SimPolicy {
  switch (id) {
    case 'ours':
      return enginePolicy(id, 'ours: default policy (enabled)', oursDefaultPolicy(limitBytes), series);
    case 'ours-predictive':
      return enginePolicy(id, 'ours: predictive preset', oursPredictivePolicy(limitBytes), series);
    case 'rds':
      return rdsPolicy(limitBytes);
    case 'cloudsql':
      return cloudSqlPolicy(limitBytes);
    case 'azure':
      return azurePolicy(limitBytes);
    case 'topolvm':
      return topolvmPolicy(limitBytes);
    case 'pgo':
      return pgoPolicy(limitBytes);
    case 'cnpg-rfc':
      return cnpgRfcPolicy(limitBytes);
  }
}

export interface SimResizeEvent {
  at: number;
  fromBytes: number;
  toBytes: number;
  /** accepted: the backend took it; refused: it did not (the rule is given). */
  outcome: 'accepted' | 'refused';
  rule?: string;
}

export interface PolicyResult {
  policy: string;
  title: string;
  fullMinutes: number;
  resizes: number;
  refused: number;
  peakBytes: number;
  finalBytes: number;
  provisionedGiBHours: number;
  wastedGiBHours: number;
  /** The first events (at most MAX_EVENTS), for the report. */
  events: SimResizeEvent[];
  /** Downsampled for the chart: provisioned (max per bucket) and whether the bucket had a full minute. */
  chart: { provisioned: Float64Array; full: Uint8Array };
}

export interface SimulationResult {
  series: {
    name: string;
    description: string;
    startAt: number;
    stepMs: number;
    steps: number;
    initialBytes: number;
    volume: string;
  };
  backend: { id: BackendId; title: string };
  /** Max used bytes per chart bucket. */
  chartUsed: Float64Array;
  bucketSteps: number;
  results: PolicyResult[];
}

export const MAX_EVENTS = 200;
export const CHART_BUCKETS = 720;

export interface SimulateOptions {
  backend: BackendId;
  policies: readonly PolicyId[];
  /** A hard cap every policy respects (PGO and topolvm require one). */
  limitBytes?: number;
}

/** One policy over one series. */
export function runPolicy(
  series: UsageSeries,
  policy: SimPolicy,
  backend: BackendModel,
  bucketSteps: number,
): PolicyResult {
  const { used, stepMs, startAt } = series;
  const steps = used.length;
  const buckets = Math.ceil(steps / bucketSteps);
  const chart = { provisioned: new Float64Array(buckets), full: new Uint8Array(buckets) };
  const history: Modification[] = [];
  const events: SimResizeEvent[] = [];
  let request = series.initialBytes;
  let capacity = series.initialBytes;
  let fsTotal = series.initialBytes;
  let pending: { to: number; capacityAt: number; fsAt: number } | undefined;
  let refused = false;
  let nextRetry = 0;
  let fullSteps = 0;
  let resizes = 0;
  let refusals = 0;
  let peak = capacity;
  let provisioned = 0;
  let wasted = 0;
  const stepHours = stepMs / HOUR_MS;
  const floor = Math.max(WAL_SEGMENT_BYTES, policy.floorBytes);
  const record = (e: SimResizeEvent) => {
    if (events.length < MAX_EVENTS) events.push(e);
  };
  const accept = (now: number, to: number) => {
    history.push({ at: now, doneAt: now + backend.busyMs(to), fromBytes: capacity, toBytes: to });
    pending = {
      to,
      capacityAt: now + backend.resizeLatencyMs,
      fsAt: now + backend.resizeLatencyMs + backend.fsGrowDelayMs,
    };
    resizes++;
    refused = false;
    record({ at: now, fromBytes: capacity, toBytes: to, outcome: 'accepted' });
  };
  const view: StepView = {
    now: 0,
    stepMs,
    i: 0,
    usedSeries: used,
    usedBytes: 0,
    fsTotalBytes: 0,
    availableBytes: 0,
    requestBytes: 0,
    capacityBytes: 0,
    refused: false,
    fsResizePending: false,
    history,
  };
  for (let i = 0; i < steps; i++) {
    const now = startAt + i * stepMs;
    if (pending) {
      if (now >= pending.capacityAt) capacity = pending.to;
      if (now >= pending.fsAt) {
        fsTotal = pending.to;
        pending = undefined;
      }
    }
    // The external resizer retries a refused modification until the backend takes it.
    if (refused && !pending && now >= nextRetry) {
      const r = backend.check(history, now, capacity, request);
      if (r.ok) accept(now, request);
      else nextRetry = now + RETRY_MS;
    }
    const u = used[i] as number;
    const avail = Math.max(0, fsTotal - u);
    if (avail < floor) {
      fullSteps++;
      chart.full[Math.floor(i / bucketSteps)] = 1;
    }
    if (capacity > peak) peak = capacity;
    provisioned += capacity;
    if (capacity > u) wasted += capacity - u;
    const b = Math.floor(i / bucketSteps);
    if (capacity > (chart.provisioned[b] as number)) chart.provisioned[b] = capacity;

    view.now = now;
    view.i = i;
    view.usedBytes = u;
    view.fsTotalBytes = fsTotal;
    view.availableBytes = avail;
    view.requestBytes = request;
    view.capacityBytes = capacity;
    view.refused = refused;
    view.fsResizePending = capacity > fsTotal;
    const want = policy.decide(view);
    if (want === undefined || !(want > request)) continue;
    const from = Math.max(request, capacity);
    request = want;
    if (pending) {
      // Asked while the last change is still on its way: the provider sees a new modification.
      refusals++;
      refused = true;
      nextRetry = pending.fsAt;
      record({
        at: now,
        fromBytes: from,
        toBytes: want,
        outcome: 'refused',
        rule: 'a modification is still in progress',
      });
      continue;
    }
    const r = backend.check(history, now, capacity, want);
    if (r.ok) accept(now, want);
    else {
      refusals++;
      refused = true;
      nextRetry = now + RETRY_MS;
      record({ at: now, fromBytes: from, toBytes: want, outcome: 'refused', rule: r.rule });
    }
  }
  const toGiBh = (byteSteps: number) => (byteSteps * stepHours) / GIB;
  return {
    policy: policy.id,
    title: policy.title,
    fullMinutes: (fullSteps * stepMs) / MINUTE_MS,
    resizes,
    refused: refusals,
    peakBytes: peak,
    finalBytes: Math.max(capacity, pending?.to ?? 0),
    provisionedGiBHours: toGiBh(provisioned),
    wastedGiBHours: toGiBh(wasted),
    events,
    chart,
  };
}

/** Every policy over one series on one backend. */
export function simulate(series: UsageSeries, opts: SimulateOptions): SimulationResult {
  const backend = backendModel(opts.backend);
  const bucketSteps = Math.max(1, Math.ceil(series.used.length / CHART_BUCKETS));
  const buckets = Math.ceil(series.used.length / bucketSteps);
  const chartUsed = new Float64Array(buckets);
  series.used.forEach((u, i) => {
    const b = Math.floor(i / bucketSteps);
    if (u > (chartUsed[b] as number)) chartUsed[b] = u;
  });
  return {
    series: {
      name: series.name,
      description: series.description,
      startAt: series.startAt,
      stepMs: series.stepMs,
      steps: series.used.length,
      initialBytes: series.initialBytes,
      volume: series.volume,
    },
    backend: { id: backend.id, title: backend.title },
    chartUsed,
    bucketSteps,
    results: opts.policies.map((id) =>
      runPolicy(series, makePolicy(id, series, opts.limitBytes), backend, bucketSteps),
    ),
  };
}
