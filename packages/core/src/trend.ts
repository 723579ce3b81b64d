/**
 * The growth trend the predictive trigger reads: core's least-squares
 * forecast (forecast.ts) over a window, plus how much the samples scatter
 * around the fitted line, so a jittering flat volume is never mistaken for
 * a growing one.
 *
 * Two ways to the same figures: usageTrend() fits a history in one pass
 * (what a controller holding recent samples does), TrendWindow keeps running
 * sums over a sliding window so a simulator stepping through a year of
 * minutes pays O(1) per step. A property test holds them equal.
 */
import { forecastUsage, samplesInWindow, type UsageSample } from './forecast.js';

export interface UsageTrend {
  /** Samples inside the window. */
  samples: number;
  /** Time from the first to the last of them, ms. */
  spanMs: number;
  /** Least-squares slope of used bytes, bytes per ms (0 when it cannot be fitted). */
  bytesPerMs: number;
  /** Root mean square of the residuals around the fitted line, bytes. */
  residualRmsBytes: number;
}

export const NO_TREND: Readonly<UsageTrend> = Object.freeze({
  samples: 0,
  spanMs: 0,
  bytesPerMs: 0,
  residualRmsBytes: 0,
});

/** The trend of a history over the last `windowMs` (newest sample as the end). */
export function usageTrend(history: readonly UsageSample[], windowMs: number): UsageTrend {
  const used = samplesInWindow(history, windowMs);
  const f = forecastUsage(used, windowMs);
  const first = used[0];
  if (!first || f.bytesPerHour === undefined) {
    return { samples: f.samples, spanMs: f.spanMs, bytesPerMs: 0, residualRmsBytes: 0 };
  }
  const slope = f.bytesPerHour / 3_600_000;
  const n = used.length;
  let mx = 0;
  let my = 0;
  for (const s of used) {
    mx += s.at - first.at;
    my += Number(s.usedBytes - first.usedBytes);
  }
  mx /= n;
  my /= n;
  let sse = 0;
  for (const s of used) {
    const r = Number(s.usedBytes - first.usedBytes) - my - slope * (s.at - first.at - mx);
    sse += r * r;
  }
  return { samples: n, spanMs: f.spanMs, bytesPerMs: slope, residualRmsBytes: Math.sqrt(sse / n) };
}

/**
 * A sliding least-squares window with O(1) amortised pushes. Values are
 * kept relative to a reference sample so the sums stay small; every
 * `REBASE_EVERY` pushes the sums are recomputed from the live samples, so
 * rounding from adding and removing never accumulates.
 */
export class TrendWindow {
  static readonly REBASE_EVERY = 4096;
  private at: number[] = [];
  private used: number[] = [];
  private head = 0;
  private refAt = 0;
  private refUsed = 0;
  private n = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;
  private syy = 0;
  private sinceRebase = 0;

  constructor(readonly windowMs: number) {}

  /** Adds a sample (times must not go backwards) and drops those older than the window. */
  push(at: number, usedBytes: number): void {
    if (this.n === 0) {
      this.refAt = at;
      this.refUsed = usedBytes;
    }
    this.at.push(at);
    this.used.push(usedBytes);
    this.add(at, usedBytes, 1);
    while (at - (this.at[this.head] as number) > this.windowMs) {
      this.add(this.at[this.head] as number, this.used[this.head] as number, -1);
      this.head++;
    }
    if (++this.sinceRebase >= TrendWindow.REBASE_EVERY) this.rebase();
  }

  private add(at: number, used: number, sign: 1 | -1): void {
    const x = at - this.refAt;
    const y = used - this.refUsed;
    this.n += sign;
    this.sx += sign * x;
    this.sy += sign * y;
    this.sxx += sign * x * x;
    this.sxy += sign * x * y;
    this.syy += sign * y * y;
  }

  private rebase(): void {
    this.at = this.at.slice(this.head);
    this.used = this.used.slice(this.head);
    this.head = 0;
    this.sinceRebase = 0;
    this.n = this.sx = this.sy = this.sxx = this.sxy = this.syy = 0;
    this.refAt = this.at[0] as number;
    this.refUsed = this.used[0] as number;
    for (let i = 0; i < this.at.length; i++) this.add(this.at[i] as number, this.used[i] as number, 1);
  }

  trend(): UsageTrend {
    const n = this.n;
    if (n === 0) return { ...NO_TREND };
    const spanMs = (this.at[this.at.length - 1] as number) - (this.at[this.head] as number);
    const cxx = this.sxx - (this.sx * this.sx) / n;
    if (n < 2 || spanMs <= 0 || cxx <= 0) return { samples: n, spanMs, bytesPerMs: 0, residualRmsBytes: 0 };
    const cxy = this.sxy - (this.sx * this.sy) / n;
    const cyy = this.syy - (this.sy * this.sy) / n;
    const slope = cxy / cxx;
    const sse = Math.max(0, cyy - slope * cxy);
    return { samples: n, spanMs, bytesPerMs: slope, residualRmsBytes: Math.sqrt(sse / n) };
  }
}
