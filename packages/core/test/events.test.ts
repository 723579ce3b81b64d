/**
 * Events (spec/engine.md "Events"): the names users grep for, and the rule
 * that the same condition is not re-announced on every pass.
 */
import { describe, expect, it } from 'vitest';
import {
  GiB,
  decide,
  dedupeEvents,
  eventsForAppliedResize,
  eventsForDecision,
  type Decision,
  type DecisionInput,
  type ResizeEvent,
} from '@cnpg-disk/core';
import { NOW, cluster, engineEntry, healthyWal, input, ledgerOf, policy, pvc, volume, walInput } from './fixtures.js';

const SPEC_EVENT_NAMES = [
  'AutoResizeSuccess',
  'AutoResizeBlocked',
  'AutoResizeAtLimit',
  'AutoResizeWALHealthUnavailable',
  'AutoResizeWALRisk',
  'AutoResizeInProgress',
  'AutoResizeFailed',
];

const run = (i: DecisionInput) => ({ d: decide(i), v: i.volume, p: i.policy });
const names = (events: ResizeEvent[]) => events.map((e) => `${e.type}/${e.reason}`);

const spent = ledgerOf(...[1, 2, 3].map((h) => engineEntry(NOW - h * 3600_000)));
const situations: Record<string, DecisionInput> = {
  resizeWal: walInput(),
  resizeData: input(),
  resizeWalNoHealth: walInput({ walHealth: undefined }),
  rateLimit: input({ ledger: spent }),
  archive: walInput({ walHealth: healthyWal('pg-1', { archiver: { archivedCount: 0, failedCount: 0 } }) }),
  pending: walInput({ walHealth: healthyWal('pg-1', { readyFiles: 500 }) }),
  slot: walInput({
    policy: policy((p) => (p.strategy.walSafetyPolicy.maxSlotRetentionBytes = GiB)),
    walHealth: healthyWal('pg-1', {
      slots: [{ name: 'old', type: 'physical', active: false, retainedBytes: 2n * GiB }],
    }),
  }),
  ack: input({ cluster: cluster({ singleVolume: true }) }),
  atLimit: input({ policy: policy((p) => (p.expansion.limitBytes = 100n * GiB)) }),
  inProgress: input({ pvc: pvc(100n * GiB, { requestBytes: 120n * GiB }) }),
  failed: input({ pvc: pvc(100n * GiB, { allocatedResourceStatus: 'NodeResizeInfeasible' }) }),
  none: input({ filesystem: { totalBytes: 100n * GiB, usedBytes: GiB, availableBytes: 99n * GiB } }),
  disabled: input({ policy: policy((p) => (p.enabled = false)) }),
};

describe('events for a decision', () => {
  it.each([
    ['rateLimit', ['Warning/AutoResizeBlocked'], 'rate-limit: resize of pg-1 (data) blocked: rate limit:'],
    ['archive', ['Warning/AutoResizeBlocked'], 'archive-unhealthy: resize of pg-1-wal (wal) blocked'],
    ['pending', ['Warning/AutoResizeBlocked'], 'pending-wal:'],
    ['slot', ['Warning/AutoResizeBlocked'], 'slot-retention:'],
    ['ack', ['Warning/AutoResizeBlocked'], 'wal-risk-not-acknowledged:'],
    ['atLimit', ['Warning/AutoResizeAtLimit'], 'pg-1 (data): current size 100Gi is at or above the limit 100Gi'],
    ['inProgress', ['Normal/AutoResizeInProgress'], 'pg-1 (data): an expansion has not finished'],
    ['failed', ['Warning/AutoResizeFailed'], 'pg-1 (data): the last expansion failed'],
    ['resizeWalNoHealth', ['Warning/AutoResizeWALHealthUnavailable'], 'fail-open'],
    ['resizeWal', [], ''],
    ['none', [], ''],
    ['disabled', [], ''],
  ])('%s → %j', (name, expected, text) => {
    const { d, v } = run(situations[name] as DecisionInput);
    const events = eventsForDecision(v, d);
    expect(names(events)).toEqual(expected);
    if (text) expect(events[0]?.message).toContain(text);
  });

  it('names a tablespace volume with its tablespace', () => {
    const { d, v } = run(input({ volume: volume('tablespace', 'pg-1', 'tbs1'), ledger: spent }));
    expect(eventsForDecision(v, d)[0]?.message).toContain('resize of pg-1-tbs-tbs1 (tablespace tbs1) blocked');
  });
});

