/**
 * Rules written once in core and used by several callers: WAL-safety
 * applicability, the engine input built from a volume's facts, and event
 * de-duplication.
 */
import { describe, expect, it } from 'vitest';
import {
  GiB,
  alreadyRecorded,
  decide,
  decisionInput,
  firstPerReasonAndObject,
  walSafetyApplies,
  type VolumeType,
} from '@cnpg-disk/core';
import { NOW, cluster, fs, healthyWal, ledgerOf, policy, pvc, volume } from './fixtures.js';

describe('walSafetyApplies', () => {
  const rows: [VolumeType, boolean | undefined, boolean][] = [
    ['wal', false, true],
    ['wal', undefined, true],
    ['data', true, true],
    ['data', false, false],
    // shape unknown (policy validation without a cluster): not assumed single-volume
    ['data', undefined, false],
    ['tablespace', true, false],
  ];
  it.each(rows)('%s volume, singleVolume %s → %s', (type, singleVolume, expected) => {
    expect(walSafetyApplies({ type }, { singleVolume })).toBe(expected);
  });
});

describe('decisionInput', () => {
  const exhausted = { exitedAt: '2026-01-01T00:00:00Z', restarts: 3 };
  it('keeps exit code 4 only for the volume that holds pg_wal', () => {
    const base = { cluster: cluster(), policy: policy(), pvc: pvc(10n * GiB), ledger: ledgerOf() };
    expect(
      decisionInput({ ...base, volume: volume('wal'), walSpaceExhausted: exhausted }, NOW).walSpaceExhausted,
    ).toEqual(exhausted);
    expect(decisionInput({ ...base, volume: volume('data'), walSpaceExhausted: exhausted }, NOW)).not.toHaveProperty(
      'walSpaceExhausted',
    );
    expect(
      decisionInput(
        { ...base, cluster: cluster({ singleVolume: true }), volume: volume('data'), walSpaceExhausted: exhausted },
        NOW,
      ).walSpaceExhausted,
    ).toEqual(exhausted);
  });
  it('leaves out the facts that are missing, and decides like a hand-built input', () => {
    const facts = {
      volume: volume('wal'),
      cluster: cluster(),
      policy: policy((p) => (p.enabled = true)),
      pvc: pvc(10n * GiB),
      filesystem: fs(10n * GiB, 9n * GiB),
      ledger: ledgerOf(),
      walHealth: healthyWal(),
    };
    const built = decisionInput(facts, NOW);
    expect(built).toEqual({ ...facts, now: NOW });
    expect(decide(built)).toEqual(decide({ ...facts, now: NOW }));
    const bare = decisionInput({ ...facts, filesystem: undefined, walHealth: undefined }, NOW);
    expect(Object.keys(bare).sort()).toEqual(['cluster', 'ledger', 'now', 'policy', 'pvc', 'volume']);
  });
});

describe('event de-duplication', () => {
  it('one per reason and involved object, the first as listed', () => {
    const events = [
      { reason: 'FailedMount', objectKind: 'Pod', objectName: 'pg-1', message: 'a' },
      { reason: 'FailedMount', objectKind: 'Pod', objectName: 'pg-1', message: 'b' },
      { reason: 'FailedMount', objectKind: 'Pod', objectName: 'pg-2', message: 'c' },
      { reason: 'FailedAttachVolume', objectKind: 'Pod', objectName: 'pg-1', message: 'd' },
      { reason: 'FailedMount', message: 'no object' },
      { reason: 'FailedMount', message: 'no object either' },
    ];
    expect(firstPerReasonAndObject(events).map((e) => e.message)).toEqual(['a', 'c', 'd', 'no object']);
  });
  it('an event with the same reason and message is already recorded; another message is not', () => {
    const existing = [{ reason: 'AutoResizeSuccess', message: 'resized 10Gi → 12Gi' }];
    expect(alreadyRecorded(existing, { reason: 'AutoResizeSuccess', message: 'resized 10Gi → 12Gi' })).toBe(true);
    expect(alreadyRecorded(existing, { reason: 'AutoResizeSuccess', message: 'resized 12Gi → 14Gi' })).toBe(false);
    expect(alreadyRecorded(existing, { reason: 'AutoResizeBlocked', message: 'resized 10Gi → 12Gi' })).toBe(false);
    expect(alreadyRecorded([], { reason: 'AutoResizeSuccess', message: 'x' })).toBe(false);
  });
});
