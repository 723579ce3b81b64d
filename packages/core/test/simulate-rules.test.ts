/**
 * The simulator's backend models and baselines at the boundaries of their
 * published rules (docs/simulate.md cites each): every expected value below
 * is computed from the rule as written, not read back from the code.
 */
import { describe, expect, it } from 'vitest';
import {
  AZURE_ONLINE_BORDER_BYTES,
  EBS_LEGACY_COOLDOWN_MS,
  EBS_MAX_MODIFICATIONS_PER_DAY,
  GIB,
  HOUR_MS,
  MIB,
  MINUTE_MS,
  azureNextTierBytes,
  azurePolicy,
  azureThresholdBytes,
  backendModel,
  cloudSqlPolicy,
  cloudSqlThresholdBytes,
  cnpgRfcPolicy,
  ebsOptimizingMs,
  pgoPolicy,
  rdsPolicy,
  topolvmPolicy,
  type Modification,
  type StepView,
} from '@cnpg-disk/core';

const T0 = Date.UTC(2026, 0, 1);
const DAY = 24 * HOUR_MS;

function view(over: Partial<StepView> & { capacityBytes: number; usedBytes: number }): StepView {
  const fsTotal = over.fsTotalBytes ?? over.capacityBytes;
  return {
    now: T0,
    stepMs: MINUTE_MS,
    i: 0,
    usedSeries: new Float64Array([over.usedBytes]),
    fsTotalBytes: fsTotal,
    availableBytes: fsTotal - over.usedBytes,
    requestBytes: over.capacityBytes,
    refused: false,
    fsResizePending: false,
    history: [],
    ...over,
  };
}

const mod = (at: number, doneAt = at): Modification => ({ at, doneAt, fromBytes: GIB, toBytes: 2 * GIB });

describe('EBS: 4 modifications per rolling 24 h, each after the last finished optimizing', () => {
  const ebs = backendModel('ebs');
  it('accepts the 4th modification of a day and refuses the 5th until the oldest is 24 h old', () => {
    const history = [0, 1, 2].map((h) => mod(T0 + h * HOUR_MS));
    expect(ebs.check(history, T0 + 3 * HOUR_MS, GIB, 2 * GIB)).toEqual({ ok: true });
    const four = [...history, mod(T0 + 3 * HOUR_MS)];
    expect(four).toHaveLength(EBS_MAX_MODIFICATIONS_PER_DAY);
    expect(ebs.check(four, T0 + DAY - 1, GIB, 2 * GIB)).toEqual({
      ok: false,
      rule: '4 modifications in the last 24 h',
    });
    expect(ebs.check(four, T0 + DAY, GIB, 2 * GIB)).toEqual({ ok: true });
  });
  it('refuses while the previous modification is optimizing, accepts the moment it is done', () => {
    const h = [mod(T0, T0 + 2 * HOUR_MS)];
    expect(ebs.check(h, T0 + 2 * HOUR_MS - 1, GIB, 2 * GIB)).toEqual({
      ok: false,
      rule: 'previous modification still optimizing',
    });
    expect(ebs.check(h, T0 + 2 * HOUR_MS, GIB, 2 * GIB).ok).toBe(true);
  });
  it('optimizing lasts 6 h per TiB, at least 30 minutes', () => {
    expect(ebsOptimizingMs(1024 * GIB)).toBe(6 * HOUR_MS);
    expect(ebsOptimizingMs(2048 * GIB)).toBe(12 * HOUR_MS);
    expect(ebsOptimizingMs(10 * GIB)).toBe(30 * MINUTE_MS);
    expect(ebs.busyMs(512 * GIB)).toBe(3 * HOUR_MS);
  });
});

describe('EBS, older rule: 6 h between modifications', () => {
  const legacy = backendModel('ebs-legacy');
  it('refuses at 6 h minus 1 ms, accepts at 6 h, however many in a day', () => {
    expect(EBS_LEGACY_COOLDOWN_MS).toBe(6 * HOUR_MS);
    const h = [mod(T0)];
    expect(legacy.check(h, T0 + 6 * HOUR_MS - 1, GIB, 2 * GIB).ok).toBe(false);
    expect(legacy.check(h, T0 + 6 * HOUR_MS, GIB, 2 * GIB).ok).toBe(true);
    expect(legacy.check([], T0, GIB, 2 * GIB).ok).toBe(true);
  });
});

