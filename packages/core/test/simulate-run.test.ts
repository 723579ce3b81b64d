/**
 * The replay loop, the scenarios, the trend window, the trace readers (a
 * real Prometheus 2.x answer, scripts/traces/prometheus-fixture.sh), the
 * report and the chart.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DAY_MS,
  GIB,
  HOUR_MS,
  MIB,
  MINUTE_MS,
  POLICY_IDS,
  SCENARIOS,
  TraceError,
  TrendWindow,
  WAL_SEGMENT_BYTES,
  backendModel,
  goalCheck,
  judgePredictive,
  parsePrometheusMatrix,
  parseStatusNdjson,
  parseTrace,
  runPolicy,
  scenarioSeries,
  seriesFromSamples,
  simulate,
  simulationChart,
  simulationReport,
  usageTrend,
  type PolicyResult,
  type SimPolicy,
  type SimulationResult,
  type UsageSeries,
} from '@cnpg-disk/core';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/traces/${name}`, import.meta.url), 'utf8');

function flatSeries(minutes: number, usedGiB: number, sizeGiB: number): UsageSeries {
  return {
    name: 'flat',
    description: 'test',
    startAt: Date.UTC(2026, 0, 1),
    stepMs: MINUTE_MS,
    used: new Float64Array(minutes).fill(usedGiB * GIB),
    initialBytes: sizeGiB * GIB,
    volume: 'data',
  };
}

/** A policy that asks for `to` at the given steps. */
function scripted(asks: Record<number, number>): SimPolicy {
  return { id: 'script', title: 'script', floorBytes: 0, decide: (v) => asks[v.i] };
}

