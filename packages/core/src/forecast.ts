/**
 * Growth rate and time-to-full of a volume, from successive measurements
 * (`disk status --watch`). Pure: samples in, estimate out.
 *
 * The rate is the least-squares slope of used bytes over time across the
 * samples of a recent window, not the last two samples alone: a checkpoint
 * or a WAL recycle makes single steps jumpy, a fitted line over the window
 * is what `predict_linear()` gives Prometheus users for the same question.
 */

/** One measurement of a volume's usage. */
export interface UsageSample {
  /** Epoch milliseconds of the measurement. */
  at: number;
  usedBytes: bigint;
  availableBytes: bigint;
}

export interface UsageForecast {
  /** Samples the estimate used (those inside the window). */
  samples: number;
  /** Time between the first and the last of them, ms. */
  spanMs: number;
  /**
   * Slope of used bytes over time, bytes per hour (negative: shrinking).
   * Absent with fewer than two samples or no time between them.
   */
  bytesPerHour?: number;
  /** Milliseconds from the last sample until nothing is available at that rate; absent unless growing. */
  msToFull?: number;
  /** Epoch ms of that moment; absent unless growing. */
  fullAt?: number;
}

/** Default window of the fit: the last 30 minutes of samples. */
export const FORECAST_WINDOW_MS = 30 * 60 * 1000;

/** The samples inside `windowMs` of the newest one, oldest first. */
export function samplesInWindow(samples: readonly UsageSample[], windowMs = FORECAST_WINDOW_MS): UsageSample[] {
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const last = sorted[sorted.length - 1];
  if (!last) return [];
  return sorted.filter((s) => last.at - s.at <= windowMs);
}

/**
 * Adds a sample to a history and drops what has left the window. A second
 * sample with the time of an existing one replaces it.
 */
export function appendSample(
  history: readonly UsageSample[],
  sample: UsageSample,
  windowMs = FORECAST_WINDOW_MS,
): UsageSample[] {
  return samplesInWindow([...history.filter((s) => s.at !== sample.at), sample], windowMs);
}

export function forecastUsage(samples: readonly UsageSample[], windowMs = FORECAST_WINDOW_MS): UsageForecast {
  const used = samplesInWindow(samples, windowMs);
  const first = used[0];
  const last = used[used.length - 1];
  if (!first || !last) return { samples: 0, spanMs: 0 };
  const spanMs = last.at - first.at;
  if (used.length < 2 || spanMs <= 0) return { samples: used.length, spanMs };

  // Least squares on offsets from the first sample: x in ms, y in bytes.
  // Differences of byte counts are exact as doubles below 2^53 (8 PiB).
  const n = used.length;
  const xs = used.map((s) => s.at - first.at);
  const ys = used.map((s) => Number(s.usedBytes - first.usedBytes));
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - meanX;
    sxy += dx * ((ys[i] as number) - meanY);
    sxx += dx * dx;
  }
  const perMs = sxy / sxx;
  const out: UsageForecast = { samples: n, spanMs, bytesPerHour: perMs * 3_600_000 };
  if (perMs > 0) {
    const msToFull = Math.round(Number(last.availableBytes > 0n ? last.availableBytes : 0n) / perMs);
    out.msToFull = msToFull;
    out.fullAt = last.at + msToFull;
  }
  return out;
}
