/**
 * Properties of decide() over arbitrary inputs (fast-check): it never
 * shrinks, never passes the limit, keeps a percentage step within its
 * bounds, never spends more than maxActionsPerDay in any 24 h whatever the
 * sequence of passes, and is deterministic.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MiB,
  addLedgerEntry,
  decide,
  decideUntraced,
  prepareDecision,
  percentUsed,
  parseLedger,
  roundUpTo,
  serializeLedger,
  type CheckName,
  type ClusterShape,
  type DecisionInput,
  type FilesystemFacts,
  type Ledger,
  type PvcCondition,
  type PvcFacts,
  type ResizePolicy,
  type Step,
  type VolumeRef,
  type WalHealth,
} from '@cnpg-disk/core';
import {
  DAY,
  HOUR,
  NOW,
  SECOND,
  fs,
  input as decideInput,
  iso,
  policy as enabledPolicy,
  pvc as boundPvc,
  volume,
} from './fixtures.js';

const GiB = 1024n * MiB;
const CHECK_ORDER: CheckName[] = [
  'enabled',
  'facts',
  'trigger',
  'in-progress',
  'budget',
  'limit',
  'wal-safety',
  'new-size',
];

/** Sizes from a byte to 2^62, biased towards the interesting: whole MiB/GiB and small values. */
const bytes = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 62n }),
  fc.bigInt({ min: 0n, max: 4n * MiB }),
  fc.bigInt({ min: 0n, max: 1n << 20n }).map((n) => n * GiB),
  fc.bigInt({ min: 1n, max: 100_000n }).map((n) => n * MiB),
);
const positive = bytes.map((b) => (b === 0n ? 1n : b));

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.integer({ min: 100, max: 10000 }).map((basisPoints) => ({ kind: 'percent' as const, basisPoints })),
  positive.map((b) => ({ kind: 'absolute' as const, bytes: b })),
);

/** Policies as validation yields them (steps > 0, 1..100%, minStep ≤ maxStep, 0..10 actions). */
const policyArb: fc.Arbitrary<ResizePolicy> = fc
  .record({
    enabled: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, { arbitrary: fc.constant(false), weight: 1 }),
    usageThreshold: fc.oneof(fc.integer({ min: 1, max: 99 }), fc.double({ min: 1, max: 99, noNaN: true })),
    minAvailableBytes: fc.option(bytes, { nil: undefined }),
    step,
    bounds: fc.tuple(bytes, bytes).map(([a, b]) => (a <= b ? [a, b] : [b, a])),
    limitBytes: fc.option(bytes, { nil: undefined }),
    maxActionsPerDay: fc.integer({ min: 0, max: 10 }),
    acknowledgeWALRisk: fc.boolean(),
    requireArchiveHealthy: fc.boolean(),
    maxPendingWALFiles: fc.integer({ min: 0, max: 200 }),
    maxSlotRetentionBytes: fc.oneof(fc.constant(0n), bytes),
    alertOnResize: fc.boolean(),
  })
  .map((r) => ({
    enabled: r.enabled,
    triggers: {
      usageThreshold: r.usageThreshold,
      ...(r.minAvailableBytes !== undefined ? { minAvailableBytes: r.minAvailableBytes } : {}),
    },
    expansion: {
      step: r.step,
      minStepBytes: r.bounds[0] as bigint,
      maxStepBytes: r.bounds[1] as bigint,
      ...(r.limitBytes !== undefined ? { limitBytes: r.limitBytes } : {}),
    },
    strategy: {
      maxActionsPerDay: r.maxActionsPerDay,
      walSafetyPolicy: {
        acknowledgeWALRisk: r.acknowledgeWALRisk,
        requireArchiveHealthy: r.requireArchiveHealthy,
        maxPendingWALFiles: r.maxPendingWALFiles,
        maxSlotRetentionBytes: r.maxSlotRetentionBytes,
        alertOnResize: r.alertOnResize,
      },
    },
  }));

const pvcArb: fc.Arbitrary<PvcFacts> = fc.record(
  {
    requestBytes: bytes,
    capacityBytes: bytes,
    conditions: fc.array(
      fc.record({
        type: fc.constantFrom(
          'Resizing',
          'FileSystemResizePending',
          'ControllerResizeError',
          'NodeResizeError',
          'Other',
        ),
        status: fc.constantFrom('True', 'False', 'Unknown'),
        message: fc.string(),
      }),
      { maxLength: 2 },
    ),
    allocatedResourceStatus: fc.constantFrom(
      'ControllerResizeInProgress',
      'ControllerResizeInfeasible',
      'NodeResizePending',
      'NodeResizeInProgress',
      'NodeResizeInfeasible',
      'Something',
    ),
  },
  { requiredKeys: ['conditions'] },
);

const fsArb: fc.Arbitrary<FilesystemFacts> = fc.oneof(
  fc.record({ totalBytes: bytes, usedBytes: bytes, availableBytes: bytes }),
  // consistent filesystems, mostly full enough to trigger
  fc
    .tuple(positive, fc.integer({ min: 0, max: 1000 }))
    .map(([total, permille]) => fs(total, (total * BigInt(permille)) / 1000n)),
);

const now = fc.integer({ min: NOW - 365 * DAY, max: NOW + 365 * DAY });

