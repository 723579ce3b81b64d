import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { label, labels, volumeRefOf } from '../../../src/model/kube-objects.js';

describe('label', () => {
  it('reads one string label in place', () => {
    const pod = { metadata: { labels: { 'cnpg.io/cluster': 'pg', role: 'primary' } } };
    expect(label(pod, 'cnpg.io/cluster')).toBe('pg');
    expect(label(pod, 'role')).toBe('primary');
    expect(label(pod, 'absent')).toBeUndefined();
  });

  it('gives nothing for malformed objects and values (untrusted input)', () => {
    for (const o of [undefined, null, 'x', 7, [], {}, { metadata: null }, { metadata: { labels: [] } }]) {
      expect(label(o, 'a')).toBeUndefined();
    }
    expect(label({ metadata: { labels: { a: 1, b: null, c: { x: 'y' } } } }, 'a')).toBeUndefined();
    expect(label({ metadata: { labels: { a: 1, b: null, c: { x: 'y' } } } }, 'c')).toBeUndefined();
  });

  it('never answers from the prototype chain', () => {
    const pod = JSON.parse('{"metadata":{"labels":{"__proto__":"p"}}}') as unknown;
    expect(label(pod, '__proto__')).toBe('p');
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(label({ metadata: { labels: {} } }, key)).toBeUndefined();
    }
  });

  it('agrees with the copied map for every own string label', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.constant(null))),
        fc.string(),
        (map, probe) => {
          const o = { metadata: { labels: map } };
          const all = labels(o);
          for (const key of [...Object.keys(map), probe]) {
            const want = Object.hasOwn(all, key) ? all[key] : undefined;
            expect(label(o, key)).toBe(want);
          }
        },
      ),
    );
  });
});

describe('volumeRefOf', () => {
  it('takes the role, instance and tablespace from the labels', () => {
    const pvc = {
      metadata: {
        name: 'pg-1-tbs-idx',
        namespace: 'db',
        labels: {
          'cnpg.io/pvcRole': 'PG_TABLESPACE',
          'cnpg.io/instanceName': 'pg-1',
          'cnpg.io/tablespaceName': 'idx',
        },
      },
    };
    expect(volumeRefOf(pvc, 'pg')).toEqual({
      namespace: 'db',
      cluster: 'pg',
      instance: 'pg-1',
      pvcName: 'pg-1-tbs-idx',
      type: 'tablespace',
      tablespace: 'idx',
    });
  });

  it('falls back to the name when the instance and tablespace labels are missing', () => {
    const pvc = { metadata: { name: 'pg-2-tbs-data', labels: { 'cnpg.io/pvcRole': 'PG_TABLESPACE' } } };
    expect(volumeRefOf(pvc, 'pg')).toMatchObject({ instance: 'pg-2', tablespace: 'data' });
    const wal = { metadata: { name: 'pg-2-wal', labels: { 'cnpg.io/pvcRole': 'PG_WAL' } } };
    expect(volumeRefOf(wal, 'pg')).toMatchObject({ instance: 'pg-2', type: 'wal' });
  });

  it('is not a volume without a known role label', () => {
    expect(volumeRefOf({ metadata: { name: 'pg-1' } }, 'pg')).toBeUndefined();
    expect(volumeRefOf({ metadata: { name: 'pg-1', labels: { 'cnpg.io/pvcRole': 7 } } }, 'pg')).toBeUndefined();
  });
});