describe('runPolicy: the simulated clock and backend', () => {
  it('provisioned and wasted GiB-hours are capacity and capacity − used integrated over the steps', () => {
    const r = runPolicy(flatSeries(120, 30, 100), scripted({}), backendModel('ebs'), 10);
    expect(r.provisionedGiBHours).toBeCloseTo(100 * 2, 9);
    expect(r.wastedGiBHours).toBeCloseTo(70 * 2, 9);
    expect(r.fullMinutes).toBe(0);
    expect(r.peakBytes).toBe(100 * GIB);
    expect(r.finalBytes).toBe(100 * GIB);
    expect(r.chart.provisioned).toHaveLength(12);
  });
  it('a disk-full minute is one with less than a WAL segment available', () => {
    const s = flatSeries(10, 0, 1);
    s.used = new Float64Array([GIB - WAL_SEGMENT_BYTES, GIB - WAL_SEGMENT_BYTES + 1, GIB, GIB + GIB, 0, 0, 0, 0, 0, 0]);
    const r = runPolicy(s, scripted({}), backendModel('ideal'), 1);
    expect(r.fullMinutes).toBe(3);
    expect([...r.chart.full]).toEqual([0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    const floored = runPolicy(s, { ...scripted({}), floorBytes: GIB / 2 }, backendModel('ideal'), 1);
    expect(floored.fullMinutes).toBe(4);
  });
  it('the new size reaches the PVC after the latency and the filesystem after the growth delay', () => {
    const seen: { i: number; cap: number; fs: number; pending: boolean }[] = [];
    const probe: SimPolicy = {
      id: 'p',
      title: 'p',
      floorBytes: 0,
      decide: (v) => {
        seen.push({ i: v.i, cap: v.capacityBytes, fs: v.fsTotalBytes, pending: v.fsResizePending });
        return v.i === 0 ? 200 * GIB : undefined;
      },
    };
    const r = runPolicy(flatSeries(6, 10, 100), probe, backendModel('ebs'), 1);
    // EBS model: 1 minute to the PVC, 2 more to the filesystem
    expect(seen.map((x) => [x.cap / GIB, x.fs / GIB, x.pending])).toEqual([
      [100, 100, false],
      [200, 100, true],
      [200, 100, true],
      [200, 200, false],
      [200, 200, false],
      [200, 200, false],
    ]);
    expect(r.resizes).toBe(1);
    expect(r.events).toEqual([
      { at: Date.UTC(2026, 0, 1), fromBytes: 100 * GIB, toBytes: 200 * GIB, outcome: 'accepted' },
    ]);
  });
  it('a refused resize is counted, not applied, and the resizer retries it until the backend takes it', () => {
    // EBS legacy: 6 h between modifications; ask at 0 and at 60 min
    const r = runPolicy(
      flatSeries(7 * 60, 10, 100),
      scripted({ 0: 110 * GIB, 60: 120 * GIB }),
      backendModel('ebs-legacy'),
      60,
    );
    expect(r.refused).toBe(1);
    expect(r.resizes).toBe(2);
    expect(r.events.map((e) => [e.outcome, (e.at - Date.UTC(2026, 0, 1)) / MINUTE_MS])).toEqual([
      ['accepted', 0],
      ['refused', 60],
      ['accepted', 360],
    ]);
    expect(r.events[1]?.rule).toBe('less than 6 h since the last modification');
    // between the refusal and the retry, the capacity stayed at 110 GiB
    expect(r.chart.provisioned[2]).toBe(110 * GIB);
    expect(r.finalBytes).toBe(120 * GIB);
  });
  it('asking again while a change is on its way is a refused modification', () => {
    const r = runPolicy(flatSeries(10, 10, 100), scripted({ 0: 110 * GIB, 1: 120 * GIB }), backendModel('ebs'), 1);
    expect(r.events[1]).toMatchObject({ outcome: 'refused', rule: 'a modification is still in progress' });
    expect(r.refused).toBe(1);
  });
});

describe('scenarios', () => {
  it('every scenario: a year of minutes by default, the same series for the same seed, another for another seed', () => {
    for (const name of SCENARIOS) {
      const a = scenarioSeries(name, { seed: 7, durationMs: 10 * DAY_MS });
      const b = scenarioSeries(name, { seed: 7, durationMs: 10 * DAY_MS });
      const c = scenarioSeries(name, { seed: 8, durationMs: 10 * DAY_MS });
      expect(a.used).toHaveLength(10 * 24 * 60);
      expect(a.used).toEqual(b.used);
      expect(a.used).not.toEqual(c.used);
      expect(a.used.every((u) => Number.isFinite(u) && u >= 0)).toBe(true);
    }
    expect(scenarioSeries('linear', { seed: 1 }).used).toHaveLength(365 * 24 * 60);
  });
  it('the archive outage is marked on the steps it covers; the WAL then drains', () => {
    const s = scenarioSeries('archive-outage', { seed: 1, durationMs: 45 * DAY_MS });
    expect(s.volume).toBe('wal');
    expect(s.archiveOutage).toEqual({ from: 40 * 24 * 60, to: 40 * 24 * 60 + 40 * 60 });
    const peak = s.used[(s.archiveOutage as { to: number }).to - 1] as number;
    expect(peak).toBeGreaterThan(40 * GIB);
    expect(s.used[s.used.length - 1] as number).toBeLessThan(3 * GIB);
  });
  it('during the archive outage our engine is blocked by WAL safety; the default resizes only once the archiver recovered', () => {
    const s = scenarioSeries('archive-outage', { seed: 1, durationMs: 45 * DAY_MS });
    const o = s.archiveOutage as { from: number; to: number };
    const r = simulate(s, { backend: 'ideal', policies: ['ours', 'ours-predictive'] });
    const [ours, predictive] = r.results as [PolicyResult, PolicyResult];
    const stepOf = (at: number) => (at - s.startAt) / s.stepMs;
    // the backlog passes 80% of the 50 GiB volume while archiving fails: the trigger fires, WAL safety holds it
    expect(Math.max(...s.used.slice(o.from, o.to))).toBeGreaterThan(40 * GIB);
    for (const x of [ours, predictive]) expect(x.events.filter((e) => stepOf(e.at) < o.to)).toEqual([]);
    expect(ours.events.length).toBeGreaterThan(0);
    expect(stepOf((ours.events[0] as { at: number }).at)).toBeGreaterThanOrEqual(o.to);
  });
  it('seriesFromSamples interpolates linearly between samples at the step', () => {
    const s = seriesFromSamples(
      't',
      [
        { at: 0, usedBytes: 0 },
        { at: 4 * MINUTE_MS, usedBytes: 4 * GIB },
        { at: 6 * MINUTE_MS, usedBytes: 4 * GIB },
      ],
      MINUTE_MS,
      10 * GIB,
    );
    expect([...s.used].map((u) => u / GIB)).toEqual([0, 1, 2, 3, 4, 4, 4]);
    expect(() => seriesFromSamples('t', [], MINUTE_MS, GIB)).toThrow('no samples');
  });
});

describe('TrendWindow equals usageTrend() over the same window', () => {
  it('slope and scatter agree on arbitrary series (running sums, rebased)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -500, max: 500 }), { minLength: 1, maxLength: 9000 }),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: -100, max: 1000 }),
        (noise, windowMin, slopeMiB) => {
          const w = new TrendWindow(windowMin * MINUTE_MS);
          const samples = noise.map((n, i) => ({
            at: i * MINUTE_MS,
            usedBytes: BigInt(500 * GIB + i * slopeMiB * MIB + n * MIB),
            availableBytes: 0n,
          }));
          for (const s of samples) w.push(s.at, Number(s.usedBytes));
          const got = w.trend();
          const want = usageTrend(samples, windowMin * MINUTE_MS);
          expect(got.samples).toBe(want.samples);
          expect(got.spanMs).toBe(want.spanMs);
          expect(Math.abs(got.bytesPerMs - want.bytesPerMs)).toBeLessThanOrEqual(
            1e-6 * Math.abs(want.bytesPerMs) + 1e-6,
          );
          expect(Math.abs(got.residualRmsBytes - want.residualRmsBytes)).toBeLessThanOrEqual(
            1e-6 * want.residualRmsBytes + 64 * 1024,
          );
        },
      ),
      { numRuns: 60 },
    );
  });
  it('no samples, one sample: no slope', () => {
    const w = new TrendWindow(HOUR_MS);
    expect(w.trend()).toEqual({ samples: 0, spanMs: 0, bytesPerMs: 0, residualRmsBytes: 0 });
    w.push(0, 5);
    expect(w.trend()).toEqual({ samples: 1, spanMs: 0, bytesPerMs: 0, residualRmsBytes: 0 });
    expect(usageTrend([], HOUR_MS)).toEqual({ samples: 0, spanMs: 0, bytesPerMs: 0, residualRmsBytes: 0 });
  });
});

