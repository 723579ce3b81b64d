/**
 * The decision engine, rule by rule (spec/engine.md "Decision, per PVC").
 * Boundary rows compute their expected values from the rule's formula, as the
 * Kubernetes HPA replica-calculator tests do, so a row cannot silently agree
 * with a wrong implementation.
 */
import { describe, expect, it } from 'vitest';
import {
  FS_MISMATCH_MIN_BYTES,
  FS_MISMATCH_RATIO_PERCENT,
  GiB,
  MiB,
  archiveHealthy,
  decide,
  formatBytes,
  percentUsed,
  roundUpTo,
  walSafetyApplies,
  type CheckName,
  type Decision,
  type DecisionInput,
  type PvcCondition,
} from '@cnpg-disk/core';
import {
  DAY,
  NOW,
  SECOND,
  cluster,
  engineEntry,
  fs,
  healthyWal,
  input,
  iso,
  ledgerOf,
  policy,
  pvc,
  volume,
  walInput,
} from './fixtures.js';

const TiB = 1024n * GiB;
const PiB = 1024n * TiB;

function checkOf(d: Decision, check: CheckName) {
  return d.trace.find((t) => t.check === check);
}

describe('the baseline fixture', () => {
  it('grows a 90%-full 100Gi data volume by 20% to 120Gi', () => {
    const d = decide(input());
    expect(d).toMatchObject({
      verdict: 'resize',
      currentBytes: 100n * GiB,
      newBytes: 120n * GiB,
      stepBytes: 20n * GiB,
      percentUsed: 90,
      walSafetyApplies: false,
      warnings: [],
    });
    expect(d.trace.map((t) => [t.check, t.outcome])).toEqual([
      ['enabled', 'pass'],
      ['facts', 'pass'],
      ['trigger', 'pass'],
      ['in-progress', 'pass'],
      ['budget', 'pass'],
      ['limit', 'skip'],
      ['wal-safety', 'skip'],
      ['new-size', 'pass'],
    ]);
    expect(d.message).toBe('90% used is above 80%: grow 100Gi → 120Gi');
  });
});

describe('1. enabled', () => {
  it('answers disabled, and checks nothing else', () => {
    const d = decide(input({ policy: policy((p) => (p.enabled = false)), filesystem: undefined }));
    expect(d.verdict).toBe('disabled');
    expect(d.trace).toHaveLength(1);
    expect(d.trace[0]).toMatchObject({ check: 'enabled', outcome: 'stop' });
  });
});

describe('2. facts', () => {
  it.each([
    ['no filesystem usage', { filesystem: undefined }, 'missing filesystem usage (total/used/available)'],
    ['no PVC size', { pvc: { conditions: [] } }, 'missing PVC size (request or capacity)'],
    [
      'neither',
      { filesystem: undefined, pvc: { conditions: [] } },
      'missing filesystem usage (total/used/available) and PVC size (request or capacity)',
    ],
    [
      'a negative figure',
      { filesystem: fs(100n * GiB, 90n * GiB, -1n) },
      'missing sane filesystem figures (a figure is negative)',
    ],
  ] as Array<[string, Partial<DecisionInput>, string]>)('%s → unknown with the reason', (_name, over, why) => {
    const d = decide(input(over));
    expect(d.verdict).toBe('unknown');
    expect(d.message).toBe(`cannot decide: ${why}`);
    expect(checkOf(d, 'facts')).toMatchObject({ outcome: 'stop', message: why });
  });

  it('takes the request alone when there is no capacity yet, even a request of 0', () => {
    expect(decide(input({ pvc: { requestBytes: 100n * GiB, conditions: [] } })).currentBytes).toBe(100n * GiB);
    expect(decide(input({ pvc: { requestBytes: 0n, conditions: [] } })).currentBytes).toBe(0n);
    expect(decide(input({ pvc: { capacityBytes: 7n * GiB, conditions: [] } })).currentBytes).toBe(7n * GiB);
  });
});

