/**
 * Where a volume's policy comes from: file > cluster-spec > annotation >
 * defaults; the first source with a block for the volume wins, whole.
 */
import { describe, expect, it } from 'vitest';
import {
  defaultPolicy,
  resolvePolicy,
  toPlain,
  validateClusterSpecPolicy,
  validatePolicyDocument,
  type PolicySetResult,
} from '@cnpg-disk/core';
import { cluster } from './fixtures.js';

const shape = cluster();
const doc = (threshold: number, extra: Record<string, unknown> = {}) =>
  validatePolicyDocument(
    {
      storage: { resize: { enabled: true, triggers: { usageThreshold: threshold } } },
      tablespaces: { tbs1: { resize: { enabled: true, triggers: { usageThreshold: threshold + 1 } } } },
      ...extra,
    },
    shape,
  );
const spec = (threshold: number) =>
  validateClusterSpecPolicy({ storage: { resize: { enabled: true, triggers: { usageThreshold: threshold } } } }, shape);

describe('resolvePolicy', () => {
  const file = doc(70);
  const clusterSpec = spec(60);
  const annotation = doc(50);
  const controllerDefault = doc(40);

  it.each([
    ['all three', { file, clusterSpec, annotation }, 'file', 70],
    ['no file', { clusterSpec, annotation }, 'cluster-spec', 60],
    ['annotation only', { annotation }, 'annotation', 50],
    ['annotation and the controller default', { annotation, controllerDefault }, 'annotation', 50],
    ['the controller default only', { controllerDefault }, 'controller-default', 40],
  ] as const)('data with %s → %s', (_name, sources, source, threshold) => {
    const r = resolvePolicy(sources, 'data');
    expect(r.source).toBe(source);
    expect(r.errors).toEqual([]);
    expect(r.policy?.triggers.usageThreshold).toBe(threshold);
  });

  it('no source → the defaults (resize disabled)', () => {
    expect(resolvePolicy({}, 'wal')).toEqual({ policy: defaultPolicy(), source: 'defaults', errors: [] });
  });

  it('a source without a block for this volume is passed over, not merged', () => {
    // The cluster spec only has storage: the tablespace comes from the annotation, whole.
    const r = resolvePolicy({ clusterSpec, annotation }, 'tablespace', 'tbs1');
    expect(r.source).toBe('annotation');
    expect(r.policy?.triggers.usageThreshold).toBe(51);
    expect(resolvePolicy({ clusterSpec, annotation }, 'tablespace', 'other').source).toBe('defaults');
    expect(resolvePolicy({ clusterSpec, annotation }, 'wal').source).toBe('defaults');
  });

  it('a winning block with errors gives no policy, and does not fall through to the next source', () => {
    const bad = validatePolicyDocument({ storage: { resize: { enabled: true, expansion: { step: '20' } } } }, shape);
    const r = resolvePolicy({ file: bad, annotation }, 'data');
    expect(r.policy).toBeUndefined();
    expect(r.source).toBe('file');
    expect(r.errors.map((e) => [e.code, e.path])).toEqual([['STEP_BARE_INTEGER', 'storage.resize.expansion.step']]);
  });

  it("a block's warnings are not errors: its policy wins", () => {
    const warned = validatePolicyDocument({
      storage: { resize: { enabled: true, strategy: { maxActionsPerDay: 0 } } },
    });
    expect(warned.issues).toHaveLength(1);
    const r = resolvePolicy({ file: warned, annotation }, 'data');
    expect(r).toMatchObject({ source: 'file', errors: [] });
    expect(r.policy?.strategy.maxActionsPerDay).toBe(0);
  });

  it('an error outside every block (a misspelt walStorge) rejects the whole source, for every volume', () => {
    const typo = doc(70, { walStorge: { resize: { enabled: true } } });
    for (const [type, ts] of [['data'], ['wal'], ['tablespace', 'tbs1']] as const) {
      const r = resolvePolicy({ file: typo, annotation }, type, ts);
      expect(r.policy).toBeUndefined();
      expect(r.source).toBe('file');
      expect(r.errors.map((e) => [e.code, e.path])).toEqual([['UNKNOWN_FIELD', 'walStorge']]);
    }
  });

  it('a document with only a misspelt key is rejected too', () => {
    const onlyTypo = validatePolicyDocument({ walStorge: {} }, shape);
    expect(resolvePolicy({ annotation: onlyTypo }, 'wal')).toMatchObject({
      source: 'annotation',
      errors: [{ code: 'UNKNOWN_FIELD' }],
    });
  });

  it('a tablespace volume without a name finds no tablespace block', () => {
    expect(resolvePolicy({ annotation }, 'tablespace').source).toBe('defaults');
  });

  it("an error inside another volume's block does not reject this one", () => {
    const mixed = validatePolicyDocument(
      {
        storage: { resize: { enabled: true } },
        walStorage: { resize: { enabled: true, triggers: { usageThreshold: 0 } } },
      },
      shape,
    );
    expect(resolvePolicy({ file: mixed }, 'data').policy?.enabled).toBe(true);
    expect(resolvePolicy({ file: mixed }, 'wal').policy).toBeUndefined();
  });

  it('compares issues by value, so a copied result (e.g. read back from a bundle) resolves the same', () => {
    const mixed = validatePolicyDocument(
      { storage: { resize: { enabled: true } }, walStorage: { resize: { triggers: { usageThreshold: 0 } } } },
      shape,
    );
    const copy = structuredClone(toPlain(mixed)) as PolicySetResult;
    // The copy's data policy has byte counts as strings; only the resolution path matters here.
    expect(resolvePolicy({ file: copy }, 'data').source).toBe('file');
    expect(resolvePolicy({ file: copy }, 'data').errors).toEqual([]);
  });
});
