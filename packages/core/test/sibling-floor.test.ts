import { describe, expect, it } from 'vitest';
import { parseLedger, serializeLedger } from '../src/ledger.js';
import { roleKey, siblingFloor, type FloorVolume } from '../src/sibling-floor.js';

const Gi = 1024n ** 3n;
const v = (pvcName: string, type: FloorVolume['type'], gi: bigint | undefined, extra: Partial<FloorVolume> = {}) =>
  ({ pvcName, type, currentBytes: gi === undefined ? undefined : gi * Gi, live: true, ...extra }) as FloorVolume;

describe('sibling floor', () => {
  it('a new replica smaller than its role’s largest PVC is grown to match; other roles are separate', () => {
    const vols = [
      v('pg-1', 'data', 20n),
      v('pg-2', 'data', 20n),
      v('pg-3', 'data', 10n),
      v('pg-1-wal', 'wal', 5n),
      v('pg-3-wal', 'wal', 2n),
      v('pg-1-tbs-idx', 'tablespace', 8n, { tablespace: 'idx' }),
      v('pg-3-tbs-idx', 'tablespace', 8n, { tablespace: 'idx' }),
      v('pg-3-tbs-arc', 'tablespace', 1n, { tablespace: 'arc' }),
    ];
    expect(siblingFloor(vols, () => undefined)).toEqual([
      { pvcName: 'pg-3', targetBytes: 20n * Gi, siblingPvc: 'pg-1', siblingBytes: 20n * Gi, capped: false },
      { pvcName: 'pg-3-wal', targetBytes: 5n * Gi, siblingPvc: 'pg-1-wal', siblingBytes: 5n * Gi, capped: false },
    ]);
  });

  it('capped at the limit; nothing when the limit is not above the current size', () => {
    const vols = [v('a', 'data', 20n), v('b', 'data', 10n), v('c', 'data', 15n)];
    expect(siblingFloor(vols, (p) => (p === 'b' ? 12n * Gi : 15n * Gi))).toEqual([
      { pvcName: 'b', targetBytes: 12n * Gi, siblingPvc: 'a', siblingBytes: 20n * Gi, capped: true },
    ]);
  });

  it('PVCs being deleted or of unknown size set no floor; unknown sizes are never grown', () => {
    const vols = [v('old', 'data', 50n, { live: false }), v('x', 'data', undefined), v('y', 'data', 10n)];
    expect(siblingFloor(vols, () => undefined)).toEqual([]);
    // A PVC that is not live may still be grown to the live floor.
    expect(siblingFloor([v('a', 'data', 20n), v('b', 'data', 10n, { live: false })], () => undefined)).toHaveLength(1);
  });

  it('role keys', () => {
    expect(roleKey({ type: 'tablespace', tablespace: 'idx' })).toBe('tablespace/idx');
    expect(roleKey({ type: 'tablespace' })).toBe('tablespace/');
    expect(roleKey({ type: 'wal' })).toBe('wal');
  });

  it('the ledger records why, and readers keep known reasons only', () => {
    const at = '2026-12-01T10:00:00.000Z';
    const text = serializeLedger({
      entries: [{ at, fromBytes: Gi, toBytes: 2n * Gi, by: 'engine', why: 'sibling-floor' }],
    });
    expect(text).toContain('"why":"sibling-floor"');
    expect(parseLedger(text).entries[0]?.why).toBe('sibling-floor');
    const odd = text.replace('sibling-floor', 'future-reason');
    expect(parseLedger(odd)).toEqual({ entries: [{ at, fromBytes: Gi, toBytes: 2n * Gi, by: 'engine' }] });
    expect(serializeLedger(parseLedger(odd))).not.toContain('why');
  });
});