describe("2–3. CloudNativePG's WAL-disk-full exit (code 4) as the fact", () => {
  // The instance is down: no statfs, no WAL health. The pod status still
  // says why it is down (spec: "When the WAL disk is full, the instance exits
  // with code 4"), and that is what a rescue acts on.
  const exhausted = { exitedAt: iso(NOW - 30 * SECOND), restarts: 7 };
  const down = { filesystem: undefined, walHealth: undefined, walSpaceExhausted: exhausted };

  it('an unmeasured wal volume is taken as full: resize, with the fact and the fail-open in the trace', () => {
    const d = decide(walInput({ ...down, pvc: pvc(128n * MiB) }));
    expect(d.verdict).toBe('resize');
    expect(d.newBytes).toBe(128n * MiB + 2n * GiB); // 20% of 128Mi is below minStep 2Gi
    expect(d.percentUsed).toBeUndefined();
    const why = `CloudNativePG's instance manager exited with code 4 at ${exhausted.exitedAt}: less than one WAL segment free`;
    expect(d.message).toBe(`${why}: grow 128Mi → 2176Mi`);
    expect(checkOf(d, 'facts')).toMatchObject({
      outcome: 'warn',
      inputs: { filesystem: null, walSpaceExhausted: true, exitedAt: exhausted.exitedAt, restarts: 7 },
      message: `no source measured this filesystem; ${why}, so the volume is taken as full`,
    });
    expect(checkOf(d, 'trigger')).toMatchObject({
      outcome: 'pass',
      inputs: { percentUsed: null, available: null, walSpaceExhausted: true },
      message: why,
    });
    expect(checkOf(d, 'in-progress')).toMatchObject({ outcome: 'pass', inputs: { filesystemTotal: null } });
    expect(d.warnings.map((w) => w.code)).toEqual(['filesystem-unmeasured', 'wal-health-unavailable']);
  });

  it('also holds for the data volume of a single-volume cluster (pg_wal lives there)', () => {
    const p = policy((x) => (x.strategy.walSafetyPolicy.acknowledgeWALRisk = true));
    const d = decide(input({ ...down, policy: p, cluster: cluster({ singleVolume: true }) }));
    expect(d.verdict).toBe('resize');
  });

  it('says nothing about volumes that do not hold pg_wal: they stay unknown', () => {
    expect(decide(input(down)).verdict).toBe('unknown'); // data volume, separate WAL
    expect(decide(input({ ...down, volume: volume('tablespace', 'pg-1', 'tbs1') })).verdict).toBe('unknown');
  });

  it('without an exit time the message says only what is known', () => {
    const d = decide(walInput({ ...down, walSpaceExhausted: {} }));
    expect(d.message).toMatch(
      /^CloudNativePG's instance manager exited with code 4: less than one WAL segment free: grow/,
    );
  });

  it('fires the trigger even when a measurement says the volume is below the threshold', () => {
    // 128Mi with 20Mi free is 84% used: below a threshold of 90, yet CloudNativePG
    // refuses to start PostgreSQL on it (it wants one free segment after recovery).
    const p = policy((x) => (x.triggers.usageThreshold = 90));
    const d = decide(
      walInput({
        policy: p,
        pvc: pvc(128n * MiB),
        filesystem: fs(128n * MiB, 108n * MiB),
        walSpaceExhausted: exhausted,
      }),
    );
    expect(d.verdict).toBe('resize');
    expect(checkOf(d, 'facts')?.outcome).toBe('pass');
    expect(d.warnings.map((w) => w.code)).not.toContain('filesystem-unmeasured');
    expect(checkOf(d, 'trigger')?.message).toMatch(/^CloudNativePG's instance manager exited with code 4/);
    // and without the fact the same figures do not fire
    expect(decide(walInput({ policy: p, pvc: pvc(128n * MiB), filesystem: fs(128n * MiB, 108n * MiB) })).verdict).toBe(
      'none',
    );
  });

  it('does not bypass the later checks: budget, limit, in-progress and WAL safety still hold', () => {
    const spent = ledgerOf(engineEntry(NOW - 3_600_000), engineEntry(NOW - 7_200_000), engineEntry(NOW - 10_800_000));
    expect(decide(walInput({ ...down, ledger: spent })).reason).toBe('rate-limit');
    const limited = policy((x) => (x.expansion.limitBytes = 100n * GiB));
    expect(decide(walInput({ ...down, policy: limited })).verdict).toBe('at-limit');
    expect(decide(walInput({ ...down, pvc: pvc(100n * GiB, { requestBytes: 120n * GiB }) })).verdict).toBe(
      'resize-in-progress',
    );
    const failing = healthyWal('pg-1', {
      archiver: { archivedCount: 0, failedCount: 3, lastFailedTime: iso(NOW - 60_000), lastFailedWal: 'X' },
    });
    expect(decide(walInput({ ...down, walHealth: failing })).reason).toBe('archive-unhealthy');
  });

  it('still needs a PVC size', () => {
    const d = decide(walInput({ ...down, pvc: { conditions: [] } }));
    expect(d.verdict).toBe('unknown');
    expect(d.message).toBe('cannot decide: missing PVC size (request or capacity)');
  });
});

describe('3. trigger', () => {
  // used / (used + available) × 100 > threshold, exactly.
  const totals = [100n * GiB, 1000n * GiB + 300n, 10n * PiB];
  const rows = [1, 50, 79, 80, 99].flatMap((threshold) =>
    totals.map((denom) => {
      // The largest used that is not above the threshold: floor(threshold × denom / 100).
      const atThreshold = (BigInt(threshold) * denom) / 100n;
      return { threshold, denom, atThreshold };
    }),
  );

  it.each(rows)(
    'threshold $threshold% on $denom bytes: used = floor(t × d / 100) does not fire, one byte more does',
    ({ threshold, denom, atThreshold }) => {
      const p = policy((x) => (x.triggers.usageThreshold = threshold));
      const at = decide(input({ policy: p, pvc: pvc(denom), filesystem: fs(denom, atThreshold, denom - atThreshold) }));
      expect(at.verdict).toBe('none');
      expect(checkOf(at, 'trigger')?.outcome).toBe('stop');
      const over = decide(
        input({ policy: p, pvc: pvc(denom), filesystem: fs(denom, atThreshold + 1n, denom - atThreshold - 1n) }),
      );
      expect(over.verdict).toBe('resize');
      expect(checkOf(over, 'trigger')?.outcome).toBe('pass');
    },
  );

  it('exactly at the threshold is not above it, and says so', () => {
    const d = decide(input({ filesystem: fs(100n * GiB, 80n * GiB) }));
    expect(d.verdict).toBe('none');
    expect(d.message).toBe('no resize needed: 80% used is not above 80%');
  });

  it('excludes root-reserved blocks like df: 76 used + 19 available (5 reserved) is 80%, not above', () => {
    const d = decide(input({ filesystem: fs(100n * GiB, 76n * GiB, 19n * GiB) }));
    expect(d.percentUsed).toBe(80);
    expect(d.verdict).toBe('none');
    // One more GiB used: 77 / 95 = 81.05%.
    expect(decide(input({ filesystem: fs(100n * GiB, 77n * GiB, 18n * GiB) })).verdict).toBe('resize');
  });

  it('accepts a fractional threshold exactly', () => {
    const p = policy((x) => (x.triggers.usageThreshold = 80.5));
    expect(decide(input({ policy: p, filesystem: fs(1000n, 805n) })).verdict).toBe('none');
    expect(decide(input({ policy: p, pvc: pvc(1000n), filesystem: fs(1000n, 806n) })).verdict).toBe('resize');
  });

  describe('minAvailable', () => {
    const p = policy((x) => {
      x.triggers.usageThreshold = 99;
      x.triggers.minAvailableBytes = 5n * GiB;
    });
    it('exactly equal is not below', () => {
      const d = decide(input({ policy: p, filesystem: fs(100n * GiB, 95n * GiB) }));
      expect(d.verdict).toBe('none');
      expect(d.message).toBe('no resize needed: 95% used is not above 99% and 5Gi available is not below 5Gi');
    });
    it('one byte less fires on its own (usage is far below the threshold)', () => {
      const d = decide(input({ policy: p, filesystem: fs(100n * GiB, 95n * GiB + 1n) }));
      expect(d.verdict).toBe('resize');
      expect(checkOf(d, 'trigger')?.message).toBe(`${formatBytes(5n * GiB - 1n)} available is below 5Gi`);
    });
    it('names both reasons when both fire', () => {
      const both = policy((x) => (x.triggers.minAvailableBytes = 20n * GiB));
      expect(checkOf(decide(input({ policy: both })), 'trigger')?.message).toBe(
        '90% used is above 80% and 10Gi available is below 20Gi',
      );
    });
  });

  it('an empty filesystem with nothing available is 0% used and does not fire on percent', () => {
    expect(percentUsed({ usedBytes: 0n, availableBytes: 0n })).toBe(0);
    expect(decide(input({ filesystem: fs(0n, 0n, 0n) })).verdict).toBe('none');
  });
});

describe('4. resize already in progress or failed', () => {
  const cond = (type: string, status = 'True', extra: Partial<PvcCondition> = {}): PvcCondition => ({
    type,
    status,
    ...extra,
  });

  it('request above capacity is an unfinished expansion, never a second resize', () => {
    const d = decide(input({ pvc: pvc(100n * GiB, { requestBytes: 120n * GiB }) }));
    expect(d.verdict).toBe('resize-in-progress');
    expect(d.message).toBe('an expansion has not finished: request 120Gi is above capacity 100Gi');
    expect(d.newBytes).toBeUndefined();
  });

  it.each(['Resizing', 'FileSystemResizePending'])('condition %s=True is in progress', (type) => {
    const d = decide(input({ pvc: pvc(100n * GiB, { conditions: [cond(type, 'True', { message: 'waiting' })] }) }));
    expect(d.verdict).toBe('resize-in-progress');
    expect(d.message).toBe(`an expansion has not finished: condition ${type}: waiting`);
  });

  it('a condition without a message still names the condition', () => {
    const d = decide(input({ pvc: pvc(100n * GiB, { conditions: [cond('Resizing')] }) }));
    expect(d.message).toBe('an expansion has not finished: condition Resizing');
  });

  it.each(['Resizing', 'FileSystemResizePending', 'ControllerResizeError'])('condition %s=False is ignored', (type) => {
    expect(decide(input({ pvc: pvc(100n * GiB, { conditions: [cond(type, 'False')] }) })).verdict).toBe('resize');
  });

  it.each(['ControllerResizeInProgress', 'NodeResizePending', 'NodeResizeInProgress'])(
    'allocatedResourceStatuses %s is in progress',
    (status) => {
      const d = decide(input({ pvc: pvc(100n * GiB, { allocatedResourceStatus: status }) }));
      expect(d.verdict).toBe('resize-in-progress');
      expect(d.message).toContain(`status.allocatedResourceStatuses.storage is ${status}`);
    },
  );

  it.each(['ControllerResizeInfeasible', 'NodeResizeInfeasible', 'ControllerResizeFailed', 'NodeResizeFailed'])(
    'allocatedResourceStatuses %s is a failed expansion',
    (status) => {
      const d = decide(input({ pvc: pvc(100n * GiB, { allocatedResourceStatus: status }) }));
      expect(d.verdict).toBe('resize-failed');
      expect(d.message).toBe(
        `the last expansion failed (status.allocatedResourceStatuses.storage is ${status}); fix it before another resize`,
      );
    },
  );

  it.each([
    [
      'ControllerResizeError',
      { message: 'rpc error: volume modification rate exceeded' },
      'rpc error: volume modification rate exceeded',
    ],
    ['NodeResizeError', { reason: 'VolumeResizeFailed' }, 'VolumeResizeFailed'],
    ['NodeResizeError', {}, 'no message'],
  ] as Array<[string, Partial<PvcCondition>, string]>)(
    'condition %s carries its message into resize-failed',
    (type, extra, text) => {
      const d = decide(input({ pvc: pvc(100n * GiB, { conditions: [cond(type, 'True', extra)] }) }));
      expect(d.verdict).toBe('resize-failed');
      expect(d.message).toBe(`the last expansion failed (${type}: ${text}); fix it before another resize`);
      expect(checkOf(d, 'in-progress')?.inputs['condition']).toBe(type);
    },
  );

  it('a failure wins over a pending request', () => {
    const d = decide(
      input({
        pvc: pvc(100n * GiB, { requestBytes: 120n * GiB, conditions: [cond('ControllerResizeError', 'True')] }),
      }),
    );
    expect(d.verdict).toBe('resize-failed');
  });

  describe('a filesystem much smaller than the capacity', () => {
    const capacity = 200n * GiB;
    // The largest gap still taken as filesystem overhead: capacity × ratio / 100.
    const allowed = (capacity * FS_MISMATCH_RATIO_PERCENT) / 100n;
    const run = (total: bigint) =>
      decide(input({ pvc: pvc(capacity), filesystem: fs(total, (total * 9n) / 10n + 1n) }));

    it('a normal ext4 overhead of about 3% is not an expansion in progress', () => {
      expect(run((capacity * 97n) / 100n).verdict).toBe('resize');
    });
    it('a gap of exactly capacity × ratio is still overhead', () => {
      expect(run(capacity - allowed).verdict).toBe('resize');
    });
    it('one byte more is an unfinished filesystem expansion', () => {
      const d = run(capacity - allowed - 1n);
      expect(d.verdict).toBe('resize-in-progress');
      expect(d.message).toContain('is much smaller than capacity 200Gi (the filesystem has not been grown)');
    });
    it('half the capacity (the filesystem was never grown) is in progress', () => {
      expect(run(capacity / 2n).verdict).toBe('resize-in-progress');
    });
    it('on a small volume, a gap under the minimum is overhead whatever the ratio', () => {
      const small = 256n * MiB;
      const total = small - FS_MISMATCH_MIN_BYTES; // 25% smaller, but only 64Mi
      expect(decide(input({ pvc: pvc(small), filesystem: fs(total, total - 1n) })).verdict).toBe('resize');
      expect(decide(input({ pvc: pvc(small), filesystem: fs(total - 1n, total - 2n) })).verdict).toBe(
        'resize-in-progress',
      );
    });
  });
});

describe('5. budget', () => {
  const p = (n: number) => policy((x) => (x.strategy.maxActionsPerDay = n));

  it('counts only engine resizes inside the rolling 24 h', () => {
    const ledger = ledgerOf(
      engineEntry(NOW - 1 * 3600 * SECOND),
      engineEntry(NOW - 2 * 3600 * SECOND),
      { ...engineEntry(NOW - 3 * 3600 * SECOND), by: 'manual' },
      engineEntry(NOW - DAY - 1),
    );
    const d = decide(input({ ledger }));
    expect(d.budget).toMatchObject({ max: 3, used: 2, remaining: 1 });
    expect(d.verdict).toBe('resize');
    expect(checkOf(d, 'budget')?.message).toBe('1 of 3 resizes left in the last 24 h');
  });

  it('exhausted → blocked/rate-limit with the time the next slot opens', () => {
    const oldest = NOW - 20 * 3600 * SECOND;
    const ledger = ledgerOf(engineEntry(NOW - 60 * SECOND), engineEntry(oldest), engineEntry(NOW - 3600 * SECOND));
    const d = decide(input({ ledger }));
    expect(d).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
    expect(d.budget.nextSlotAt).toBe(iso(oldest + DAY));
    expect(d.message).toBe(
      `rate limit: 3 of 3 resizes used in the last 24 h; the next slot opens at ${iso(oldest + DAY)}`,
    );
  });

  it('an entry exactly 24 h old is outside the window', () => {
    const ledger = ledgerOf(engineEntry(NOW - DAY), engineEntry(NOW - 10 * SECOND), engineEntry(NOW - 20 * SECOND));
    const d = decide(input({ ledger }));
    expect(d.budget.used).toBe(2);
    expect(d.verdict).toBe('resize');
  });

  it('an entry 1 ms younger is inside, and its slot opens 1 ms from now', () => {
    const ledger = ledgerOf(engineEntry(NOW - DAY + 1), engineEntry(NOW - 10 * SECOND), engineEntry(NOW - 20 * SECOND));
    const d = decide(input({ ledger }));
    expect(d.verdict).toBe('blocked');
    expect(d.budget.nextSlotAt).toBe(iso(NOW + 1));
  });

  it('with more entries than the budget (a lowered maxActionsPerDay), the slot opens when enough have left', () => {
    // 4 inside the window, max 2: a slot opens when only 1 is left, so when the third oldest leaves.
    const times = [NOW - 23 * 3600 * SECOND, NOW - 22 * 3600 * SECOND, NOW - 2 * 3600 * SECOND, NOW - 3600 * SECOND];
    const d = decide(input({ policy: p(2), ledger: ledgerOf(...times.map((t) => engineEntry(t)).reverse()) }));
    expect(d.budget).toMatchObject({ used: 4, remaining: 0, nextSlotAt: iso((times[2] as number) + DAY) });
  });

  it('maxActionsPerDay 0 never resizes, and warns', () => {
    const d = decide(input({ policy: p(0) }));
    expect(d).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
    expect(d.warnings.map((w) => w.code)).toEqual(['budget-disabled']);
    expect(d.budget.nextSlotAt).toBeUndefined();
  });

  it('maxActionsPerDay 10: the 10th resize of the day is allowed, the 11th is not', () => {
    const nine = Array.from({ length: 9 }, (_, i) => engineEntry(NOW - (i + 1) * 3600 * SECOND));
    expect(decide(input({ policy: p(10), ledger: ledgerOf(...nine) })).verdict).toBe('resize');
    const ten = [...nine, engineEntry(NOW - 10 * 3600 * SECOND)];
    const d = decide(input({ policy: p(10), ledger: ledgerOf(...ten) }));
    expect(d).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
    expect(d.budget.nextSlotAt).toBe(iso(NOW - 10 * 3600 * SECOND + DAY));
  });

  it('a corrupt ledger blocks with ledger-unreadable: it must never refill the budget', () => {
    const d = decide(input({ ledger: { entries: [], corrupt: 'the annotation is not valid JSON' } }));
    expect(d).toMatchObject({ verdict: 'blocked', reason: 'ledger-unreadable' });
    expect(d.message).toBe(
      'the resize ledger cannot be read (the annotation is not valid JSON); no budget is spent until it is repaired or removed',
    );
  });

  it('counts an entry in the future and warns about it', () => {
    const d = decide(input({ ledger: ledgerOf(engineEntry(NOW + 3600 * SECOND)) }));
    expect(d.budget.used).toBe(1);
    expect(d.warnings.map((w) => w.code)).toEqual(['ledger-future-entry']);
    expect(d.verdict).toBe('resize');
  });
});

describe('6. limit', () => {
  const withLimit = (limit: bigint) => policy((x) => (x.expansion.limitBytes = limit));

  it('exactly the limit is at-limit', () => {
    const d = decide(input({ policy: withLimit(100n * GiB) }));
    expect(d.verdict).toBe('at-limit');
    expect(d.message).toBe('current size 100Gi is at or above the limit 100Gi');
  });
  it('above the limit (grown by hand) is at-limit', () => {
    expect(decide(input({ policy: withLimit(50n * GiB) })).verdict).toBe('at-limit');
  });
  it('one byte below: grows to the limit and warns that it was capped', () => {
    const limit = 100n * GiB + 1n;
    const d = decide(input({ policy: withLimit(limit) }));
    expect(d).toMatchObject({ verdict: 'resize', newBytes: limit, stepBytes: 1n });
    expect(d.warnings.map((w) => w.code)).toEqual(['capped-at-limit']);
    expect(checkOf(d, 'new-size')?.outcome).toBe('warn');
    expect(d.message).toContain('(capped at the limit)');
  });
  it('runs after the budget: an exhausted budget is reported first', () => {
    const ledger = ledgerOf(...[1, 2, 3].map((h) => engineEntry(NOW - h * 3600 * SECOND)));
    expect(decide(input({ policy: withLimit(100n * GiB), ledger })).verdict).toBe('blocked');
  });
});

describe('7. WAL safety', () => {
  it('applies to the wal volume and to data on single-volume clusters only', () => {
    expect(walSafetyApplies(volume('wal'), cluster())).toBe(true);
    expect(walSafetyApplies(volume('data'), cluster({ singleVolume: true }))).toBe(true);
    expect(walSafetyApplies(volume('data'), cluster())).toBe(false);
    expect(walSafetyApplies(volume('tablespace', 'pg-1', 'tbs1'), cluster({ singleVolume: true }))).toBe(false);
  });

  it('is skipped for a tablespace, whatever the WAL health', () => {
    const d = decide(
      input({
        volume: volume('tablespace', 'pg-1', 'tbs1'),
        walHealth: healthyWal('pg-1', { readyFiles: 100000 }),
      }),
    );
    expect(d.verdict).toBe('resize');
    expect(checkOf(d, 'wal-safety')?.outcome).toBe('skip');
  });

  it('passes a healthy wal volume and says what it checked', () => {
    const d = decide(walInput());
    expect(d.verdict).toBe('resize');
    expect(d.walSafetyApplies).toBe(true);
    const step = checkOf(d, 'wal-safety');
    expect(step?.outcome).toBe('pass');
    expect(step?.message).toContain('archive healthy');
    expect(step?.message).toContain('0 .ready files (max 100)');
  });

  describe('single-volume data', () => {
    const single = cluster({ singleVolume: true });
    it('without acknowledgement → blocked/wal-risk-not-acknowledged', () => {
      const d = decide(input({ cluster: single }));
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'wal-risk-not-acknowledged', walSafetyApplies: true });
    });
    it('with acknowledgement → the WAL checks run on it', () => {
      const ack = policy((x) => (x.strategy.walSafetyPolicy.acknowledgeWALRisk = true));
      expect(decide(input({ cluster: single, policy: ack })).verdict).toBe('resize');
      expect(
        decide(input({ cluster: single, policy: ack, walHealth: healthyWal('pg-1', { readyFiles: 101 }) })).reason,
      ).toBe('pending-wal');
    });
  });

  it('no WAL health data → allowed, with a visible warning (fail-open)', () => {
    const d = decide(walInput({ walHealth: undefined }));
    expect(d.verdict).toBe('resize');
    expect(d.warnings.map((w) => w.code)).toEqual(['wal-health-unavailable']);
    expect(d.warnings[0]?.message).toContain('fail-open');
    expect(checkOf(d, 'wal-safety')?.outcome).toBe('warn');
  });

  describe('archive health', () => {
    const archiver = (ok?: number, failed?: number) => ({
      archivedCount: ok === undefined ? 0 : 10,
      failedCount: failed === undefined ? 0 : 1,
      lastArchivedWal: 'A',
      lastFailedWal: 'F',
      ...(ok !== undefined ? { lastArchivedTime: iso(ok) } : {}),
      ...(failed !== undefined ? { lastFailedTime: iso(failed) } : {}),
    });
    const run = (a: ReturnType<typeof archiver>, edit?: Parameters<typeof policy>[0]) =>
      decide(walInput({ walHealth: healthyWal('pg-1', { archiver: a }), ...(edit ? { policy: policy(edit) } : {}) }));

    it('equal success and failure times are healthy', () => {
      expect(run(archiver(NOW - 60_000, NOW - 60_000)).verdict).toBe('resize');
    });
    it('a failure 1 ms after the last success is unhealthy', () => {
      const d = run(archiver(NOW - 60_000, NOW - 59_999));
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'archive-unhealthy' });
      expect(d.message).toContain('is later than the last success');
    });
    it('a failure before the last success is healthy', () => {
      expect(run(archiver(NOW - 1000, NOW - 60_000)).verdict).toBe('resize');
    });
    it('never archived is unhealthy', () => {
      const d = run(archiver());
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'archive-unhealthy' });
      expect(d.message).toBe('WAL archiving is unhealthy on pg-1: no WAL has ever been archived');
    });
    it('failed and never succeeded is unhealthy, with the failure', () => {
      const d = run(archiver(undefined, NOW - 1000));
      expect(d.message).toContain('archiving has failed (F at');
      expect(d.message).toContain('and never succeeded');
    });
    it('requireArchiveHealthy: false lets an unhealthy archive through', () => {
      const d = run(archiver(), (x) => (x.strategy.walSafetyPolicy.requireArchiveHealthy = false));
      expect(d.verdict).toBe('resize');
      expect(checkOf(d, 'wal-safety')?.message).toContain('requireArchiveHealthy is off');
    });
    it('archiving not configured: the check is skipped, and the decision says so', () => {
      const d = decide(
        walInput({
          cluster: cluster({ archiving: { configured: false } }),
          walHealth: healthyWal('pg-1', { archiver: archiver() }),
        }),
      );
      expect(d.verdict).toBe('resize');
      expect(d.warnings.map((w) => w.code)).toEqual(['archive-not-configured']);
      expect(checkOf(d, 'wal-safety')?.message).toContain('archiving not configured, archive check skipped');
    });
    it("when the cluster shape cannot tell, the instance's own archive settings decide", () => {
      const d = decide(
        walInput({
          cluster: cluster({ archiving: { configured: undefined } }),
          walHealth: healthyWal('pg-1', { archivingConfigured: false, archiver: archiver() }),
        }),
      );
      expect(d.verdict).toBe('resize');
      expect(d.warnings.map((w) => w.code)).toEqual(['archive-not-configured']);
    });
    it('archiving that nobody can tell about is judged as configured: the archive check runs', () => {
      const h = healthyWal('pg-1', { archiver: archiver() });
      delete h.archivingConfigured;
      const d = decide(walInput({ cluster: cluster({ archiving: { configured: undefined } }), walHealth: h }));
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'archive-unhealthy' });
      const ok = decide(
        walInput({
          cluster: cluster({ archiving: { configured: undefined } }),
          walHealth: { ...h, archiver: archiver(NOW) },
        }),
      );
      expect(checkOf(ok, 'wal-safety')?.inputs['archivingConfigured']).toBeNull();
      expect(ok.verdict).toBe('resize');
    });
    it('archiver statistics missing: skipped with a warning (fail-open)', () => {
      const health = healthyWal('pg-1');
      delete health.archiver;
      const d = decide(walInput({ walHealth: health }));
      expect(d.verdict).toBe('resize');
      expect(d.warnings.map((w) => w.code)).toEqual(['archive-facts-missing']);
      expect(checkOf(d, 'wal-safety')?.outcome).toBe('warn');
    });
    it('an unparsable success time counts as never archived', () => {
      expect(archiveHealthy({ archivedCount: 1, failedCount: 0, lastArchivedTime: 'yesterday' }).healthy).toBe(false);
      expect(
        archiveHealthy({ archivedCount: 1, failedCount: 1, lastArchivedTime: iso(NOW), lastFailedTime: 'soon' })
          .healthy,
      ).toBe(true);
    });
    it('names unknown WALs when the archiver does not', () => {
      expect(archiveHealthy({ archivedCount: 0, failedCount: 1, lastFailedTime: iso(NOW) }).why).toContain(
        'unknown WAL',
      );
      expect(
        archiveHealthy({ archivedCount: 1, failedCount: 1, lastArchivedTime: iso(NOW - 1), lastFailedTime: iso(NOW) })
          .why,
      ).toContain('(unknown WAL at');
      expect(archiveHealthy({ archivedCount: 1, failedCount: 0, lastArchivedTime: iso(NOW) }).why).toBe(
        `last archived WAL at ${iso(NOW)}`,
      );
    });
  });

  describe('pending .ready files', () => {
    const run = (ready: number | undefined, max = 100) => {
      const h = healthyWal('pg-1');
      if (ready === undefined) delete h.readyFiles;
      else h.readyFiles = ready;
      return decide(
        walInput({ walHealth: h, policy: policy((x) => (x.strategy.walSafetyPolicy.maxPendingWALFiles = max)) }),
      );
    };
    it('exactly the maximum passes', () => expect(run(100).verdict).toBe('resize'));
    it('one more blocks with pending-wal', () => {
      const d = run(101);
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'pending-wal' });
      expect(d.message).toBe('101 WAL files wait to be archived on pg-1, more than 100');
    });
    it('0 disables the check', () => expect(run(1_000_000, 0).verdict).toBe('resize'));
    it('an unknown backlog is skipped with a warning', () => {
      const d = run(undefined);
      expect(d.verdict).toBe('resize');
      expect(d.warnings.map((w) => w.code)).toEqual(['pending-wal-unknown']);
    });
  });

  describe('inactive slots', () => {
    const max = 10n * GiB;
    const slotPolicy = policy((x) => (x.strategy.walSafetyPolicy.maxSlotRetentionBytes = max));
    const slot = (name: string, active: boolean, retainedBytes?: bigint) => ({
      name,
      type: 'physical' as const,
      active,
      ...(retainedBytes !== undefined ? { retainedBytes } : {}),
    });
    const run = (slots: ReturnType<typeof slot>[] | undefined, instance = 'pg-1', p = slotPolicy) => {
      const h = healthyWal(instance);
      if (slots === undefined) delete h.slots;
      else h.slots = slots;
      return decide(walInput({ volume: volume('wal', instance), walHealth: h, policy: p }));
    };

    it('an inactive slot retaining exactly the maximum passes', () => {
      expect(run([slot('s', false, max)]).verdict).toBe('resize');
    });
    it('one byte more blocks with slot-retention, naming the slot', () => {
      const d = run([slot('ok', false, 1n), slot('old_standby', false, max + 1n)]);
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'slot-retention' });
      expect(d.message).toBe(`inactive slot old_standby on pg-1 retains ${formatBytes(max + 1n)}, more than 10Gi`);
    });
    it('an active slot is not judged, nor one whose retention is unknown', () => {
      expect(run([slot('busy', true, 100n * max), slot('new', false)]).verdict).toBe('resize');
    });
    it('0 disables the check', () => {
      expect(run([slot('s', false, 100n * max)], 'pg-1', policy()).verdict).toBe('resize');
    });
    it('unknown slots are skipped with a warning', () => {
      const d = run(undefined);
      expect(d.verdict).toBe('resize');
      expect(d.warnings.map((w) => w.code)).toEqual(['slots-unknown']);
    });
    it('a replica is judged on its own slots', () => {
      // pg-2 is a replica with its own inactive slot over the limit: blocked, on pg-2.
      const d = run([slot('cascade', false, max + 1n)], 'pg-2');
      expect(d).toMatchObject({ verdict: 'blocked', reason: 'slot-retention' });
      expect(d.message).toContain('on pg-2');
      // The same replica with clean slots resizes, whatever the primary holds.
      expect(run([], 'pg-2').verdict).toBe('resize');
    });
    it("another instance's WAL health is not used for this one", () => {
      const primary = healthyWal('pg-1', { slots: [slot('old', false, max + 1n)] });
      const d = decide(walInput({ volume: volume('wal', 'pg-2'), walHealth: primary, policy: slotPolicy }));
      expect(d.verdict).toBe('resize');
      expect(d.warnings.map((w) => w.code)).toEqual(['wal-health-unavailable']);
      expect(d.warnings[0]?.message).toContain('the WAL health given is for pg-1, not pg-2');
    });
  });

  it('checks in the order of the spec: acknowledgement, archive, pending, slots', () => {
    const all = healthyWal('pg-1', {
      archiver: { archivedCount: 0, failedCount: 0 },
      readyFiles: 1000,
      slots: [{ name: 's', type: 'logical', active: false, retainedBytes: 100n * GiB }],
    });
    const p = policy((x) => (x.strategy.walSafetyPolicy.maxSlotRetentionBytes = GiB));
    const single = cluster({ singleVolume: true });
    expect(decide(input({ cluster: single, policy: p, walHealth: all })).reason).toBe('wal-risk-not-acknowledged');
    expect(decide(walInput({ policy: p, walHealth: all })).reason).toBe('archive-unhealthy');
    const archived = { ...all, archiver: healthyWal().archiver } as typeof all;
    expect(decide(walInput({ policy: p, walHealth: archived })).reason).toBe('pending-wal');
    expect(decide(walInput({ policy: p, walHealth: { ...archived, readyFiles: 0 } })).reason).toBe('slot-retention');
  });
});