const ledgerArb = (at: number): fc.Arbitrary<Ledger> =>
  fc.record(
    {
      entries: fc.array(
        fc.record({
          at: fc.integer({ min: at - 2 * DAY, max: at + HOUR }).map(iso),
          fromBytes: bytes,
          toBytes: bytes,
          by: fc.constantFrom('engine' as const, 'manual' as const),
        }),
        { maxLength: 14 },
      ),
      corrupt: fc.constant('unreadable entry at index 0'),
    },
    { requiredKeys: ['entries'] },
  );

const walArb = (instance: string): fc.Arbitrary<WalHealth> =>
  fc.record(
    {
      instance: fc.oneof(
        { arbitrary: fc.constant(instance), weight: 9 },
        { arbitrary: fc.constant('pg-9'), weight: 1 },
      ),
      archivingConfigured: fc.boolean(),
      archiver: fc.record(
        {
          archivedCount: fc.nat(),
          failedCount: fc.nat(),
          lastArchivedTime: fc.integer({ min: NOW - 2 * DAY, max: NOW }).map(iso),
          lastFailedTime: fc.integer({ min: NOW - 2 * DAY, max: NOW }).map(iso),
        },
        { requiredKeys: ['archivedCount', 'failedCount'] },
      ),
      readyFiles: fc.nat({ max: 300 }),
      slots: fc.array(
        fc.record(
          {
            name: fc.string({ minLength: 1, maxLength: 8 }),
            type: fc.constantFrom('physical' as const, 'logical' as const),
            active: fc.boolean(),
            retainedBytes: bytes,
          },
          { requiredKeys: ['name', 'type', 'active'] },
        ),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: ['instance'] },
  );

const clusterArb: fc.Arbitrary<ClusterShape> = fc.record({
  namespace: fc.constant('db'),
  name: fc.constant('pg'),
  singleVolume: fc.boolean(),
  tablespaces: fc.constant(['tbs1']),
  archiving: fc.record({ configured: fc.constantFrom(true, false, undefined) }),
});

const volumeArb: fc.Arbitrary<VolumeRef> = fc
  .tuple(fc.constantFrom('data' as const, 'wal' as const, 'tablespace' as const), fc.constantFrom('pg-1', 'pg-2'))
  .map(([type, instance]) => volume(type, instance, type === 'tablespace' ? 'tbs1' : undefined));

const inputArb: fc.Arbitrary<DecisionInput> = fc.tuple(volumeArb, now).chain(([vol, at]) =>
  fc.record(
    {
      volume: fc.constant(vol),
      cluster: clusterArb,
      policy: policyArb,
      pvc: pvcArb,
      filesystem: fsArb,
      ledger: ledgerArb(at),
      walHealth: walArb(vol.instance),
      now: fc.constant(at),
    },
    { requiredKeys: ['volume', 'cluster', 'policy', 'pvc', 'ledger', 'now'] },
  ),
);

const RUNS = { numRuns: 3000 };

describe('decide() over arbitrary inputs', () => {
  it('a resize always grows, never past the limit, and only when allowed', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const d = decide(input);
        if (d.verdict !== 'resize') {
          expect(d.newBytes).toBeUndefined();
          return;
        }
        const current = d.currentBytes as bigint;
        const next = d.newBytes as bigint;
        expect(next).toBeGreaterThan(current);
        expect(d.stepBytes).toBe(next - current);
        const limit = input.policy.expansion.limitBytes;
        if (limit !== undefined) expect(next).toBeLessThanOrEqual(limit);
        // Whole MiB, unless it stopped exactly at the limit.
        if (next !== limit) expect(next % MiB).toBe(0n);
        expect(input.policy.enabled).toBe(true);
        expect(input.ledger.corrupt).toBeUndefined();
        expect(d.budget.remaining).toBeGreaterThan(0);
        expect(d.budget.used).toBeLessThan(input.policy.strategy.maxActionsPerDay);
        if (input.volume.type === 'data' && input.cluster.singleVolume) {
          expect(input.policy.strategy.walSafetyPolicy.acknowledgeWALRisk).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('keeps a percentage step within [minStep, maxStep] unless the limit caps it (MiB rounding aside)', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const d = decide(input);
        const s = input.policy.expansion.step;
        if (d.verdict !== 'resize' || s.kind !== 'percent') return;
        const current = d.currentBytes as bigint;
        const next = d.newBytes as bigint;
        const { minStepBytes, maxStepBytes } = input.policy.expansion;
        if (d.warnings.some((w) => w.code === 'capped-at-limit')) {
          expect(next).toBe(input.policy.expansion.limitBytes);
          expect(next - current).toBeLessThan(roundUpTo(current + maxStepBytes, MiB) - current + 1n);
          return;
        }
        expect(next - current).toBeGreaterThanOrEqual(minStepBytes);
        // Rounding the new size up to a whole MiB may add less than 1 MiB to maxStep.
        expect(next).toBeLessThanOrEqual(roundUpTo(current + maxStepBytes, MiB));
      }),
      RUNS,
    );
  });

  it('with whole-MiB sizes and bounds, a percentage step is exactly within [minStep, maxStep]', () => {
    const mib = fc.bigInt({ min: 1n, max: 1n << 30n }).map((n) => n * MiB);
    fc.assert(
      fc.property(mib, fc.tuple(mib, mib), fc.integer({ min: 100, max: 10000 }), (current, [a, b], bp) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        const p = enabledPolicy((x) => {
          x.expansion.step = { kind: 'percent', basisPoints: bp };
          x.expansion.minStepBytes = min;
          x.expansion.maxStepBytes = max;
        });
        const d = decide({
          volume: volume('data'),
          cluster: {
            namespace: 'db',
            name: 'pg',
            singleVolume: false,
            tablespaces: [],
            archiving: { configured: true },
          },
          policy: p,
          pvc: boundPvc(current),
          filesystem: fs(current, current),
          ledger: { entries: [] },
          now: NOW,
        });
        expect(d.verdict).toBe('resize');
        expect(d.stepBytes).toBeGreaterThanOrEqual(min);
        expect(d.stepBytes).toBeLessThanOrEqual(max);
      }),
      { numRuns: 2000 },
    );
  });

  it('is deterministic: the same input gives a deep-equal decision', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        expect(decide(input)).toEqual(decide(structuredClone(input)));
      }),
      { numRuns: 1000 },
    );
  });

  it('traces the checks in the spec order, ending where it decided', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const d = decide(input);
        const order = d.trace.map((t) => CHECK_ORDER.indexOf(t.check));
        expect(order[0]).toBe(0);
        for (let i = 1; i < order.length; i++) expect(order[i]).toBe((order[i - 1] as number) + 1);
        const last = d.trace[d.trace.length - 1];
        if (d.verdict === 'resize') {
          expect(last?.check).toBe('new-size');
          expect(['pass', 'warn']).toContain(last?.outcome);
        } else {
          expect(last?.outcome).toBe('stop');
        }
        expect(d.verdict === 'blocked').toBe(d.reason !== undefined);
      }),
      RUNS,
    );
  });
});

