/**
 * Growth rate and time-to-full. Expected values come from the line the
 * samples were made on, so a row cannot agree with a wrong fit by accident.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FORECAST_WINDOW_MS,
  GiB,
  MiB,
  appendSample,
  forecastUsage,
  samplesInWindow,
  type UsageSample,
} from '@cnpg-disk/core';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

/** A volume of `total` bytes whose used bytes follow used0 + rate × t (rate in bytes per hour). */
function line(total: bigint, used0: bigint, ratePerHour: bigint, minutes: number[]): UsageSample[] {
  return minutes.map((m) => {
    const used = used0 + (ratePerHour * BigInt(m)) / 60n;
    return { at: T0 + m * MIN, usedBytes: used, availableBytes: total - used };
  });
}

describe('forecastUsage', () => {
  it('no sample, one sample, or samples at one instant: no rate, no time-to-full', () => {
    expect(forecastUsage([])).toEqual({ samples: 0, spanMs: 0 });
    const one = line(10n * GiB, GiB, 600n * MiB, [0]);
    expect(forecastUsage(one)).toEqual({ samples: 1, spanMs: 0 });
    expect(forecastUsage([...one, ...one])).toEqual({ samples: 2, spanMs: 0 });
  });

  it('a steady 600 MiB/h on a 10 GiB volume with 4 GiB free is full in 4 GiB / 600 MiB/h', () => {
    const s = line(10n * GiB, 6n * GiB - 60n * MiB, 600n * MiB, [0, 1, 2, 3, 4, 5, 6]);
    const f = forecastUsage(s);
    expect(f.samples).toBe(7);
    expect(f.spanMs).toBe(6 * MIN);
    expect(f.bytesPerHour).toBeCloseTo(Number(600n * MiB), 0);
    // after 6 minutes used is exactly 6 GiB: 4 GiB left
    const expected = (Number(4n * GiB) / Number(600n * MiB)) * HOUR;
    expect(f.msToFull).toBeCloseTo(expected, -1);
    expect(f.fullAt).toBe(T0 + 6 * MIN + (f.msToFull as number));
  });

  it('fits a line through noise instead of trusting the last two samples', () => {
    // +100 MiB per minute with a WAL recycle dip in the middle
    const s = line(100n * GiB, 10n * GiB, 6000n * MiB, [0, 1, 2, 3, 4]);
    (s[4] as UsageSample).usedBytes -= 150n * MiB; // the last step went down
    const f = forecastUsage(s);
    expect(f.bytesPerHour).toBeGreaterThan(0); // the two last samples alone would say "shrinking"
  });

  it('shrinking or flat: a rate, but never a time-to-full', () => {
    const down = forecastUsage(line(10n * GiB, 5n * GiB, -60n * MiB, [0, 10, 20]));
    expect(down.bytesPerHour).toBeCloseTo(-Number(60n * MiB), 0);
    expect(down.msToFull).toBeUndefined();
    const flat = forecastUsage(line(10n * GiB, 5n * GiB, 0n, [0, 10, 20]));
    expect(flat.bytesPerHour).toBe(0);
    expect(flat.fullAt).toBeUndefined();
  });

  it('already full while growing: full now', () => {
    const s = line(GiB, GiB - 2n * MiB, 60n * MiB, [0, 1, 2]);
    (s[2] as UsageSample).availableBytes = 0n;
    expect(forecastUsage(s).msToFull).toBe(0);
    (s[2] as UsageSample).availableBytes = -5n; // a broken source: still "now", never a negative time
    expect(forecastUsage(s).msToFull).toBe(0);
  });

  it('uses only the window: an old burst does not count', () => {
    const old = line(10n * GiB, GiB, 60n * GiB, [0, 1]); // a burst 2 h before
    const recent = line(10n * GiB, 3n * GiB, 0n, [120, 121, 122]).map((x) => ({ ...x }));
    expect(forecastUsage([...old, ...recent]).bytesPerHour).toBe(0);
    expect(forecastUsage([...old, ...recent], 3 * HOUR).bytesPerHour).toBeGreaterThan(0);
  });

  it('order of the samples does not matter', () => {
    const s = line(10n * GiB, GiB, 600n * MiB, [0, 3, 7, 9]);
    expect(forecastUsage([...s].reverse())).toEqual(forecastUsage(s));
  });

  it('property: on an exact line the rate is that line and the time-to-full lands on zero available', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1n << 34n }), // growth per minute, bytes (a whole number: the line is exact)
        fc.bigInt({ min: 0n, max: 1n << 44n }), // used at t0
        fc.bigInt({ min: 1n, max: 1n << 44n }), // free at the end of the window
        fc.uniqueArray(fc.integer({ min: 0, max: 29 }), { minLength: 2, maxLength: 12 }),
        (perMinute, used0, freeAtEnd, minutes) => {
          const total = used0 + perMinute * 30n + freeAtEnd;
          const s = minutes.map((m) => {
            const used = used0 + perMinute * BigInt(m);
            return { at: T0 + m * MIN, usedBytes: used, availableBytes: total - used };
          });
          const f = forecastUsage(s);
          const perHour = Number(perMinute * 60n);
          expect(Math.abs((f.bytesPerHour as number) - perHour)).toBeLessThanOrEqual(perHour * 1e-9);
          const last = s.reduce((a, b) => (b.at > a.at ? b : a));
          const expectedMs = (Number(last.availableBytes) / Number(perMinute)) * MIN;
          expect(Math.abs((f.msToFull as number) - expectedMs)).toBeLessThanOrEqual(Math.max(1, expectedMs * 1e-9));
        },
      ),
    );
  });
});

describe('history', () => {
  it('appendSample keeps the window, oldest first, and replaces a sample of the same instant', () => {
    let h: UsageSample[] = [];
    for (const m of [0, 10, 20, 40])
      h = appendSample(h, { at: T0 + m * MIN, usedBytes: BigInt(m), availableBytes: 1n });
    expect(h.map((s) => (s.at - T0) / MIN)).toEqual([10, 20, 40]); // 0 is more than 30 min before 40
    h = appendSample(h, { at: T0 + 40 * MIN, usedBytes: 99n, availableBytes: 1n });
    expect(h.map((s) => s.usedBytes)).toEqual([10n, 20n, 99n]);
  });

  it('samplesInWindow of nothing is nothing; the default window is 30 minutes', () => {
    expect(samplesInWindow([])).toEqual([]);
    expect(FORECAST_WINDOW_MS).toBe(30 * MIN);
  });
});
