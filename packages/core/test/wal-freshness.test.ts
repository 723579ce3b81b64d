import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decide,
  needsFresherWalFacts,
  parseGoDuration,
  walFactsObservedSince,
  walGateJudgesFacts,
  type DecisionInput,
} from '@cnpg-disk/core';
import { NOW, SECOND, cluster, healthyWal, iso, policy, walInput, input, volume } from './fixtures.js';

describe('parseGoDuration (Go time.ParseDuration, as metav1.Duration is written)', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    ['.5s', 500],
    ['5.s', 5000],
    ['1h2m3s4ms', 3_723_004],
    ['+2s', 2000],
    ['-2s', -2000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
  ])('%s → %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toEqual({ ok: true, ms });
  });
  it.each(['', '30', 's', '1x', '30 s', ' 30s', '1d', '-', '1.2.3s', 'x'.repeat(65), '9999999999999h'])(
    '%j is refused with the text in the message',
    (text) => {
      const r = parseGoDuration(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toContain(JSON.stringify(text.slice(0, 64)).slice(0, 10));
    },
  );
  it('reads back what it would write: whole h/m/s/ms compositions', () => {
    fc.assert(
      fc.property(fc.nat(100), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
        const text = `${h}h${m}m${s}s${ms}ms`;
        expect(parseGoDuration(text)).toEqual({ ok: true, ms: ((h * 60 + m) * 60 + s) * 1000 + ms });
      }),
    );
  });
});

describe('walFactsObservedSince', () => {
  it('needs a readable time at or after the bound', () => {
    expect(walFactsObservedSince(healthyWal('pg-1', { observedAt: iso(NOW) }), NOW)).toBe(true);
    expect(walFactsObservedSince(healthyWal('pg-1', { observedAt: iso(NOW - 1) }), NOW)).toBe(false);
    expect(walFactsObservedSince(healthyWal('pg-1'), NOW)).toBe(false);
    expect(walFactsObservedSince(healthyWal('pg-1', { observedAt: 'yesterday' }), NOW)).toBe(false);
  });
});

describe('walGateJudgesFacts', () => {
  it('is false only when every check is off (or archiving is not configured and the others are off)', () => {
    const off = policy((p) => {
      p.strategy.walSafetyPolicy.requireArchiveHealthy = false;
      p.strategy.walSafetyPolicy.maxPendingWALFiles = 0;
    });
    expect(walGateJudgesFacts(off, cluster(), healthyWal())).toBe(false);
    expect(walGateJudgesFacts(policy(), cluster(), healthyWal())).toBe(true);
    const archiveOnly = policy((p) => (p.strategy.walSafetyPolicy.maxPendingWALFiles = 0));
    expect(walGateJudgesFacts(archiveOnly, cluster({ archiving: { configured: false } }), healthyWal())).toBe(false);
    expect(walGateJudgesFacts(archiveOnly, cluster({ archiving: { configured: undefined } }), healthyWal())).toBe(true);
    const slotsOnly = policy((p) => {
      p.strategy.walSafetyPolicy.requireArchiveHealthy = false;
      p.strategy.walSafetyPolicy.maxPendingWALFiles = 0;
      p.strategy.walSafetyPolicy.maxSlotRetentionBytes = 1n;
    });
    expect(walGateJudgesFacts(slotsOnly, cluster(), healthyWal())).toBe(true);
  });
});

describe('needsFresherWalFacts', () => {
  const stale = healthyWal('pg-1', { observedAt: iso(NOW - 30 * SECOND) });
  const fresh = healthyWal('pg-1', { observedAt: iso(NOW) });
  const ask = (i: DecisionInput, notBefore = NOW - SECOND) =>
    needsFresherWalFacts(
      { volume: i.volume, cluster: i.cluster, policy: i.policy, walHealth: i.walHealth },
      decide(i),
      notBefore,
    );

  it('a WAL resize that passed the gate on facts older than the run needs fresher ones', () => {
    expect(decide(walInput({ walHealth: stale })).verdict).toBe('resize');
    expect(ask(walInput({ walHealth: stale }))).toBe(true);
    expect(ask(walInput({ walHealth: healthyWal('pg-1') }))).toBe(true); // no time: unknown age
  });
  it('facts observed since the run began, or no WAL facts at all (fail-open), need nothing', () => {
    expect(ask(walInput({ walHealth: fresh }))).toBe(false);
    const { walHealth: _w, ...noWal } = walInput();
    expect(ask(noWal as DecisionInput)).toBe(false);
    expect(ask(walInput({ walHealth: healthyWal('pg-2', { observedAt: iso(NOW - 60 * SECOND) }) }))).toBe(false);
  });
  it('a volume the gate does not govern, or a decision that is not a resize, needs nothing', () => {
    expect(ask(input({ walHealth: stale }))).toBe(false); // data beside a WAL volume
    expect(ask(walInput({ walHealth: stale, policy: policy((p) => (p.enabled = false)) }))).toBe(false);
    expect(
      ask(walInput({ walHealth: healthyWal('pg-1', { observedAt: iso(NOW - 30 * SECOND), readyFiles: 500 }) })),
    ).toBe(false); // blocked already
  });
  it('a gate with every check off judges no fact', () => {
    const off = policy((p) => {
      p.strategy.walSafetyPolicy.requireArchiveHealthy = false;
      p.strategy.walSafetyPolicy.maxPendingWALFiles = 0;
    });
    expect(ask(walInput({ walHealth: stale, policy: off }))).toBe(false);
  });
  it('a decision whose trace never reached the gate (a sibling floor made from none) does not rest on WAL facts', () => {
    const i = walInput({ walHealth: stale, filesystem: { ...walInput().filesystem!, usedBytes: 1n } });
    const d = decide(i);
    expect(d.verdict).toBe('none');
    expect(
      needsFresherWalFacts(
        { volume: volume('wal'), cluster: i.cluster, policy: i.policy, walHealth: stale },
        { ...d, verdict: 'resize' },
        NOW,
      ),
    ).toBe(false);
  });
  it('property: fresh facts never need a re-read; facts older than the bound always do when the gate passed', () => {
    fc.assert(
      fc.property(fc.integer({ min: -120, max: 120 }), (ageS) => {
        const w = healthyWal('pg-1', { observedAt: iso(NOW - ageS * SECOND) });
        const need = ask(walInput({ walHealth: w }), NOW);
        expect(need).toBe(ageS > 0);
      }),
    );
  });
});
