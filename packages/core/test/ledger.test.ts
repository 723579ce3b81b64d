/**
 * The per-PVC resize ledger: the rolling 24 h window, pruning that never
 * loses an entry still inside it, and an annotation format that survives
 * garbage without crashing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BUDGET_WINDOW_MS,
  GiB,
  LEDGER_TIME_PRECISION_MS,
  LEDGER_VERSION,
  addLedgerEntry,
  budgetOf,
  countedEntries,
  insideWindow,
  parseLedger,
  pruneLedger,
  serializeLedger,
  type Ledger,
  type LedgerEntry,
} from '@cnpg-disk/core';
import { DAY, NOW, SECOND, engineEntry, iso, ledgerOf } from './fixtures.js';

describe('the window', () => {
  it('is 24 h; an entry exactly 24 h old is outside, 1 ms less is inside', () => {
    expect(BUDGET_WINDOW_MS).toBe(DAY);
    expect(insideWindow(engineEntry(NOW - DAY), NOW)).toBe(false);
    expect(insideWindow(engineEntry(NOW - DAY + 1), NOW)).toBe(true);
    expect(insideWindow(engineEntry(NOW), NOW)).toBe(true);
    expect(insideWindow(engineEntry(NOW + 1000), NOW)).toBe(true);
  });

  it('counts engine entries only, oldest first', () => {
    const a = engineEntry(NOW - 3000);
    const b = engineEntry(NOW - 1000);
    const manual: LedgerEntry = { ...engineEntry(NOW - 2000), by: 'manual' };
    expect(countedEntries(ledgerOf(b, manual, a, engineEntry(NOW - DAY)), NOW)).toEqual([a, b]);
  });

  it('budgetOf: used, remaining, and nextSlotAt only when the budget is spent', () => {
    const l = ledgerOf(engineEntry(NOW - 5 * SECOND), engineEntry(NOW - 10 * SECOND));
    expect(budgetOf(l, 3, NOW)).toEqual({ max: 3, used: 2, remaining: 1, warnings: [] });
    expect(budgetOf(l, 2, NOW)).toEqual({
      max: 2,
      used: 2,
      remaining: 0,
      nextSlotAt: iso(NOW - 10 * SECOND + DAY),
      warnings: [],
    });
    expect(budgetOf(l, 0, NOW)).toEqual({ max: 0, used: 2, remaining: 0, warnings: [] });
  });
});

describe('entries in the future', () => {
  it("never warns about our own rounding: a racing run reads the winner's entry back within the second", () => {
    // The winner writes at NOW + 1 ms; the annotation stores NOW + 1 s (rounded up).
    const written = parseLedger(
      serializeLedger(addLedgerEntry(ledgerOf(), { ...engineEntry(NOW + 1), at: iso(NOW + 1) }, NOW + 1)),
    );
    expect(written.entries[0]!.at).toBe(iso(NOW + SECOND));
    // The loser decides 2 ms later, on the same clock: 998 ms "ahead", no skew.
    expect(budgetOf(written, 3, NOW + 2)).toMatchObject({ used: 1, warnings: [] });
    expect(budgetOf(ledgerOf(engineEntry(NOW + LEDGER_TIME_PRECISION_MS)), 3, NOW).warnings).toEqual([]);
  });

  it('still warns about a real skew beyond the rounding, and counts the entry', () => {
    const b = budgetOf(ledgerOf(engineEntry(NOW + LEDGER_TIME_PRECISION_MS + 1)), 3, NOW);
    expect(b.used).toBe(1);
    expect(b.warnings).toEqual([
      `ledger entry at ${iso(NOW + SECOND + 1)} is in the future (clock skew?); it is counted`,
    ]);
    expect(budgetOf(ledgerOf(engineEntry(NOW + 5 * SECOND)), 3, NOW).warnings).toHaveLength(1);
  });
});

describe('pruning', () => {
  it('drops only what has left the window, manual entries included, and keeps the corrupt mark', () => {
    const keep = [engineEntry(NOW - DAY + 1), { ...engineEntry(NOW - 5), by: 'manual' as const }];
    const l: Ledger = { entries: [engineEntry(NOW - DAY), ...keep, { ...engineEntry(NOW - 2 * DAY), by: 'manual' }] };
    expect(pruneLedger(l, NOW)).toEqual({ entries: keep });
    expect(pruneLedger({ ...l, corrupt: 'x' }, NOW)).toEqual({ entries: keep, corrupt: 'x' });
  });

  it('addLedgerEntry prunes, then appends', () => {
    const e = engineEntry(NOW);
    expect(addLedgerEntry(ledgerOf(engineEntry(NOW - 2 * DAY)), e, NOW)).toEqual({ entries: [e] });
  });

  it('never drops an entry inside the window, however many there are (property)', () => {
    const entry = fc.record({
      at: fc.integer({ min: NOW - 3 * DAY, max: NOW + DAY }).map(iso),
      fromBytes: fc.bigInt({ min: 0n, max: 2n ** 60n }),
      toBytes: fc.bigInt({ min: 0n, max: 2n ** 60n }),
      by: fc.constantFrom('engine' as const, 'manual' as const),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 200 }),
        fc.integer({ min: NOW - DAY, max: NOW + 2 * DAY }),
        (entries, now) => {
          const pruned = pruneLedger({ entries }, now).entries;
          const inside = entries.filter((e) => now - Date.parse(e.at) < DAY);
          expect(pruned).toEqual(inside);
          expect(countedEntries({ entries }, now)).toHaveLength(inside.filter((e) => e.by === 'engine').length);
        },
      ),
    );
  });
});

describe('the annotation', () => {
  it('serialises compactly, with canonical sizes and second precision', () => {
    const l = ledgerOf(engineEntry(Date.parse('2026-11-26T03:52:41Z'), 10n * GiB, 12n * GiB), {
      at: '2026-11-26T04:00:00.000Z',
      fromBytes: 12n * GiB,
      toBytes: 1536n * 1024n * 1024n * 10n,
      by: 'manual',
    });
    expect(serializeLedger(l)).toBe(
      '{"v":1,"entries":[{"at":"2026-11-26T03:52:41Z","from":"10Gi","to":"12Gi","by":"engine"},' +
        '{"at":"2026-11-26T04:00:00Z","from":"12Gi","to":"15Gi","by":"manual"}]}',
    );
  });

  it('rounds a time with milliseconds up, so a read-back entry never leaves the window early', () => {
    const at = NOW + 900; // 12:00:00.900
    const back = parseLedger(serializeLedger(ledgerOf(engineEntry(at))));
    expect(back.entries[0]?.at).toBe(iso(NOW + 1000));
    // 24 h minus 1 ms after the real resize, it must still count.
    expect(budgetOf(back, 1, at + DAY - 1).remaining).toBe(0);
  });

  it('round-trips any ledger with whole-second times (property)', () => {
    const entry = fc.record({
      at: fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => iso(s * 1000)),
      fromBytes: fc.bigInt({ min: 0n, max: 2n ** 70n }),
      toBytes: fc.bigInt({ min: 0n, max: 2n ** 70n }),
      by: fc.constantFrom('engine' as const, 'manual' as const),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        expect(parseLedger(serializeLedger({ entries }))).toEqual({ entries });
      }),
    );
  });

  it('an absent or blank annotation is an empty ledger', () => {
    for (const text of [undefined, null, '', '   ']) expect(parseLedger(text)).toEqual({ entries: [] });
  });

  it('accepts offsets and fractional seconds, normalised to UTC', () => {
    const l = parseLedger(
      JSON.stringify({ v: 1, entries: [{ at: '2026-11-26T13:00:00.5+01:00', from: '1Gi', to: '2Gi', by: 'engine' }] }),
    );
    expect(l).toEqual({
      entries: [{ at: '2026-11-26T12:00:00.500Z', fromBytes: GiB, toBytes: 2n * GiB, by: 'engine' }],
    });
  });

  const good = { at: '2026-11-26T03:52:41Z', from: '10Gi', to: '12Gi', by: 'engine' };
  it.each([
    ['not JSON', '{"v":1,', 'the annotation is not valid JSON'],
    ['a JSON list', '[1]', 'the annotation is not a JSON object'],
    ['JSON null', 'null', 'the annotation is not a JSON object'],
    ['a wrong version', JSON.stringify({ v: 2, entries: [] }), 'unsupported ledger version 2 (expected 1)'],
    ['no version', JSON.stringify({ entries: [] }), 'unsupported ledger version undefined (expected 1)'],
    ['entries not a list', JSON.stringify({ v: 1, entries: { a: 1 } }), 'entries is not a list'],
  ])('%s → corrupt, no crash', (_name, text, why) => {
    expect(parseLedger(text)).toEqual({ entries: [], corrupt: why });
  });

  it.each([
    ['not an object', 5],
    ['an unparsable time', { ...good, at: 'yesterday' }],
    ['a time Date.parse would guess at', { ...good, at: '1' }],
    ['an impossible date', { ...good, at: '2026-13-45T99:99:99Z' }],
    ['a size that is not a string', { ...good, from: 10 }],
    ['a bad quantity', { ...good, to: '12 Gi' }],
    ['a negative size', { ...good, from: '-1Gi' }],
    ['an unknown author', { ...good, by: 'robot' }],
  ])('one bad entry (%s) is reported with its index; the good ones are kept', (_name, bad) => {
    const l = parseLedger(JSON.stringify({ v: 1, entries: [good, bad, good] }));
    expect(l.corrupt).toBe('unreadable entry at index 1');
    expect(l.entries).toHaveLength(2);
  });

  it('several bad entries are all named', () => {
    expect(parseLedger(JSON.stringify({ v: LEDGER_VERSION, entries: [1, good, 2] })).corrupt).toBe(
      'unreadable entries at index 0, 2',
    );
  });

  it('never throws, whatever the annotation holds (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ v: 1, entries: v })),
        ),
        (text) => {
          const l = parseLedger(text);
          expect(Array.isArray(l.entries)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