describe('judgePredictive: each reason not to fire, and firing', () => {
  const pred = { horizonMs: 12 * HOUR_MS, windowMs: 2 * HOUR_MS, minSamples: 12 };
  const fs = { availableBytes: 10n * 1024n ** 3n };
  const trend = (over: Partial<{ samples: number; spanMs: number; bytesPerMs: number; residualRmsBytes: number }>) => ({
    samples: 120,
    spanMs: 2 * HOUR_MS,
    bytesPerMs: GIB / HOUR_MS,
    residualRmsBytes: 0,
    ...over,
  });
  it.each([
    ['no-history', undefined],
    ['few-samples', trend({ samples: 11 })],
    ['short-span', trend({ spanMs: HOUR_MS - 1 })],
    ['not-growing', trend({ bytesPerMs: 0 })],
    // fitted growth over the span 2 GiB < 6 × 0.34 GiB of scatter
    ['noise', trend({ residualRmsBytes: 0.34 * GIB })],
    ['beyond-horizon', trend({ bytesPerMs: GIB / HOUR_MS / 2 })],
    ['fires', trend({ residualRmsBytes: 0.33 * GIB })],
  ] as const)('%s', (why, t) => {
    const f = judgePredictive(pred, fs, t);
    expect(f.why).toBe(why);
    expect(f.fires).toBe(why === 'fires');
    if (why === 'fires') {
      expect(f.msToFull).toBeCloseTo(10 * HOUR_MS, -1);
      expect(f.horizonGrowthBytes).toBe(12n * 1024n ** 3n);
    }
  });
  it('exactly half the window of span is enough; exactly the horizon is not within it', () => {
    expect(judgePredictive(pred, fs, trend({ spanMs: HOUR_MS })).why).toBe('fires');
    expect(judgePredictive({ ...pred, horizonMs: 10 * HOUR_MS }, fs, trend({ bytesPerMs: GIB / HOUR_MS })).why).toBe(
      'beyond-horizon',
    );
  });
});