describe('GCP, Azure and the ideal backend', () => {
  it('GCP: no count limit, only one operation at a time', () => {
    const gcp = backendModel('gcp-pd');
    const many = Array.from({ length: 20 }, (_, i) => mod(T0 + i * MINUTE_MS, T0 + (i + 1) * MINUTE_MS));
    expect(gcp.check(many, T0 + 20 * MINUTE_MS, GIB, 2 * GIB).ok).toBe(true);
    expect(gcp.check(many, T0 + 20 * MINUTE_MS - 1, GIB, 2 * GIB).ok).toBe(false);
  });
  it('Azure: growing to exactly 4 TiB is online, one byte past it is refused, from above it online again', () => {
    const az = backendModel('azure-disk');
    expect(AZURE_ONLINE_BORDER_BYTES).toBe(4096 * GIB);
    expect(az.check([], T0, 2048 * GIB, 4096 * GIB).ok).toBe(true);
    expect(az.check([], T0, 2048 * GIB, 4096 * GIB + 1)).toEqual({
      ok: false,
      rule: 'online expansion cannot cross 4 TiB',
    });
    expect(az.check([], T0, 4096 * GIB, 8192 * GIB).ok).toBe(false); // from 4 TiB itself is still crossing
    expect(az.check([], T0, 4097 * GIB, 8192 * GIB).ok).toBe(true);
    expect(az.check([mod(T0, T0 + MINUTE_MS)], T0, GIB, 2 * GIB).ok).toBe(false);
  });
  it('ideal: everything, at once', () => {
    const ideal = backendModel('ideal');
    expect(ideal.resizeLatencyMs + ideal.fsGrowDelayMs + ideal.busyMs(GIB)).toBe(0);
    expect(ideal.check([mod(T0, T0 + DAY)], T0, GIB, 1e15).ok).toBe(true);
  });
});

describe('Cloud SQL: threshold = increase = min(floor(GB / 25) + 5, 25) GB', () => {
  it.each([
    [10, 5],
    [24, 5],
    [25, 6],
    [100, 9],
    [499, 24],
    [500, 25],
    [10_000, 25],
  ])('%i GiB → %i GiB', (size, t) => {
    expect(cloudSqlThresholdBytes(size * GIB)).toBe(Math.min(Math.floor(size / 25) + 5, 25) * GIB);
    expect(cloudSqlThresholdBytes(size * GIB)).toBe(t * GIB);
  });
  it('fires when available falls below the threshold (not at it) and adds the threshold', () => {
    const p = cloudSqlPolicy();
    const cap = 100 * GIB;
    const t = 9 * GIB;
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap - t }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap - t + 1 }))).toBe(cap + t);
    expect(cloudSqlPolicy(cap + GIB).decide(view({ capacityBytes: cap, usedBytes: cap }))).toBe(cap + GIB);
    // a resize on its way: nothing more
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap, requestBytes: cap + t }))).toBeUndefined();
  });
});

describe('Azure flexible server autogrow', () => {
  it.each([
    [128, 0.2 * 128],
    [100, 20],
    [1024, 64],
    [2048, 64],
    [256, 51.2],
    [32, 6.4],
  ])('%i GiB: grows when less than %f GiB is free', (size, gib) => {
    const share = size > 1024 ? 0.1 : 0.2;
    expect(azureThresholdBytes(size * GIB)).toBeCloseTo(Math.min(share * size, 64) * GIB, 0);
    expect(azureThresholdBytes(size * GIB)).toBeCloseTo(gib * GIB, 0);
  });
  it('grows to the next Premium SSD size: 100 → 128, 128 → 256, 4096 → 8192; none past 32767 GiB', () => {
    expect(azureNextTierBytes(100 * GIB)).toBe(128 * GIB);
    expect(azureNextTierBytes(128 * GIB)).toBe(256 * GIB);
    expect(azureNextTierBytes(4096 * GIB)).toBe(8192 * GIB);
    expect(azureNextTierBytes(32767 * GIB)).toBeUndefined();
    const p = azurePolicy();
    const cap = 128 * GIB;
    const t = Math.ceil(azureThresholdBytes(cap)); // 25.6 GiB is not a whole byte count
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap - t }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap - t + 1 }))).toBe(256 * GIB);
    expect(p.decide(view({ capacityBytes: 32767 * GIB, usedBytes: 32767 * GIB }))).toBeUndefined();
    expect(azurePolicy(200 * GIB).decide(view({ capacityBytes: cap, usedBytes: cap }))).toBe(200 * GIB);
  });
});

describe('topolvm pvc-autoresizer defaults (threshold 10%, increase 10%)', () => {
  it('fires when 10% of the filesystem is more than what is available; asks capacity + 10%, whole GiB', () => {
    const cap = 100 * GIB;
    const threshold = Math.floor(0.1 * cap);
    expect(topolvmPolicy().decide(view({ capacityBytes: cap, usedBytes: cap - threshold }))).toBeUndefined();
    const p = topolvmPolicy();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap - threshold + 1 }))).toBe(
      Math.ceil((cap + Math.floor(0.1 * cap)) / GIB) * GIB,
    );
    // waits while the filesystem still has the size it had when it asked
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap, requestBytes: 110 * GIB }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: 110 * GIB, usedBytes: 110 * GIB }))).toBe(121 * GIB);
    const odd = 10 * GIB + 1;
    expect(topolvmPolicy().decide(view({ capacityBytes: odd, usedBytes: odd }))).toBe(12 * GIB);
  });
  it('stops at the storage limit', () => {
    expect(topolvmPolicy(105 * GIB).decide(view({ capacityBytes: 100 * GIB, usedBytes: 100 * GIB }))).toBe(105 * GIB);
    expect(topolvmPolicy(100 * GIB).decide(view({ capacityBytes: 100 * GIB, usedBytes: 100 * GIB }))).toBeUndefined();
  });
});

