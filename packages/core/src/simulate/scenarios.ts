/**
 * Usage series the simulator replays: seeded synthetic scenarios and the
 * common shape replayed traces are turned into.
 *
 * A series is usage only (used bytes per step). Capacity, resizes and the
 * time they take come from the simulated backend and the policy under test.
 * Byte counts are plain numbers here (exact below 2^53 bytes, 8 PiB): the
 * simulator steps through hundreds of thousands of minutes per run.
 */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;

export interface UsageSeries {
  /** Scenario id or trace file name. */
  name: string;
  description: string;
  /** Epoch ms of the first step. */
  startAt: number;
  stepMs: number;
  /** Used bytes at each step. */
  used: Float64Array;
  /** Size of the volume at the start (what the backend provisioned). */
  initialBytes: number;
  /** Which volume the usage is of: WAL safety governs `wal`. */
  volume: 'data' | 'wal';
  /** Steps [from, to) during which WAL archiving fails (wal volumes). */
  archiveOutage?: { from: number; to: number };
}

/** mulberry32: small, fast, seeded; every run with the same seed gives the same series. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A normal deviate (Box-Muller) from a uniform source. */
function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export const SCENARIOS = [
  'linear',
  'exponential',
  'bulk-load',
  'archive-outage',
  'leaking-slot',
  'weekly',
  'burst-10x',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  seed: number;
  /** Length of the series; default 365 days. */
  durationMs?: number;
  stepMs?: number;
  /** Epoch ms of the first step; default 2026-01-01T00:00:00Z. */
  startAt?: number;
}

export const DEFAULT_START = Date.UTC(2026, 0, 1);

interface Shape {
  description: string;
  initialGiB: number;
  volume: 'data' | 'wal';
  /** Noise (one standard deviation) in bytes around the curve. */
  noiseBytes: number;
  /** Used bytes at time t (ms since the start), before noise. */
  at: (t: number) => number;
  outage?: (durationMs: number) => { fromMs: number; toMs: number };
}

/** Steady WAL churn on a WAL volume: segments written and recycled, a few hundred MiB. */
const walChurn = (t: number) => 2 * GIB + 0.25 * GIB * Math.sin((2 * Math.PI * t) / HOUR_MS);

function shape(name: ScenarioName): Shape {
  switch (name) {
    case 'linear':
      return {
        description: 'steady growth: 40 GiB used of 100 GiB, +0.5 GiB a day',
        initialGiB: 100,
        volume: 'data',
        noiseBytes: 20 * MIB,
        at: (t) => 40 * GIB + (0.5 * GIB * t) / DAY_MS,
      };
    case 'exponential':
      return {
        description: 'compound growth: 20 GiB used of 50 GiB, doubling every 100 days',
        initialGiB: 50,
        volume: 'data',
        noiseBytes: 20 * MIB,
        at: (t) => 20 * GIB * 2 ** (t / (100 * DAY_MS)),
      };
    case 'bulk-load':
      return {
        description: '30 GiB of 100 GiB, +0.2 GiB a day; bulk loads of 45 GiB in 2 h on days 30 and 200',
        initialGiB: 100,
        volume: 'data',
        noiseBytes: 20 * MIB,
        at: (t) => {
          const load = (day: number) => Math.min(1, Math.max(0, (t - day * DAY_MS) / (2 * HOUR_MS))) * 45 * GIB;
          return 30 * GIB + (0.2 * GIB * t) / DAY_MS + load(30) + load(200);
        },
      };
    case 'archive-outage':
      return {
        description:
          'WAL volume of 50 GiB, 2 GiB of churn; archiving fails for 40 h from day 40 (+1 GiB/h of WAL), then the backlog drains',
        initialGiB: 50,
        volume: 'wal',
        noiseBytes: 16 * MIB,
        at: (t) => {
          const from = 40 * DAY_MS;
          const to = from + 40 * HOUR_MS;
          if (t < from) return walChurn(t);
          if (t < to) return walChurn(t) + ((t - from) / HOUR_MS) * GIB;
          // archived again: the backlog drains at 8 GiB/h
          return walChurn(t) + Math.max(0, 40 * GIB - ((t - to) / HOUR_MS) * 8 * GIB);
        },
        outage: () => ({ fromMs: 40 * DAY_MS, toMs: 40 * DAY_MS + 40 * HOUR_MS }),
      };
    case 'leaking-slot':
      return {
        description:
          'WAL volume of 20 GiB: an abandoned replication slot retains 3 GiB a day from day 10 until it is dropped on day 45',
        initialGiB: 20,
        volume: 'wal',
        noiseBytes: 16 * MIB,
        at: (t) => {
          const from = 10 * DAY_MS;
          const to = 45 * DAY_MS;
          return walChurn(t) + (t < from ? 0 : t < to ? ((t - from) / DAY_MS) * 3 * GIB : 0);
        },
      };
    case 'weekly':
      return {
        description:
          '50 GiB of 100 GiB, +0.3 GiB a day, and a weekly swing of ±8 GiB (batch tables loaded and truncated)',
        initialGiB: 100,
        volume: 'data',
        noiseBytes: 50 * MIB,
        at: (t) => 50 * GIB + (0.3 * GIB * t) / DAY_MS + 8 * GIB * Math.sin((2 * Math.PI * t) / (7 * DAY_MS)),
      };
    case 'burst-10x':
      return {
        description: '40 GiB of 100 GiB, +1 GiB a day; ten times that (10 GiB a day) for 5 days from day 100',
        initialGiB: 100,
        volume: 'data',
        noiseBytes: 20 * MIB,
        at: (t) => {
          const from = 100 * DAY_MS;
          const burst = Math.min(Math.max(0, t - from), 5 * DAY_MS);
          return 40 * GIB + (1 * GIB * t) / DAY_MS + (9 * GIB * burst) / DAY_MS;
        },
      };
  }
}