describe('trace readers', () => {
  it('a real Prometheus 2.x range answer: both series found; --volume picks one', () => {
    const text = fixture('prometheus-used-bytes.json');
    expect(() => parsePrometheusMatrix(text)).toThrow(/holds 2 volumes .*choose one with --volume/);
    const t = parseTrace(text, 'main-1');
    expect(t.format).toBe('prometheus-matrix');
    expect(t.volume).toBe('payments/main-1');
    expect(t.samples).toHaveLength(180);
    expect(t.samples[0]).toEqual({ at: Date.UTC(2026, 11, 1), usedBytes: 42949672960 });
    expect(t.samples[179]?.at).toBe(Date.UTC(2026, 11, 1) + 179 * MINUTE_MS);
    expect(t.otherVolumes).toEqual(['payments/main-1-wal']);
    expect(t.initialCapacityBytes).toBeUndefined();
    expect(parseTrace(text, 'payments/main-1-wal').samples.every((s) => s.usedBytes === 2 * GIB)).toBe(true);
    expect(() => parseTrace(text, 'nope')).toThrow('has no volume nope');
  });
  it.each([
    ['not JSON', '{"status":', /not JSON/],
    [
      'an error answer',
      '{"status":"error","errorType":"bad_data","error":"parse error"}',
      /status "error": parse error/,
    ],
    ['an instant query', '{"status":"success","data":{"resultType":"vector","result":[]}}', /range query/],
    [
      'no metric',
      '{"status":"success","data":{"resultType":"matrix","result":[{"values":[]}]}}',
      /no metric and values/,
    ],
    [
      'another metric',
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","persistentvolumeclaim":"a"},"values":[]}]}}',
      /is up, not kubelet_volume_stats_used_bytes/,
    ],
    [
      'no PVC label',
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]}]}}',
      /no persistentvolumeclaim label/,
    ],
    [
      'a bad value',
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"persistentvolumeclaim":"a"},"values":[[1,"-5"]]}]}}',
      /values\[0\] value "-5" is not a byte count/,
    ],
    [
      'a bad pair',
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"persistentvolumeclaim":"a"},"values":[["x","1"]]}]}}',
      /is not \[unix seconds, "value"\]/,
    ],
    [
      'one sample',
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"persistentvolumeclaim":"a"},"values":[[1,"5"]]}]}}',
      /has 1 sample; a trace needs at least 2/,
    ],
    ['no series', '{"status":"success","data":{"resultType":"matrix","result":[]}}', /holds no volume/],
    ['an array', '[1]', /not a Prometheus API answer/],
  ])('Prometheus: %s is a TraceError', (_what, text, message) => {
    expect(() => parsePrometheusMatrix(text)).toThrow(TraceError);
    expect(() => parsePrometheusMatrix(text)).toThrow(message);
  });
  it('the NDJSON disk status --watch wrote against a real kube-apiserver (test/api/simulate-trace.test.ts)', () => {
    const t = parseTrace(fixture('status-watch.ndjson'));
    expect(t.format).toBe('disk-status-ndjson');
    expect(t.volume).toBe('sim/growing-1');
    expect(t.initialCapacityBytes).toBe(64 * MIB);
    expect(t.samples).toHaveLength(5);
    // the test filled the tmpfs by 8 MiB between refreshes
    const steps = t.samples.slice(1).map((s, i) => s.usedBytes - (t.samples[i] as { usedBytes: number }).usedBytes);
    expect(steps).toEqual([8 * MIB, 8 * MIB, 8 * MIB, 8 * MIB]);
    expect(t.samples.every((s, i) => i === 0 || s.at > (t.samples[i - 1] as { at: number }).at)).toBe(true);
  });
  it('the NDJSON disk status --watch wrote on the real end-to-end cluster (scripts/traces/e2e-status-watch.sh), replayed', () => {
    const text = fixture('e2e-status-watch.ndjson');
    // two measured volumes: which one must be said
    expect(() => parseTrace(text)).toThrow(TraceError);
    const t = parseTrace(text, 'trace-1');
    expect(t.format).toBe('disk-status-ndjson');
    expect(t.volume).toBe('sim2-trace/trace-1');
    expect(t.otherVolumes).toEqual(['sim2-trace/trace-1-wal']);
    expect(t.initialCapacityBytes).toBe(1024 * MIB);
    expect(t.samples).toHaveLength(20);
    // a refresh every 15 s (the CLI's own clock, a real instance's df), about 5 minutes
    const gaps = t.samples.slice(1).map((x, i) => x.at - (t.samples[i] as { at: number }).at);
    expect(gaps.every((g) => g > 14_000 && g < 20_000)).toBe(true);
    // the workload wrote about 8 MiB every 10 s: the data volume only grew, by more than 200 MiB
    expect(gaps.length).toBe(19);
    expect(
      t.samples.every((x, i) => i === 0 || x.usedBytes >= (t.samples[i - 1] as { usedBytes: number }).usedBytes),
    ).toBe(true);
    const grown =
      (t.samples[19] as { usedBytes: number }).usedBytes - (t.samples[0] as { usedBytes: number }).usedBytes;
    expect(grown).toBeGreaterThan(200 * MIB);

    const series = seriesFromSamples('e2e', t.samples, 15_000, t.initialCapacityBytes as number);
    const r = simulate(series, { backend: 'ebs', policies: POLICY_IDS });
    expect(r.results.map((x) => x.policy)).toEqual([...POLICY_IDS]);
    expect(series.used).toHaveLength(20);
    // about 290 MiB of 1 GiB at the end: no disk is full; only Cloud SQL's rule buys (its threshold on a
    // 1 GiB disk is 5 GB, so it grows by 5 GiB at once); the predictive preset does not fire, because
    // five minutes of samples span less than half its 2 h window
    for (const x of r.results) {
      expect(x.fullMinutes).toBe(0);
      expect(x.finalBytes).toBe(x.policy === 'cloudsql' ? 6 * 1024 * MIB : 1024 * MIB);
    }
    expect(parseTrace(text, 'sim2-trace/trace-1-wal').samples).toHaveLength(20);
  });
  it('Prometheus float values ("1.5e+10") are read, and rounded to whole bytes', () => {
    const t = parsePrometheusMatrix(
      '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"persistentvolumeclaim":"a"},"values":[[1,"1.5e+10"],[2.5,"7.4"]]}]}}',
    );
    expect(t.samples).toEqual([
      { at: 1000, usedBytes: 15_000_000_000 },
      { at: 2500, usedBytes: 7 },
    ]);
  });
  const doc = (at: string, used: string | number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
      kind: 'DiskStatus',
      collectedAt: at,
      clusters: [
        {
          namespace: 'db',
          volumes: [
            { pvc: 'pg-1', capacityBytes: '10737418240', filesystem: { usedBytes: used, observedAt: at }, ...extra },
            { pvc: 'pg-1-wal', filesystem: null },
          ],
        },
      ],
    });
  it('NDJSON: one DiskStatus a line; the capacity of the first record; unmeasured refreshes skipped', () => {
    const text = [doc('2026-12-01T00:00:00Z', '100'), '', doc('2026-12-01T00:01:00Z', 200)].join('\n');
    const t = parseTrace(text);
    expect(t).toEqual({
      format: 'disk-status-ndjson',
      volume: 'db/pg-1',
      samples: [
        { at: Date.UTC(2026, 11, 1), usedBytes: 100 },
        { at: Date.UTC(2026, 11, 1, 0, 1), usedBytes: 200 },
      ],
      initialCapacityBytes: 10 * GIB,
      otherVolumes: [],
    });
  });
  it.each([
    ['a line that is not JSON', `${doc('2026-12-01T00:00:00Z', '1')}\n{oops`, /line 2 is not JSON/],
    [
      'another document',
      '{"kind":"DiskStatus"}\n{"kind":"ResizePlan","apiVersion":"x"}',
      /line 1 is not a DiskStatus document/,
    ],
    ['a bad byte count', doc('2026-12-01T00:00:00Z', '-1'), /usedBytes is not a byte count/],
    ['a float byte count', doc('2026-12-01T00:00:00Z', 1.5), /usedBytes is not a byte count/],
    ['a bad time', doc('yesterday', '1'), /observedAt is not an RFC 3339 time/],
    ['one measurement', doc('2026-12-01T00:00:00Z', '1'), /has 1 measurement; a trace needs at least 2/],
    ['clusters not a list', '{"apiVersion":"v","kind":"DiskStatus","clusters":{}}', /line 1: clusters is not a list/],
    [
      'a volume without a name',
      '{"apiVersion":"v","kind":"DiskStatus","clusters":[{"volumes":[{}]}]}',
      /has no pvc name/,
    ],
    [
      'volumes not a list',
      '{"apiVersion":"v","kind":"DiskStatus","clusters":[{"volumes":3}]}',
      /volumes is not a list/,
    ],
    [
      'a filesystem that is not an object',
      '{"apiVersion":"v","kind":"DiskStatus","clusters":[{"volumes":[{"pvc":"a","filesystem":3}]}]}',
      /filesystem is not an object/,
    ],
  ])('NDJSON: %s is a TraceError', (_what, text, message) => {
    expect(() => parseStatusNdjson(text)).toThrow(message);
  });
  it('neither format, or an empty file: one sentence', () => {
    expect(() => parseTrace('')).toThrow('the file is empty');
    expect(() => parseTrace('hello\nworld')).toThrow(/neither the NDJSON .* nor a Prometheus/);
    expect(() => parseStatusNdjson('\n\n')).toThrow('the file holds no DiskStatus document');
  });
});