describe('Crunchy PGO auto-grow (75%, to 150%)', () => {
  it('fires at 75% used, not a byte below; asks 150% of the size in whole MiB, up to the limit', () => {
    const cap = 100 * GIB;
    const p = pgoPolicy();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: 0.75 * cap - 1 }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: 0.75 * cap }))).toBe(Math.ceil((1.5 * cap) / MIB) * MIB);
    expect(p.decide(view({ capacityBytes: 3 * MIB + 1, usedBytes: 3 * MIB + 1 }))).toBe(5 * MIB);
    expect(pgoPolicy(120 * GIB).decide(view({ capacityBytes: cap, usedBytes: cap }))).toBe(120 * GIB);
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap, fsTotalBytes: 0 }))).toBeUndefined();
  });
});

describe('AWS RDS storage autoscaling', () => {
  const cap = 200 * GIB;
  const low = cap - 0.1 * cap; // exactly 10% free: "less than or equal to"
  it('needs the low-storage condition for 5 minutes; 10% free exactly is low, a byte more is not', () => {
    const p = rdsPolicy();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low - 1 }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0 }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0 + 4 * MINUTE_MS }))).toBeUndefined();
    // max(10 GiB, 10% = 20 GiB, predicted 0) = 20 GiB
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0 + 5 * MINUTE_MS }))).toBe(cap + 20 * GIB);
  });
  it('the increment is the largest of 10 GiB, 10% and 7 h of the last hour growth beyond the size', () => {
    const small = 50 * GIB;
    const p = rdsPolicy();
    p.decide(view({ capacityBytes: small, usedBytes: 0.9 * small, now: T0 - 10 * MINUTE_MS }));
    expect(p.decide(view({ capacityBytes: small, usedBytes: 0.9 * small, now: T0 }))).toBe(small + 10 * GIB);
    // 61 steps of a minute: used grew 6 GiB in the last hour → 42 GiB more in 7 h → 47 + 42 − 50 = 39 GiB
    const series = new Float64Array(61).map((_, i) => 41 * GIB + (i * 6 * GIB) / 60);
    const q = rdsPolicy();
    const at = (i: number) =>
      view({ capacityBytes: small, usedBytes: series[i] as number, usedSeries: series, i, now: T0 + i * MINUTE_MS });
    for (let i = 50; i < 60; i++) q.decide(at(i));
    const predicted = Math.ceil((47 * GIB + 7 * 6 * GIB - small) / GIB) * GIB;
    expect(q.decide(at(60))).toBe(Math.ceil((small + predicted) / GIB) * GIB);
  });
  it('waits 6 h after the last modification and for its optimization to finish', () => {
    const p = rdsPolicy();
    const h = [mod(T0 - 6 * HOUR_MS + 1, T0 - HOUR_MS)];
    p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0 - 10 * MINUTE_MS, history: h }));
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0, history: h }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0 + 1, history: h }))).toBe(cap + 20 * GIB);
    const optimizing = [mod(T0 - 7 * HOUR_MS, T0 + HOUR_MS)];
    expect(p.decide(view({ capacityBytes: cap, usedBytes: low, now: T0, history: optimizing }))).toBeUndefined();
  });
});

describe('the CloudNativePG RFC defaults (80%, 20% within [2Gi, 500Gi], 3 a day, no in-progress check)', () => {
  it('fires above 80%, not at it; steps from the request; bounded steps', () => {
    const p = cnpgRfcPolicy();
    const cap = 100 * GIB;
    expect(p.decide(view({ capacityBytes: cap, usedBytes: 0.8 * cap }))).toBeUndefined();
    expect(p.decide(view({ capacityBytes: cap, usedBytes: 0.8 * cap + 1 }))).toBe(120 * GIB);
    expect(cnpgRfcPolicy().decide(view({ capacityBytes: 5 * GIB, usedBytes: 5 * GIB }))).toBe(7 * GIB);
    expect(cnpgRfcPolicy().decide(view({ capacityBytes: 5000 * GIB, usedBytes: 5000 * GIB }))).toBe(5500 * GIB);
    expect(cnpgRfcPolicy(101 * GIB).decide(view({ capacityBytes: cap, usedBytes: cap }))).toBe(101 * GIB);
  });
  it('asks again while the last resize is on its way (the gap our engine closes), 3 times in 24 h at most', () => {
    const p = cnpgRfcPolicy();
    const cap = 100 * GIB;
    let request = cap;
    const asked: number[] = [];
    for (let m = 0; m < 10; m++) {
      const next = p.decide(
        view({ capacityBytes: cap, usedBytes: cap, requestBytes: request, now: T0 + m * MINUTE_MS }),
      );
      if (next !== undefined) {
        asked.push(m);
        request = next;
      }
    }
    expect(asked).toEqual([0, 1, 2]);
    expect(request).toBe(Math.ceil((Math.ceil((120 * GIB * 1.2) / MIB) * MIB * 1.2) / MIB) * MIB);
    expect(p.decide(view({ capacityBytes: cap, usedBytes: cap, requestBytes: request, now: T0 + DAY }))).toBeDefined();
  });
});