export function scenarioDescription(name: ScenarioName): string {
  return shape(name).description;
}

/** The usage series of a synthetic scenario; the same seed gives the same series. */
export function scenarioSeries(name: ScenarioName, opts: ScenarioOptions): UsageSeries {
  const s = shape(name);
  const stepMs = opts.stepMs ?? MINUTE_MS;
  const durationMs = opts.durationMs ?? 365 * DAY_MS;
  const steps = Math.max(1, Math.floor(durationMs / stepMs));
  const noise = gaussian(prng(opts.seed));
  const used = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    used[i] = Math.max(0, Math.round(s.at(i * stepMs) + noise() * s.noiseBytes));
  }
  const series: UsageSeries = {
    name,
    description: s.description,
    startAt: opts.startAt ?? DEFAULT_START,
    stepMs,
    used,
    initialBytes: s.initialGiB * GIB,
    volume: s.volume,
  };
  if (s.outage) {
    const o = s.outage(durationMs);
    series.archiveOutage = { from: Math.ceil(o.fromMs / stepMs), to: Math.ceil(o.toMs / stepMs) };
  }
  return series;
}

/**
 * Samples (any spacing, oldest first) → a series at `stepMs`, linear
 * between samples. Gaps longer than `maxGapMs` are still interpolated
 * (the report says how many there were).
 */
export function seriesFromSamples(
  name: string,
  samples: readonly { at: number; usedBytes: number }[],
  stepMs: number,
  initialBytes: number,
): UsageSeries {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last) throw new Error('no samples');
  const steps = Math.floor((last.at - first.at) / stepMs) + 1;
  const used = new Float64Array(steps);
  let j = 0;
  for (let i = 0; i < steps; i++) {
    const t = first.at + i * stepMs;
    while (j + 1 < samples.length && (samples[j + 1] as { at: number }).at <= t) j++;
    const a = samples[j] as { at: number; usedBytes: number };
    const b = samples[j + 1];
    used[i] =
      b && b.at > a.at
        ? Math.round(a.usedBytes + ((b.usedBytes - a.usedBytes) * (t - a.at)) / (b.at - a.at))
        : a.usedBytes;
  }
  return { name, description: `replayed trace ${name}`, startAt: first.at, stepMs, used, initialBytes, volume: 'data' };
}