describe('the budget over any sequence of passes', () => {
  /**
   * Simulates a controller: at each time decide; when the answer is resize,
   * record it with addLedgerEntry (and, on some passes, write the ledger to
   * its annotation and read it back), and grow the volume.
   */
  const passes = fc.record({
    max: fc.integer({ min: 0, max: 10 }),
    start: fc.integer({ min: NOW, max: NOW + DAY }),
    steps: fc.array(
      fc.record({
        gap: fc.oneof(
          fc.integer({ min: 0, max: 2 * SECOND }),
          fc.integer({ min: 0, max: 3 * HOUR }),
          fc.integer({ min: 0, max: 30 * HOUR }),
          fc.constantFrom(DAY, DAY - 1, DAY + 1),
        ),
        roundTrip: fc.boolean(),
      }),
      { minLength: 1, maxLength: 80 },
    ),
  });

  it('never spends more than maxActionsPerDay in any 24 h, and never blocks without cause', () => {
    fc.assert(
      fc.property(passes, ({ max, start, steps }) => {
        const p = enabledPolicy((x) => (x.strategy.maxActionsPerDay = max));
        let ledger: Ledger = { entries: [] };
        let size = 100n * GiB;
        let t = start;
        const resizes: number[] = [];
        for (const s of steps) {
          t += s.gap;
          const d = decide({
            volume: volume('data'),
            cluster: {
              namespace: 'db',
              name: 'pg',
              singleVolume: false,
              tablespaces: [],
              archiving: { configured: true },
            },
            policy: p,
            pvc: boundPvc(size),
            filesystem: fs(size, (size * 95n) / 100n),
            ledger,
            now: t,
          });
          if (d.verdict === 'resize') {
            resizes.push(t);
            ledger = addLedgerEntry(
              ledger,
              { at: iso(t), fromBytes: size, toBytes: d.newBytes as bigint, by: 'engine' },
              t,
            );
            size = d.newBytes as bigint;
          } else {
            expect(d).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
            // Blocked only when the window (give or take the stored second) really holds max resizes.
            const recent = resizes.filter((r) => r > t - DAY - SECOND).length;
            expect(recent).toBeGreaterThanOrEqual(max);
            if (max > 0) expect(Date.parse(d.budget.nextSlotAt as string)).toBeGreaterThan(t);
          }
          if (s.roundTrip) ledger = parseLedger(serializeLedger(ledger));
        }
        // Every 24 h window (the worst one starts at a resize) holds at most max resizes.
        for (const r of resizes) {
          expect(resizes.filter((x) => x >= r && x < r + DAY).length).toBeLessThanOrEqual(max);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

/** Usage history for the predictive trigger: growing, flat or shrinking, with noise, over up to 8 h. */
const historyArb = (at: number) =>
  fc
    .record({
      n: fc.integer({ min: 0, max: 60 }),
      everyMs: fc.constantFrom(60 * SECOND, 5 * 60 * SECOND, 10 * 60 * SECOND),
      base: fc.bigInt({ min: 0n, max: 900n * GiB }),
      perStep: fc.integer({ min: -200, max: 2000 }),
      noise: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 60, maxLength: 60 }),
    })
    .map(({ n, everyMs, base, perStep, noise }) =>
      Array.from({ length: n }, (_, i) => ({
        at: at - (n - 1 - i) * everyMs,
        usedBytes: base + BigInt(perStep * i + (noise[i] as number)) * MiB,
        availableBytes: 10n * GiB,
      })).filter((s) => s.usedBytes >= 0n),
    );

const withPredictiveArb: fc.Arbitrary<DecisionInput> = inputArb.chain((input) =>
  fc
    .record({
      on: fc.boolean(),
      horizonMs: fc.constantFrom(HOUR, 3 * HOUR, 24 * HOUR),
      windowMs: fc.constantFrom(HOUR, 2 * HOUR, 6 * HOUR),
      minSamples: fc.integer({ min: 3, max: 20 }),
      history: historyArb(input.now),
    })
    .map(({ on, horizonMs, windowMs, minSamples, history }) => ({
      ...input,
      policy: {
        ...input.policy,
        triggers: {
          ...input.policy.triggers,
          ...(on ? { predictive: { horizonMs, windowMs, minSamples } } : {}),
        },
      },
      usageHistory: history,
    })),
);

describe('the fast path: decideUntraced() decides what decide() decides', () => {
  it('same verdict, reason, sizes, percent, budget and warning codes; no trace, no sentence', () => {
    fc.assert(
      fc.property(withPredictiveArb, (input) => {
        const traced = decide(input);
        const fast = decideUntraced(input);
        expect(fast.verdict).toBe(traced.verdict);
        expect(fast.reason).toBe(traced.reason);
        expect(fast.currentBytes).toBe(traced.currentBytes);
        expect(fast.newBytes).toBe(traced.newBytes);
        expect(fast.stepBytes).toBe(traced.stepBytes);
        expect(fast.percentUsed).toBe(traced.percentUsed);
        expect(fast.walSafetyApplies).toBe(traced.walSafetyApplies);
        expect(fast.budget).toEqual(traced.budget);
        expect(fast.warnings.map((w) => w.code)).toEqual(traced.warnings.map((w) => w.code));
        expect(fast.trace).toEqual([]);
        expect(fast.message).toBe('');
        expect(fast.warnings.every((w) => w.message === '')).toBe(true);
        expect(traced.message.length).toBeGreaterThan(0);
        expect(traced.trace.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });
});

/** The same inputs with every byte figure brought under 2^49, where the prepared path decides on its own. */
const FAST = 2n ** 49n;
const small = (b: bigint | undefined): bigint | undefined => (b === undefined ? undefined : b % FAST);
const smallInputArb: fc.Arbitrary<DecisionInput> = fc
  .tuple(
    withPredictiveArb,
    fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 8 },
      { arbitrary: fc.record({ restarts: fc.nat({ max: 5 }) }), weight: 1 },
    ),
    fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 9 },
      { arbitrary: fc.constant('2026-11-26T11:59:00Z'), weight: 1 },
    ),
    // most inputs look like a running cluster's: a readable ledger of past
    // resizes, no allocated-resource status, a filesystem the size of the PVC
    fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
    fc.integer({ min: 0, max: 1000 }),
  )
  .map(([input, exhausted, observedAt, common, permille]) => {
    const { policy, pvc } = input;
    const e = policy.expansion;
    const capacity = common ? (small(pvc.capacityBytes ?? pvc.requestBytes) ?? 100n * GiB) : small(pvc.capacityBytes);
    const request = common ? capacity : small(pvc.requestBytes);
    let fsIn = input.filesystem;
    if (common && capacity !== undefined) fsIn = fs(capacity, (capacity * BigInt(permille)) / 1000n);
    const ledger: Ledger = common
      ? { entries: input.ledger.entries.filter((x) => Date.parse(x.at) <= input.now) }
      : input.ledger;
    const { allocatedResourceStatus: _a, ...pvcCommon } = pvc;
    return {
      ...input,
      ...(exhausted ? { walSpaceExhausted: exhausted } : {}),
      ledger,
      policy: {
        ...policy,
        triggers: {
          ...policy.triggers,
          ...(policy.triggers.minAvailableBytes !== undefined
            ? { minAvailableBytes: small(policy.triggers.minAvailableBytes) as bigint }
            : {}),
        },
        expansion: {
          ...e,
          step: e.step.kind === 'absolute' ? { kind: 'absolute' as const, bytes: 1n + (e.step.bytes % FAST) } : e.step,
          minStepBytes: small(e.minStepBytes) as bigint,
          maxStepBytes: e.maxStepBytes % FAST < e.minStepBytes % FAST ? e.minStepBytes % FAST : e.maxStepBytes % FAST,
          ...(e.limitBytes !== undefined ? { limitBytes: small(e.limitBytes) as bigint } : {}),
        },
      },
      pvc: {
        ...(common
          ? { ...pvcCommon, conditions: pvc.conditions.filter((c) => c.status !== 'True' || permille % 3 === 0) }
          : pvc),
        ...(request !== undefined ? { requestBytes: request } : {}),
        ...(capacity !== undefined ? { capacityBytes: capacity } : {}),
      },
      ...(fsIn
        ? {
            filesystem: {
              totalBytes: small(fsIn.totalBytes) as bigint,
              usedBytes: small(fsIn.usedBytes) as bigint,
              availableBytes: small(fsIn.availableBytes) as bigint,
              ...(observedAt ? { observedAt } : {}),
            },
          }
        : {}),
    };
  });

/** Everything decideUntraced() gives, compared value for value. */
function expectSameDecision(fast: ReturnType<typeof decideUntraced>, reference: ReturnType<typeof decideUntraced>) {
  expect(fast.verdict).toBe(reference.verdict);
  expect(fast.reason).toBe(reference.reason);
  expect(fast.currentBytes).toBe(reference.currentBytes);
  expect(fast.newBytes).toBe(reference.newBytes);
  expect(fast.stepBytes).toBe(reference.stepBytes);
  expect(fast.percentUsed).toBe(reference.percentUsed);
  expect(fast.walSafetyApplies).toBe(reference.walSafetyApplies);
  expect(fast.budget).toEqual(reference.budget);
  expect(fast.warnings).toEqual(reference.warnings);
  expect(fast.trace).toEqual([]);
  expect(fast.message).toBe('');
}

describe('the prepared fast path: prepareDecision(input).decide() decides what decideUntraced(input) decides', () => {
  it('over arbitrary inputs, large figures included (those take the general path)', () => {
    fc.assert(
      fc.property(withPredictiveArb, (input) => {
        expectSameDecision(prepareDecision(input).decide(), decideUntraced(input));
      }),
      RUNS,
    );
  });

  it('over inputs whose figures are below 2^49 (the prepared path decides them itself)', () => {
    fc.assert(
      fc.property(smallInputArb, (input) => {
        const prepared = prepareDecision(input);
        expectSameDecision(prepared.decide(), decideUntraced(input));
        expect(decideUntraced(prepared.toInput())).toEqual(decideUntraced(input));
      }),
      RUNS,
    );
  });

  it('step after step, as the simulator updates it in place, every decision equals a fresh decideUntraced()', () => {
    const update = fc.record({
      gap: fc.integer({ min: 0, max: 8 * HOUR }),
      total: fc.bigInt({ min: 1n, max: 2n ** 50n }),
      permille: fc.integer({ min: 0, max: 1000 }),
      grow: fc.constantFrom(0n, 0n, GiB, 50n * GiB),
      conditions: fc.constantFrom<PvcCondition[]>(
        [],
        [{ type: 'ControllerResizeError', status: 'True', message: 'refused' }],
        [{ type: 'FileSystemResizePending', status: 'True' }],
      ),
      resized: fc.boolean(),
      walHealthy: fc.option(fc.boolean(), { nil: undefined }),
    });
    fc.assert(
      fc.property(smallInputArb, fc.array(update, { minLength: 1, maxLength: 25 }), (input0, updates) => {
        const prepared = prepareDecision(input0);
        let input: DecisionInput = input0;
        let now = input0.now;
        for (const u of updates) {
          now += u.gap;
          const used = (u.total * BigInt(u.permille)) / 1000n;
          const request = u.total + u.grow;
          const filesystem = { totalBytes: u.total, usedBytes: used, availableBytes: u.total - used };
          const pvc = { requestBytes: request, capacityBytes: u.total, conditions: u.conditions };
          let ledger = input.ledger;
          if (u.resized) {
            ledger = {
              ...ledger,
              entries: [...ledger.entries, { at: iso(now), fromBytes: 1n, toBytes: 2n, by: 'engine' as const }],
            };
            prepared.setLedger(ledger);
          }
          const walHealth: WalHealth | undefined =
            u.walHealthy === undefined
              ? undefined
              : {
                  instance: input.volume.instance,
                  archivingConfigured: true,
                  archiver: {
                    archivedCount: 1,
                    failedCount: u.walHealthy ? 0 : 1,
                    lastArchivedTime: iso(now - HOUR),
                    ...(u.walHealthy ? {} : { lastFailedTime: iso(now - 1000) }),
                  },
                  readyFiles: 0,
                };
          prepared.setWalHealth(walHealth);
          prepared.setConditions(u.conditions);
          prepared.setFigures(
            now,
            Number(used),
            Number(u.total - used),
            Number(u.total),
            Number(request),
            Number(u.total),
          );
          const { walHealth: _w, filesystem: _f, ...rest } = input;
          input = { ...rest, now, pvc, filesystem, ledger, ...(walHealth ? { walHealth } : {}) };
          if (input0.filesystem?.observedAt)
            input.filesystem = { ...filesystem, observedAt: input0.filesystem.observedAt };
          expectSameDecision(prepared.decide(), decideUntraced(input));
        }
      }),
      { numRuns: 500 },
    );
  });

  // Boundaries random inputs seldom hit: each row is decided by the prepared
  // path and by decideUntraced(), on both sides of the rule's edge.
  const G = 100n * GiB;
  const entryAt = (ms: number) => ({ entries: [{ at: iso(ms), fromBytes: G, toBytes: G, by: 'engine' as const }] });
  const boundaryRows: [string, DecisionInput][] = [
    ['filesystem exactly 10% below capacity', decideInput({ filesystem: fs(G - G / 10n, 80n * GiB) })],
    ['filesystem 10% + 1 byte below capacity', decideInput({ filesystem: fs(G - G / 10n - 1n, 80n * GiB) })],
    ['a ledger entry 1 s ahead (rounding)', decideInput({ ledger: entryAt(NOW + 1000) })],
    ['a ledger entry 1 s + 1 ms ahead (clock skew)', decideInput({ ledger: entryAt(NOW + 1001) })],
    ['a ledger entry exactly 24 h old', decideInput({ ledger: entryAt(NOW - DAY) })],
    ['a ledger entry 24 h − 1 ms old', decideInput({ ledger: entryAt(NOW - DAY + 1) })],
    [
      'available exactly minAvailable',
      decideInput({
        policy: enabledPolicy((x) => (x.triggers.minAvailableBytes = 50n * GiB)),
        filesystem: fs(G, 50n * GiB),
      }),
    ],
    [
      'available one byte below minAvailable',
      decideInput({
        policy: enabledPolicy((x) => (x.triggers.minAvailableBytes = 50n * GiB + 1n)),
        filesystem: fs(G, 50n * GiB),
      }),
    ],
    [
      'new size exactly the limit',
      decideInput({ policy: enabledPolicy((x) => (x.expansion.limitBytes = 120n * GiB)) }),
    ],
    [
      'new size one byte above the limit',
      decideInput({ policy: enabledPolicy((x) => (x.expansion.limitBytes = 120n * GiB - 1n)) }),
    ],
    ['exactly at the threshold', decideInput({ filesystem: fs(G, 80n * GiB) })],
    ['one byte above the threshold', decideInput({ filesystem: fs(G, 80n * GiB + 1n) })],
    [
      'a step that is not whole MiB',
      decideInput({ pvc: boundPvc(G + 12_345n), filesystem: fs(G + 12_345n, 95n * GiB) }),
    ],
    [
      'budget exhausted (nextSlotAt)',
      decideInput({ ledger: { entries: [1, 2, 3].map((h) => entryAt(NOW - h * HOUR).entries[0]!) } }),
    ],
    ['maxActionsPerDay 0', decideInput({ policy: enabledPolicy((x) => (x.strategy.maxActionsPerDay = 0)) })],
    [
      'a predictive step one slot from the end of the budget',
      decideInput({
        policy: enabledPolicy((x) => (x.triggers.predictive = { horizonMs: 3 * HOUR, windowMs: HOUR, minSamples: 3 })),
        filesystem: fs(G, 70n * GiB),
        ledger: { entries: [1, 2].map((h) => entryAt(NOW - h * HOUR).entries[0]!) },
        usageTrend: { samples: 12, spanMs: HOUR, bytesPerMs: Number(20n * GiB) / HOUR, residualRmsBytes: 0 },
      }),
    ],
    [
      'WAL volume, archive failing',
      decideInput({
        volume: volume('wal'),
        walHealth: {
          instance: 'pg-1',
          archivingConfigured: true,
          archiver: {
            archivedCount: 1,
            failedCount: 1,
            lastArchivedTime: iso(NOW - HOUR),
            lastFailedTime: iso(NOW - 1),
          },
        },
      }),
    ],
    ['WAL volume, no WAL health (fail-open)', decideInput({ volume: volume('wal'), walHealth: undefined })],
  ];
  it.each(boundaryRows)('%s', (_name, row) => {
    expectSameDecision(prepareDecision(row).decide(), decideUntraced(row));
  });

  it('refuses a figure that is not a whole number of bytes', () => {
    const prepared = prepareDecision(decideInput());
    expect(prepared.decide().verdict).toBe('resize');
    expect(() => prepared.setFigures(NOW, 1.5, 0, 2, 2, 2)).toThrow(RangeError);
    expect(() => prepared.setFigures(NOW, -1, 0, 2, 2, 2)).toThrow(/whole number/);
  });
});

describe('the predictive trigger over arbitrary inputs', () => {
  it('never shrinks, never passes the limit, a predictive step stays within [minStep, maxStep] (MiB rounding aside)', () => {
    fc.assert(
      fc.property(withPredictiveArb, (input) => {
        const d = decide(input);
        if (d.verdict !== 'resize') return;
        const current = d.currentBytes as bigint;
        const next = d.newBytes as bigint;
        expect(next).toBeGreaterThan(current);
        const limit = input.policy.expansion.limitBytes;
        if (limit !== undefined) expect(next).toBeLessThanOrEqual(limit);
        const step = checkOfTrace(d, 'new-size')?.inputs['predictiveStep'];
        if (typeof step === 'string' && !d.warnings.some((w) => w.code === 'capped-at-limit')) {
          const { minStepBytes, maxStepBytes } = input.policy.expansion;
          expect(next - current).toBeGreaterThanOrEqual(minStepBytes);
          if (input.policy.expansion.step.kind === 'percent') expect(next - current).toBeLessThan(maxStepBytes + MiB);
        }
      }),
      RUNS,
    );
  });

  it('never more resizes than maxActionsPerDay in any 24 h, whatever the forecast says, pass after pass', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 400 }),
        (max, everyMin, passes) => {
          let size = 100n * GiB;
          let ledger: Ledger = { entries: [] };
          const p = enabledPolicy((x) => {
            x.strategy.maxActionsPerDay = max;
            x.triggers.predictive = { horizonMs: 24 * HOUR, windowMs: HOUR, minSamples: 3 };
          });
          const times: number[] = [];
          for (let i = 0; i < passes; i++) {
            const at = NOW + i * everyMin * 60 * SECOND;
            // steep growth: the forecast always says full within the horizon
            const used = size / 2n;
            const history = [0, 1, 2, 3].map((k) => ({
              at: at - (3 - k) * 20 * 60 * SECOND,
              usedBytes: used - BigInt(3 - k) * GiB,
              availableBytes: size - used,
            }));
            const d = decide({
              volume: volume('data'),
              cluster: {
                namespace: 'db',
                name: 'pg',
                singleVolume: false,
                tablespaces: [],
                archiving: { configured: true },
              },
              policy: p,
              pvc: boundPvc(size),
              filesystem: fs(size, used),
              ledger,
              usageHistory: history,
              now: at,
            });
            if (d.verdict === 'resize') {
              ledger = addLedgerEntry(
                ledger,
                { at: iso(at), fromBytes: size, toBytes: d.newBytes as bigint, by: 'engine' },
                at,
              );
              size = d.newBytes as bigint;
              times.push(at);
            }
          }
          for (const t of times) expect(times.filter((u) => u <= t && t - u < DAY).length).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a flat trace with noise never fires the forecast (only the threshold could)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 300 }),
        fc.integer({ min: 1, max: 512 }),
        fc.bigInt({ min: 1n, max: 1000n }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom(HOUR, 3 * HOUR, 24 * HOUR, 7 * 24 * HOUR),
        (n, noiseMiB, sizeGiB, seed, horizonMs) => {
          const size = sizeGiB * GiB;
          const base = size / 2n;
          // independent noise per sample, uniform in ±noiseMiB (a seeded LCG: fast-check gives the seed)
          let s = seed >>> 0;
          const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
          const history = Array.from({ length: n }, (_, i) => ({
            at: NOW - (n - 1 - i) * 60 * SECOND,
            usedBytes: base + BigInt(Math.round(rand() * noiseMiB)) * MiB,
            availableBytes: size - base,
          }));
          const d = decide({
            volume: volume('data'),
            cluster: {
              namespace: 'db',
              name: 'pg',
              singleVolume: false,
              tablespaces: [],
              archiving: { configured: true },
            },
            policy: enabledPolicy((x) => {
              x.triggers.usageThreshold = 99;
              x.triggers.predictive = { horizonMs, windowMs: n * 60 * SECOND, minSamples: 12 };
            }),
            pvc: boundPvc(size),
            filesystem: fs(size, base),
            ledger: { entries: [] },
            usageHistory: history,
            now: NOW,
          });
          expect(d.verdict).toBe('none');
          expect(checkOfTrace(d, 'trigger')?.inputs['predictive']).not.toBe('fires');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('WAL piling up during an archive outage is never turned into a resize: the WAL-safety block wins', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 300 }),
        fc.integer({ min: 12, max: 120 }),
        fc.constantFrom('unhealthy', 'never-archived'),
        (perMinMiB, n, how) => {
          const size = 50n * GiB;
          const used = 40n * GiB; // 80%: not above the threshold, so only the forecast can fire
          const history = Array.from({ length: n }, (_, i) => ({
            at: NOW - (n - 1 - i) * 60 * SECOND,
            usedBytes: used - BigInt((n - 1 - i) * perMinMiB) * MiB,
            availableBytes: size - used,
          }));
          const d = decide({
            volume: volume('wal'),
            cluster: {
              namespace: 'db',
              name: 'pg',
              singleVolume: false,
              tablespaces: [],
              archiving: { configured: true },
            },
            policy: enabledPolicy((x) => {
              x.triggers.predictive = { horizonMs: 7 * 24 * HOUR, windowMs: n * 60 * SECOND, minSamples: 12 };
            }),
            pvc: boundPvc(size),
            filesystem: fs(size, used),
            ledger: { entries: [] },
            walHealth: {
              instance: 'pg-1',
              archivingConfigured: true,
              archiver:
                how === 'unhealthy'
                  ? {
                      archivedCount: 5,
                      failedCount: 9,
                      lastArchivedTime: iso(NOW - DAY),
                      lastFailedTime: iso(NOW - 60 * SECOND),
                    }
                  : { archivedCount: 0, failedCount: 9, lastFailedTime: iso(NOW - 60 * SECOND) },
              readyFiles: 5,
            },
            usageHistory: history,
            now: NOW,
          });
          expect(d.verdict).not.toBe('resize');
          // the forecast fired (the history grows steeply) and WAL safety stopped it
          expect(checkOfTrace(d, 'trigger')?.inputs['predictive']).toBe('fires');
          expect(d.verdict).toBe('blocked');
          expect(d.reason).toBe('archive-unhealthy');
        },
      ),
      { numRuns: 300 },
    );
  });
});

function checkOfTrace(d: { trace: { check: string; inputs: Record<string, unknown> }[] }, check: string) {
  return d.trace.find((t) => t.check === check);
}

describe('percentUsed and the usage trigger: doubles where safe, the exact BigInt result always', () => {
  const exactPct = (u: bigint, a: bigint) => (u + a <= 0n ? 0 : Number((u * 1_000_000n) / (u + a)) / 10_000);
  const figures = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 40n }),
    fc.bigInt({ min: 0n, max: 2n ** 53n }),
    fc.bigInt({ min: 0n, max: 2n ** 70n }),
    fc.constantFrom(0n, 1n, 1_000_000n, 2n ** 53n - 1n),
  );
  it('percentUsed equals the exact formula, boundaries included', () => {
    fc.assert(
      fc.property(figures, figures, (u, a) => {
        expect(percentUsed({ usedBytes: u, availableBytes: a })).toBe(exactPct(u, a));
      }),
      { numRuns: 5000 },
    );
    // on a ten-thousandth of a percent, and a byte either side (the digit-by-digit division decides these)
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 49n / 1_000_000n }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom(-1n, 0n, 1n),
        (m, k, nudge) => {
          const u = m * BigInt(k) + (k > 0 ? nudge : 0n);
          const a = m * BigInt(1_000_000 - k);
          expect(percentUsed({ usedBytes: u, availableBytes: a })).toBe(exactPct(u, a));
        },
      ),
      { numRuns: 5000 },
    );
    // exactly on a ten-thousandth: 1 of 3 is 33.3333%, 1 of 8 is 12.5%
    expect(percentUsed({ usedBytes: 1n, availableBytes: 7n })).toBe(12.5);
    expect(percentUsed({ usedBytes: 1n, availableBytes: 2n })).toBe(33.3333);
  });
  it('the threshold fires exactly when used × 100 > threshold × (used + available)', () => {
    fc.assert(
      fc.property(
        figures,
        figures,
        fc.oneof(fc.integer({ min: 1, max: 99 }), fc.double({ min: 1, max: 99, noNaN: true })),
        (u, a, threshold) => {
          fc.pre(u + a > 0n);
          const t = BigInt(Math.round(threshold * 1_000_000));
          const exact = u * 100_000_000n > t * (u + a);
          const d = decide({
            volume: volume('data'),
            cluster: {
              namespace: 'db',
              name: 'pg',
              singleVolume: false,
              tablespaces: [],
              archiving: { configured: true },
            },
            policy: enabledPolicy((p) => (p.triggers.usageThreshold = threshold)),
            pvc: boundPvc(u + a),
            filesystem: fs(u + a, u, a),
            ledger: { entries: [] },
            now: NOW,
          });
          expect(d.trace.find((x) => x.check === 'trigger')?.outcome).toBe(exact ? 'pass' : 'stop');
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('the predictive step', () => {
  // 100 GiB, 50 GiB used, growing 2 GiB/h (a clean line over 2 h, 13 samples), 24 h horizon? no: 12 h
  const size = 100n * GiB;
  const used = 50n * GiB;
  const history = Array.from({ length: 13 }, (_, i) => ({
    at: NOW - (12 - i) * 10 * 60 * SECOND,
    usedBytes: used - BigInt(12 - i) * (GiB / 3n), // 1/3 GiB per 10 minutes: 2 GiB/h
    availableBytes: size - used,
  }));
  const input = (entries: number): DecisionInput => ({
    volume: volume('data'),
    cluster: { namespace: 'db', name: 'pg', singleVolume: false, tablespaces: [], archiving: { configured: true } },
    policy: enabledPolicy((p) => {
      p.triggers.usageThreshold = 95;
      p.triggers.predictive = { horizonMs: 30 * HOUR, windowMs: 2 * HOUR, minSamples: 12 };
    }),
    pvc: boundPvc(size),
    filesystem: fs(size, used),
    ledger: {
      entries: Array.from({ length: entries }, (_, k) => ({
        at: iso(NOW - (20 - k) * HOUR),
        fromBytes: GiB,
        toBytes: 2n * GiB,
        by: 'engine' as const,
      })),
    },
    usageHistory: history,
    now: NOW,
  });
  it('covers the growth over the horizon, leaving the volume at the threshold: ⌈(used + slope × horizon) / 95%⌉', () => {
    const d = decide(input(0));
    expect(d.verdict).toBe('resize');
    // 50 GiB + 2 GiB/h × 30 h = 110 GiB at the horizon; / 0.95, rounded up to a MiB
    const target = (110n * GiB * 100n + 94n) / 95n;
    expect(d.newBytes).toBe(roundUpTo(target, MiB));
  });
  it('with the last slot of the budget, covers the growth until a slot opens again when that is longer', () => {
    // 2 of 3 used, the oldest 20 h ago: the next slot opens in 4 h, shorter than the 30 h horizon
    expect(decide(input(2)).newBytes).toBe(decide(input(0)).newBytes);
    const lastSlot = decide({
      ...input(0),
      policy: { ...input(0).policy, strategy: { ...input(0).policy.strategy, maxActionsPerDay: 1 } },
    });
    // no entry: the slot opens 24 h after this resize, shorter than 30 h: the horizon wins
    expect(lastSlot.newBytes).toBe(decide(input(0)).newBytes);
    const shortHorizon = (entries: number, max: number) =>
      decide({
        ...input(entries),
        policy: enabledPolicy((p) => {
          p.triggers.usageThreshold = 95;
          p.strategy.maxActionsPerDay = max;
          // 97% is above the threshold too: a 1% step, so the predictive one is the larger
          p.expansion.step = { kind: 'percent', basisPoints: 100 };
          p.expansion.minStepBytes = MiB;
          p.triggers.predictive = { horizonMs: 2 * HOUR, windowMs: 2 * HOUR, minSamples: 12 };
        }),
        filesystem: fs(size, 97n * GiB),
        usageHistory: history.map((h) => ({ ...h, usedBytes: h.usedBytes + 47n * GiB })),
      });
    // one slot left, the oldest counted resize 20 h ago: the step covers 4 h of growth, not 2
    const four = shortHorizon(2, 3);
    const two = shortHorizon(0, 3);
    expect(four.verdict).toBe('resize');
    expect(two.verdict).toBe('resize');
    const covers = (hours: bigint) => roundUpTo(((97n + 2n * hours) * GiB * 100n + 94n) / 95n, MiB);
    expect(four.newBytes).toBe(covers(4n));
    expect(two.newBytes).toBe(covers(2n));
  });
  it('the last slot covers at most two horizons: a slope fitted over a burst is not bought for a day', () => {
    // one slot a day, no entry: the slot opens in 24 h, but the step covers 2 × 2 h of growth
    const d = decide({
      ...input(0),
      policy: enabledPolicy((p) => {
        p.triggers.usageThreshold = 95;
        p.strategy.maxActionsPerDay = 1;
        p.expansion.step = { kind: 'percent', basisPoints: 100 };
        p.expansion.minStepBytes = MiB;
        p.triggers.predictive = { horizonMs: 2 * HOUR, windowMs: 2 * HOUR, minSamples: 12 };
      }),
      filesystem: fs(size, 97n * GiB),
      usageHistory: history.map((h) => ({ ...h, usedBytes: h.usedBytes + 47n * GiB })),
    });
    expect(d.verdict).toBe('resize');
    expect(d.newBytes).toBe(roundUpTo(((97n + 2n * 4n) * GiB * 100n + 94n) / 95n, MiB));
  });
});