describe('report, goal check and chart', () => {
  const run: SimulationResult = simulate(scenarioSeries('burst-10x', { seed: 3, durationMs: 120 * DAY_MS }), {
    backend: 'ebs',
    policies: POLICY_IDS,
  });
  it('the goal: ours against the cheapest full-free baseline', () => {
    const g = goalCheck(run);
    const baselines = run.results.filter((r) => !r.policy.startsWith('ours'));
    const free = baselines.filter((r) => r.fullMinutes === 0);
    expect(g.fullFreeBaselines).toEqual(free.map((r) => r.policy));
    const cheapest = free.reduce((a, r) => (r.provisionedGiBHours < a.provisionedGiBHours ? r : a));
    expect(g.cheapest?.policy).toBe(cheapest.policy);
    for (const r of run.results.filter((x) => x.policy.startsWith('ours'))) {
      const dearer = r.provisionedGiBHours > cheapest.provisionedGiBHours + 1e-3;
      const full = r.fullMinutes > 0;
      expect(g.ours[r.policy]).toBe(
        full && dearer ? 'disk-full-and-costs-more' : full ? 'disk-full' : dearer ? 'costs-more' : 'meets',
      );
    }
  });
  it('goal verdicts when ours fills the disk and costs more', () => {
    const fake = {
      ...run,
      results: [
        {
          ...(run.results[0] as SimulationResult['results'][number]),
          policy: 'ours',
          fullMinutes: 5,
          provisionedGiBHours: 1e9,
        },
        {
          ...(run.results[2] as SimulationResult['results'][number]),
          policy: 'rds',
          fullMinutes: 0,
          provisionedGiBHours: 10,
        },
      ],
    };
    expect(goalCheck(fake).ours).toEqual({ ours: 'disk-full-and-costs-more' });
    fake.results[0]!.provisionedGiBHours = 1;
    expect(goalCheck(fake).ours).toEqual({ ours: 'disk-full' });
    fake.results[1]!.fullMinutes = 3;
    expect(goalCheck(fake)).toEqual({ fullFreeBaselines: [], ours: { ours: 'meets' } });
  });
  it('the SimulationReport: versioned, byte counts as strings, every policy with its figures', () => {
    const doc = simulationReport({
      apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
      runs: [{ result: run, source: { scenario: 'burst-10x' } }],
      seed: 3,
    });
    expect(doc).toMatchObject({ apiVersion: 'disk.cnpg-plugin.dev/v1alpha1', kind: 'SimulationReport', seed: 3 });
    const r = (doc['runs'] as { results: Record<string, unknown>[]; trace: Record<string, unknown> }[])[0]!;
    expect(r.trace).toMatchObject({
      name: 'burst-10x',
      stepSeconds: 60,
      steps: 120 * 24 * 60,
      initialBytes: String(100 * GIB),
    });
    expect(r.results.map((x) => x['policy'])).toEqual([...POLICY_IDS]);
    expect(typeof r.results[0]!['peakBytes']).toBe('string');
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
  it('the chart: one panel per policy, the disk-full spans in red, names escaped', () => {
    const s = flatSeries(100, 0, 1);
    s.name = '<a&b>';
    s.used = new Float64Array(100).map((_, i) => (i >= 40 && i < 60 ? 2 * GIB : 0));
    const r = simulate(s, { backend: 'ideal', policies: ['topolvm', 'pgo'] });
    const svg = simulationChart([r], 'test "chart"');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('&#60;a&#38;b&#62;');
    expect(svg).toContain('test &#34;chart&#34;');
    expect(svg.match(/fill="#d62728" fill-opacity="0.35"/g)?.length).toBeGreaterThanOrEqual(3);
    expect(svg).toContain('>topolvm</text>');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});