describe('8. new size', () => {
  /** The spec's formula, written independently of the engine. */
  function expectedNew(current: bigint, bp: number, min: bigint, max: bigint, limit?: bigint): bigint {
    const raw = (current * BigInt(bp) + 9999n) / 10000n; // ceil(current × p / 100)
    const step = raw < min ? min : raw > max ? max : raw;
    const rounded = roundUpTo(current + step, MiB);
    return limit !== undefined && rounded > limit ? limit : rounded;
  }

  const rows: Array<{ name: string; current: bigint; bp: number; limit?: bigint }> = [
    { name: '20% of 100Gi (inside the bounds)', current: 100n * GiB, bp: 2000 },
    { name: '20% of 5Gi is below minStep 2Gi', current: 5n * GiB, bp: 2000 },
    { name: '20% of 5Ti is above maxStep 500Gi', current: 5n * TiB, bp: 2000 },
    { name: 'exactly minStep: 20% of 10Gi', current: 10n * GiB, bp: 2000 },
    { name: 'exactly maxStep: 20% of 2500Gi', current: 2500n * GiB, bp: 2000 },
    { name: '1Mi volume', current: MiB, bp: 2000 },
    { name: '10Pi volume (beyond 2^53)', current: 10n * PiB, bp: 2000 },
    { name: '100% of 1Ti', current: TiB, bp: 10000 },
    { name: '1% of an odd size (MiB rounding)', current: 1000n * GiB + 12345n, bp: 100 },
    { name: '33.33% of 7Gi+1', current: 7n * GiB + 1n, bp: 3333 },
    { name: 'capped at the limit', current: 100n * GiB, bp: 2000, limit: 110n * GiB },
    { name: 'limit not a whole MiB', current: 100n * GiB, bp: 2000, limit: 100n * GiB + 1000n },
  ];

  it.each(rows)('$name', ({ current, bp, limit }) => {
    const p = policy((x) => {
      x.expansion.step = { kind: 'percent', basisPoints: bp };
      if (limit !== undefined) x.expansion.limitBytes = limit;
    });
    const d = decide(input({ policy: p, pvc: pvc(current), filesystem: fs(current, (current * 95n) / 100n) }));
    const want = expectedNew(current, bp, 2n * GiB, 500n * GiB, limit);
    expect(d.verdict).toBe('resize');
    expect(d.newBytes).toBe(want);
    expect(d.stepBytes).toBe(want - current);
  });

  it('spot values: 5Gi → 7Gi, 5Ti → 5Ti+500Gi, 1Mi → 2Gi+1Mi, 10Pi → 10Pi+500Gi', () => {
    const grow = (current: bigint) =>
      decide(input({ pvc: pvc(current), filesystem: fs(current, (current * 95n) / 100n) })).newBytes;
    expect(grow(5n * GiB)).toBe(7n * GiB);
    expect(grow(5n * TiB)).toBe(5n * TiB + 500n * GiB);
    expect(grow(MiB)).toBe(2n * GiB + MiB);
    expect(grow(10n * PiB)).toBe(10n * PiB + 500n * GiB);
    expect(formatBytes(grow(10n * PiB) as bigint)).toBe('10486260Gi');
  });

  it('an absolute step is added as given, with no min/max bounds', () => {
    const p = policy((x) => {
      x.expansion.step = { kind: 'absolute', bytes: 1n * GiB };
      x.expansion.minStepBytes = 50n * GiB;
    });
    const d = decide(input({ policy: p }));
    expect(d.newBytes).toBe(101n * GiB);
    const step = checkOf(d, 'new-size');
    expect(step?.inputs).toMatchObject({ step: '1Gi', minStep: null, maxStep: null, stepBytes: '1Gi' });
  });

  it('an absolute step that is not a whole MiB is rounded up to one', () => {
    const p = policy((x) => (x.expansion.step = { kind: 'absolute', bytes: 1000n }));
    expect(decide(input({ policy: p })).newBytes).toBe(100n * GiB + MiB);
  });

  it('current size is the larger of request and capacity (a provisioner may round up)', () => {
    const d = decide(
      input({ pvc: pvc(105n * GiB, { requestBytes: 100n * GiB }), filesystem: fs(105n * GiB, 100n * GiB) }),
    );
    expect(d.currentBytes).toBe(105n * GiB);
    expect(d.newBytes).toBe(126n * GiB);
  });

  it('never answers resize with a size that is not larger: then none, with the reason', () => {
    // A 0-byte volume with a percentage step and minStep 0 would not grow.
    const p = policy((x) => (x.expansion.minStepBytes = 0n));
    const d = decide(input({ policy: p, pvc: pvc(0n), filesystem: fs(100n, 100n, 0n) }));
    expect(d.verdict).toBe('none');
    expect(d.message).toBe('the new size 0 would not be larger than 0');
    expect(checkOf(d, 'new-size')?.outcome).toBe('stop');
  });

  it('records the step inputs in the trace', () => {
    const step = checkOf(decide(input()), 'new-size');
    expect(step?.inputs).toEqual({
      current: '100Gi',
      step: '20%',
      minStep: '2Gi',
      maxStep: '500Gi',
      stepBytes: '20Gi',
      limit: null,
      new: '120Gi',
    });
  });
});

describe('purity', () => {
  it('the same input gives a deep-equal decision, and the input is not changed', () => {
    const a = input({ ledger: ledgerOf(engineEntry(NOW - 1000)) });
    const snapshot = structuredClone(a);
    expect(decide(a)).toEqual(decide(structuredClone(a)));
    expect(a).toEqual(snapshot);
  });
});