describe('events after an applied resize', () => {
  it('Success, and WALRisk for a WAL volume when alertOnResize', () => {
    const { d, v, p } = run(situations['resizeWal'] as DecisionInput);
    const events = eventsForAppliedResize(v, d, p);
    expect(names(events)).toEqual(['Normal/AutoResizeSuccess', 'Warning/AutoResizeWALRisk']);
    expect(events[0]?.message).toBe('pg-1-wal (wal) resized 100Gi → 120Gi');
    expect(events[1]?.message).toContain('check WAL archiving and replication slots');
  });

  it('no WALRisk when alertOnResize is off, nor for a volume without WAL', () => {
    const quiet = walInput({ policy: policy((x) => (x.strategy.walSafetyPolicy.alertOnResize = false)) });
    const a = run(quiet);
    expect(names(eventsForAppliedResize(a.v, a.d, a.p))).toEqual(['Normal/AutoResizeSuccess']);
    const b = run(situations['resizeData'] as DecisionInput);
    expect(names(eventsForAppliedResize(b.v, b.d, b.p))).toEqual(['Normal/AutoResizeSuccess']);
  });

  it('nothing for a decision that is not a resize', () => {
    const { d, v, p } = run(situations['atLimit'] as DecisionInput);
    expect(eventsForAppliedResize(v, d, p)).toEqual([]);
    const odd: Decision = { ...run(situations['resizeData'] as DecisionInput).d };
    delete odd.newBytes;
    expect(eventsForAppliedResize(v, odd, p)).toEqual([]);
  });

  it('every event name of the spec is produced by some situation, and no other', () => {
    const seen = new Set<string>();
    for (const i of Object.values(situations)) {
      const { d, v, p } = run(i);
      for (const e of [...eventsForDecision(v, d), ...eventsForAppliedResize(v, d, p)]) seen.add(e.reason);
    }
    expect([...seen].sort()).toEqual([...SPEC_EVENT_NAMES].sort());
  });
});

describe('dedupe', () => {
  const blocked = eventsForDecision(volume('data'), decide(situations['rateLimit'] as DecisionInput));
  const atLimit = eventsForDecision(volume('data'), decide(situations['atLimit'] as DecisionInput));

  it('the same condition is not re-announced on the next pass', () => {
    const first = dedupeEvents([], blocked);
    expect(names(first.toEmit)).toEqual(['Warning/AutoResizeBlocked']);
    // A later pass, still over budget with one more resize in the window (another message), is quiet.
    const later = eventsForDecision(
      volume('data'),
      decide({ ...(situations['rateLimit'] as DecisionInput), ledger: ledgerOf(...spent.entries, engineEntry(NOW)) }),
    );
    expect(later[0]?.message).not.toBe(blocked[0]?.message);
    const second = dedupeEvents(first.keys, later);
    expect(second.toEmit).toEqual([]);
    expect(second.keys).toEqual(first.keys);
  });

  it('a cleared condition is announced again when it returns', () => {
    const first = dedupeEvents([], blocked);
    const cleared = dedupeEvents(first.keys, []);
    expect(cleared.keys).toEqual([]);
    expect(names(dedupeEvents(cleared.keys, blocked).toEmit)).toEqual(['Warning/AutoResizeBlocked']);
  });

  it('a different condition is announced even while another one is remembered', () => {
    const first = dedupeEvents([], blocked);
    expect(names(dedupeEvents(first.keys, atLimit).toEmit)).toEqual(['Warning/AutoResizeAtLimit']);
  });

  it('a block for a different reason is a different condition', () => {
    const pending = eventsForDecision(volume('wal'), decide(situations['pending'] as DecisionInput));
    const archive = eventsForDecision(volume('wal'), decide(situations['archive'] as DecisionInput));
    expect(pending[0]?.key).not.toBe(archive[0]?.key);
    expect(dedupeEvents([pending[0]?.key as string], archive).toEmit).toHaveLength(1);
  });

  it('each successful resize is its own event', () => {
    const { d, v, p } = run(situations['resizeData'] as DecisionInput);
    const a = eventsForAppliedResize(v, d, p);
    const b = eventsForAppliedResize(v, { ...d, newBytes: 200n * GiB }, p);
    expect(a[0]?.key).not.toBe(b[0]?.key);
  });
});
