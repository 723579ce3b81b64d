/**
 * Policy validation (spec/engine.md "Validation"): every error and warning
 * code with its severity and field path, and the resolved policy a clean
 * block yields.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GiB,
  defaultPolicy,
  hasErrors,
  validateClusterSpecPolicy,
  validatePolicyDocument,
  validateResizeBlock,
  volumeContext,
  type ClusterShape,
  type IssueCode,
  type IssueSeverity,
  type PolicyIssue,
  type VolumeSizes,
} from '@cnpg-disk/core';
import { cluster } from './fixtures.js';

const withWal = cluster();
const single = cluster({ singleVolume: true });
const noArchive = cluster({ archiving: { configured: false } });

/** A document with one storage (data) block. */
const data = (resize: unknown) => ({ storage: { resize } });
const wal = (resize: unknown) => ({ walStorage: { resize } });
const on = (extra: Record<string, unknown>) => ({ enabled: true, ...extra });

interface Row {
  code: IssueCode;
  severity: IssueSeverity;
  path: string;
  doc: unknown;
  shape?: ClusterShape;
  sizes?: VolumeSizes;
  /** Part of the message: what will happen. */
  says?: string;
}

const P = 'storage.resize';
const W = 'walStorage.resize';

const rows: Row[] = [
  // errors
  {
    code: 'PREDICTIVE_DURATION_INVALID',
    severity: 'error',
    path: `${P}.triggers.predictive.horizon`,
    doc: data(on({ triggers: { predictive: { horizon: '12' } } })),
    says: 'not a duration',
  },
  {
    code: 'PREDICTIVE_DURATION_INVALID',
    severity: 'error',
    path: `${P}.triggers.predictive.window`,
    doc: data(on({ triggers: { predictive: { window: '0h' } } })),
  },
  {
    code: 'PREDICTIVE_DURATION_INVALID',
    severity: 'error',
    path: `${P}.triggers.predictive.window`,
    doc: data(on({ triggers: { predictive: { window: '367d' } } })),
  },
  {
    code: 'PREDICTIVE_DURATION_INVALID',
    severity: 'error',
    path: `${P}.triggers.predictive.horizon`,
    doc: data(on({ triggers: { predictive: { horizon: 3600 } } })),
  },
  {
    code: 'PREDICTIVE_MIN_SAMPLES_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.triggers.predictive.minSamples`,
    doc: data(on({ triggers: { predictive: { minSamples: 2 } } })),
    says: 'not a whole number in 3..100000',
  },
  {
    code: 'PREDICTIVE_MIN_SAMPLES_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.triggers.predictive.minSamples`,
    doc: data(on({ triggers: { predictive: { minSamples: 12.5 } } })),
  },
  {
    code: 'PREDICTIVE_HORIZON_FAR',
    severity: 'warning',
    path: `${P}.triggers.predictive.horizon`,
    doc: data(on({ triggers: { predictive: { horizon: '2d', window: '5h' } } })),
    says: 'more than 8 times the window 5h',
  },
  {
    code: 'UNKNOWN_FIELD',
    severity: 'error',
    path: `${P}.triggers.predictive.horizn`,
    doc: data(on({ triggers: { predictive: { horizn: '2d' } } })),
  },
  { code: 'DOCUMENT_INVALID', severity: 'error', path: '', doc: 'enabled: true', says: 'must be a mapping' },
  { code: 'DOCUMENT_INVALID', severity: 'error', path: '', doc: [1, 2] },
  { code: 'DOCUMENT_INVALID', severity: 'error', path: P, doc: data('yes'), says: 'resize must be a mapping' },
  { code: 'UNKNOWN_FIELD', severity: 'error', path: `${P}.trigers`, doc: data(on({ trigers: {} })), says: 'misspelt' },
  {
    code: 'UNKNOWN_FIELD',
    severity: 'error',
    path: `${P}.triggers.usageTreshold`,
    doc: data(on({ triggers: { usageTreshold: 70 } })),
  },
  { code: 'UNKNOWN_FIELD', severity: 'error', path: 'walStorge', doc: { walStorge: { resize: {} } } },
  { code: 'UNKNOWN_FIELD', severity: 'error', path: 'storage.size', doc: { storage: { size: '10Gi' } } },
  {
    code: 'UNKNOWN_FIELD',
    severity: 'error',
    path: 'tablespaces.tbs1.storage',
    doc: { tablespaces: { tbs1: { storage: {} } } },
  },
  { code: 'FIELD_TYPE', severity: 'error', path: `${P}.triggers`, doc: data(on({ triggers: 80 })) },
  { code: 'FIELD_TYPE', severity: 'error', path: `${P}.enabled`, doc: data({ enabled: 'yes' }) },
  {
    code: 'FIELD_TYPE',
    severity: 'error',
    path: `${P}.triggers.usageThreshold`,
    doc: data(on({ triggers: { usageThreshold: '80' } })),
  },
  {
    code: 'FIELD_TYPE',
    severity: 'error',
    path: `${P}.triggers.usageThreshold`,
    doc: data(on({ triggers: { usageThreshold: Number.POSITIVE_INFINITY } })),
  },
  {
    code: 'FIELD_TYPE',
    severity: 'error',
    path: `${P}.triggers.minAvailable`,
    doc: data(on({ triggers: { minAvailable: true } })),
  },
  { code: 'FIELD_TYPE', severity: 'error', path: `${P}.expansion.step`, doc: data(on({ expansion: { step: true } })) },
  { code: 'FIELD_TYPE', severity: 'error', path: 'storage', doc: { storage: 5 } },
  { code: 'FIELD_TYPE', severity: 'error', path: 'tablespaces', doc: { tablespaces: ['tbs1'] } },
  { code: 'FIELD_TYPE', severity: 'error', path: 'tablespaces.tbs1', doc: { tablespaces: { tbs1: 'big' } } },
  {
    code: 'THRESHOLD_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.triggers.usageThreshold`,
    doc: data(on({ triggers: { usageThreshold: 0 } })),
    says: 'outside 1..99',
  },
  {
    code: 'THRESHOLD_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.triggers.usageThreshold`,
    doc: data(on({ triggers: { usageThreshold: 100 } })),
  },
  {
    code: 'THRESHOLD_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.triggers.usageThreshold`,
    doc: data(on({ triggers: { usageThreshold: 0.99 } })),
  },
  {
    code: 'THRESHOLD_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.triggers.usageThreshold`,
    doc: data(on({ triggers: { usageThreshold: 99.01 } })),
  },
  {
    code: 'QUANTITY_INVALID',
    severity: 'error',
    path: `${P}.triggers.minAvailable`,
    doc: data(on({ triggers: { minAvailable: '5 Gi' } })),
    says: 'invalid quantity "5 Gi"',
  },
  {
    code: 'QUANTITY_INVALID',
    severity: 'error',
    path: `${P}.expansion.maxStep`,
    doc: data(on({ expansion: { maxStep: 'lots' } })),
  },
  {
    code: 'QUANTITY_INVALID',
    severity: 'error',
    path: `${P}.expansion.limit`,
    doc: data(on({ expansion: { limit: '-1Gi' } })),
    says: 'must not be negative',
  },
  {
    code: 'STEP_INVALID',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: 'ten' } })),
    says: 'neither a percentage nor a quantity',
  },
  {
    code: 'STEP_INVALID',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '33.333%' } })),
    says: 'more than two decimals',
  },
  {
    code: 'STEP_INVALID',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '-10Gi' } })),
    says: 'never shrunk',
  },
  {
    code: 'STEP_BARE_INTEGER',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '20' } })),
    says: 'write "20%" for a percentage or "20Gi" for a size',
  },
  {
    code: 'STEP_BARE_INTEGER',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: 20 } })),
  },
  {
    code: 'STEP_BARE_INTEGER',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: ' 5.5 ' } })),
  },
  { code: 'STEP_ZERO', severity: 'error', path: `${P}.expansion.step`, doc: data(on({ expansion: { step: '0' } })) },
  { code: 'STEP_ZERO', severity: 'error', path: `${P}.expansion.step`, doc: data(on({ expansion: { step: 0 } })) },
  { code: 'STEP_ZERO', severity: 'error', path: `${P}.expansion.step`, doc: data(on({ expansion: { step: '0%' } })) },
  { code: 'STEP_ZERO', severity: 'error', path: `${P}.expansion.step`, doc: data(on({ expansion: { step: '0Gi' } })) },
  {
    code: 'STEP_PERCENT_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '0.5%' } })),
    says: 'outside 1%..100%',
  },
  {
    code: 'STEP_PERCENT_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '150%' } })),
  },
  {
    code: 'STEP_PERCENT_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '100.01%' } })),
  },
  {
    code: 'STEP_PERCENT_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '-5%' } })),
  },
  {
    code: 'MIN_STEP_ABOVE_MAX_STEP',
    severity: 'error',
    path: `${P}.expansion.minStep`,
    doc: data(on({ expansion: { minStep: '10Gi', maxStep: '5Gi' } })),
    says: 'minStep 10Gi is larger than maxStep 5Gi',
  },
  {
    code: 'MIN_STEP_ABOVE_MAX_STEP',
    severity: 'error',
    path: `${P}.expansion.minStep`,
    doc: data(on({ expansion: { minStep: '600Gi' } })),
    says: 'larger than maxStep 500Gi',
  },
  {
    code: 'MAX_ACTIONS_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.strategy.maxActionsPerDay`,
    doc: data(on({ strategy: { maxActionsPerDay: 11 } })),
    says: '0..10',
  },
  {
    code: 'MAX_ACTIONS_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.strategy.maxActionsPerDay`,
    doc: data(on({ strategy: { maxActionsPerDay: -1 } })),
  },
  {
    code: 'MAX_ACTIONS_OUT_OF_RANGE',
    severity: 'error',
    path: `${P}.strategy.maxActionsPerDay`,
    doc: data(on({ strategy: { maxActionsPerDay: 2.5 } })),
  },
  {
    code: 'WAL_THRESHOLD_NEGATIVE',
    severity: 'error',
    path: `${W}.strategy.walSafetyPolicy.maxPendingWALFiles`,
    doc: wal(on({ strategy: { walSafetyPolicy: { maxPendingWALFiles: -1 } } })),
  },
  {
    code: 'WAL_THRESHOLD_NEGATIVE',
    severity: 'error',
    path: `${W}.strategy.walSafetyPolicy.maxPendingWALFiles`,
    doc: wal(on({ strategy: { walSafetyPolicy: { maxPendingWALFiles: 1.5 } } })),
  },
  {
    code: 'WAL_THRESHOLD_NEGATIVE',
    severity: 'error',
    path: `${W}.strategy.walSafetyPolicy.maxSlotRetentionBytes`,
    doc: wal(on({ strategy: { walSafetyPolicy: { maxSlotRetentionBytes: '-1Gi' } } })),
  },
  {
    code: 'WAL_THRESHOLD_NEGATIVE',
    severity: 'error',
    path: `${W}.strategy.walSafetyPolicy.maxSlotRetentionBytes`,
    doc: wal(on({ strategy: { walSafetyPolicy: { maxSlotRetentionBytes: -5 } } })),
  },
  {
    code: 'WAL_RISK_NOT_ACKNOWLEDGED',
    severity: 'error',
    path: `${P}.strategy.walSafetyPolicy.acknowledgeWALRisk`,
    doc: data(on({})),
    shape: single,
    says: 'set acknowledgeWALRisk: true',
  },
  // warnings
  {
    code: 'MAX_ACTIONS_ZERO',
    severity: 'warning',
    path: `${P}.strategy.maxActionsPerDay`,
    doc: data(on({ strategy: { maxActionsPerDay: 0 } })),
    says: 'no automatic resize will ever happen',
  },
  {
    code: 'MIN_AVAILABLE_ABOVE_SIZE',
    severity: 'warning',
    path: `${P}.triggers.minAvailable`,
    doc: data(on({ triggers: { minAvailable: '20Gi' } })),
    sizes: { data: 10n * GiB },
    says: 'fires on every pass',
  },
  {
    code: 'LIMIT_NOT_ABOVE_SIZE',
    severity: 'warning',
    path: `${P}.expansion.limit`,
    doc: data(on({ expansion: { limit: '10Gi' } })),
    sizes: { data: 10n * GiB },
    says: 'will not be resized',
  },
  {
    code: 'STEP_BOUNDS_IGNORED',
    severity: 'warning',
    path: `${P}.expansion.minStep`,
    doc: data(on({ expansion: { step: '10Gi', minStep: '1Gi', maxStep: '20Gi' } })),
    says: 'ignored',
  },
  {
    code: 'STEP_BOUNDS_IGNORED',
    severity: 'warning',
    path: `${P}.expansion.maxStep`,
    doc: data(on({ expansion: { step: '10Gi', maxStep: '20Gi' } })),
  },
  {
    code: 'STEP_ABOVE_SIZE',
    severity: 'warning',
    path: `${P}.expansion.step`,
    doc: data(on({ expansion: { step: '20Gi' } })),
    sizes: { data: 10n * GiB },
    says: 'more than 100% of the current size',
  },
  {
    code: 'WAL_RISK_ACK_UNNEEDED',
    severity: 'warning',
    path: `${W}.strategy.walSafetyPolicy.acknowledgeWALRisk`,
    doc: wal(on({ strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } } })),
    shape: withWal,
    says: 'has no effect',
  },
  {
    code: 'ARCHIVE_CHECK_WITHOUT_ARCHIVING',
    severity: 'warning',
    path: `${W}.strategy.walSafetyPolicy.requireArchiveHealthy`,
    doc: wal(on({ strategy: { walSafetyPolicy: { requireArchiveHealthy: true } } })),
    shape: noArchive,
    says: 'the archive check is skipped',
  },
  {
    code: 'MIN_STEP_ABOVE_ROOM',
    severity: 'warning',
    path: `${P}.expansion.minStep`,
    doc: data(on({ expansion: { limit: '100Gi' } })),
    sizes: { data: 99n * GiB },
    says: 'goes straight to the limit',
  },
  {
    code: 'WAL_SAFETY_NOT_APPLICABLE',
    severity: 'warning',
    path: 'tablespaces.tbs1.resize.strategy.walSafetyPolicy',
    doc: { tablespaces: { tbs1: { resize: on({ strategy: { walSafetyPolicy: { maxPendingWALFiles: 5 } } }) } } },
    shape: withWal,
    says: 'no effect on this tablespace volume',
  },
  {
    code: 'WAL_SAFETY_NOT_APPLICABLE',
    severity: 'warning',
    path: `${P}.strategy.walSafetyPolicy`,
    doc: data(on({ strategy: { walSafetyPolicy: { maxPendingWALFiles: 5 } } })),
    shape: withWal,
    says: 'no effect on this data volume',
  },
  {
    code: 'UNKNOWN_TABLESPACE',
    severity: 'warning',
    path: 'tablespaces.nope',
    doc: { tablespaces: { nope: { resize: on({}) } } },
    shape: withWal,
    says: 'the cluster has no tablespace "nope"',
  },
  {
    code: 'NO_WAL_VOLUME',
    severity: 'warning',
    path: W,
    doc: wal(on({})),
    shape: single,
    says: 'the walStorage policy has no effect',
  },
];

describe('triggers.predictive', () => {
  const ctx = volumeContext('data', withWal, undefined);
  it('is off unless written (opt-in)', () => {
    expect(validateResizeBlock(on({}), P, ctx).policy?.triggers.predictive).toBeUndefined();
  });
  it('an empty block turns it on with the defaults: 24h horizon, 6h window, 12 samples', () => {
    expect(validateResizeBlock(on({ triggers: { predictive: {} } }), P, ctx).policy?.triggers.predictive).toEqual({
      horizonMs: 24 * 3_600_000,
      windowMs: 6 * 3_600_000,
      minSamples: 12,
    });
  });
  it('parses s, m, h and d, fractions included', () => {
    const r = validateResizeBlock(
      on({ triggers: { predictive: { horizon: '1.5d', window: '4.5h', minSamples: 3 } } }),
      P,
      ctx,
    );
    expect(r.issues).toEqual([]);
    expect(r.policy?.triggers.predictive).toEqual({ horizonMs: 36 * 3_600_000, windowMs: 270 * 60_000, minSamples: 3 });
    expect(
      validateResizeBlock(on({ triggers: { predictive: { window: '45s' } } }), P, ctx).policy?.triggers.predictive
        ?.windowMs,
    ).toBe(45_000);
  });
  it('enabled: false keeps it off without losing the validation of its fields', () => {
    const r = validateResizeBlock(on({ triggers: { predictive: { enabled: false, horizon: '6h' } } }), P, ctx);
    expect(r.policy?.triggers.predictive).toBeUndefined();
    expect(
      validateResizeBlock(on({ triggers: { predictive: { enabled: false, horizon: 'soon' } } }), P, ctx).policy,
    ).toBeUndefined();
  });
  it('a horizon of exactly 8 windows is no warning; one second more is', () => {
    const at = (horizon: string) =>
      validateResizeBlock(on({ triggers: { predictive: { horizon, window: '1h' } } }), P, ctx).issues.map(
        (i) => i.code,
      );
    expect(at('8h')).toEqual([]);
    expect(at(`${8 * 3600 + 1}s`)).toEqual(['PREDICTIVE_HORIZON_FAR']);
  });
});

describe('every issue code, with its path', () => {
  it.each(rows.map((r) => [r.code, r.path, r] as const))('%s at %j', (_code, _path, row) => {
    const result = validatePolicyDocument(row.doc, row.shape, row.sizes);
    const hit = result.issues.find((i) => i.code === row.code && i.path === row.path);
    expect(hit, JSON.stringify(result.issues, null, 1)).toBeDefined();
    const issue = hit as PolicyIssue;
    expect(issue.severity).toBe(row.severity);
    expect(issue.message.length).toBeGreaterThan(10);
    if (row.says) expect(issue.message).toContain(row.says);
    expect(hasErrors(result.issues)).toBe(
      row.severity === 'error' || hasErrors(result.issues.filter((i) => i !== issue)),
    );
  });

  it('the table covers every IssueCode declared in validation.ts', () => {
    const source = readFileSync(new URL('../src/validation.ts', import.meta.url), 'utf8');
    const union = /export type IssueCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
    const declared = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]).sort();
    expect(declared.length).toBeGreaterThan(20);
    expect([...new Set(rows.map((r) => r.code))].sort()).toEqual(declared);
  });
});

describe('boundaries that are not issues', () => {
  const clean = (doc: unknown, shape?: ClusterShape, sizes?: VolumeSizes) =>
    expect(validatePolicyDocument(doc, shape, sizes).issues).toEqual([]);

  it('thresholds 1 and 99, steps 1% and 100%, maxActionsPerDay 10, minStep = maxStep', () => {
    clean(data(on({ triggers: { usageThreshold: 1 } })));
    clean(data(on({ triggers: { usageThreshold: 99 } })));
    clean(data(on({ expansion: { step: '1%' } })));
    clean(data(on({ expansion: { step: '100%' } })));
    clean(data(on({ expansion: { step: '12.5%', minStep: '3Gi', maxStep: '3Gi' } })));
    clean(data(on({ strategy: { maxActionsPerDay: 10 } })));
  });
  it('a limit one byte above the size, minAvailable equal to the size, a step equal to the size', () => {
    // (an absolute step: a percentage would warn that minStep 2Gi exceeds the 1-byte room)
    clean(data(on({ expansion: { limit: '10Gi', step: '1Gi' } })), withWal, { data: 10n * GiB - 1n });
    clean(data(on({ triggers: { minAvailable: '10Gi' } })), withWal, { data: 10n * GiB });
    clean(data(on({ expansion: { step: '10Gi' } })), withWal, { data: 10n * GiB });
  });
  it('minStep exactly the room left below the limit', () => {
    clean(data(on({ expansion: { limit: '100Gi' } })), withWal, { data: 98n * GiB });
  });
  it('a disabled block on a single-volume cluster needs no acknowledgement, nor warns about 0 actions', () => {
    clean(data({ enabled: false, strategy: { maxActionsPerDay: 0 } }), single);
  });
  it('acknowledged single-volume data is clean', () => {
    clean(data(on({ strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } } })), single);
  });
  it('default requireArchiveHealthy does not warn on a cluster without archiving (only a written one does)', () => {
    clean(wal(on({})), noArchive);
  });
  it('walSafetyPolicy on data when the cluster shape is unknown is not called inapplicable', () => {
    clean(data(on({ strategy: { walSafetyPolicy: { maxPendingWALFiles: 5 } } })));
  });
  it('apiVersion and kind are allowed, null holders and blocks are ignored', () => {
    clean({ apiVersion: 'disk.cnpg-plugin.dev/v1alpha1', kind: 'ResizePolicy', storage: null, tablespaces: null });
    clean({ storage: {} });
  });
});

describe('the resolved policy', () => {
  it('a full block yields every field parsed', () => {
    const r = validatePolicyDocument(
      wal({
        enabled: true,
        triggers: { usageThreshold: 85, minAvailable: '5Gi' },
        expansion: { step: '25%', minStep: '1Gi', maxStep: '100Gi', limit: '2Ti' },
        strategy: {
          maxActionsPerDay: 2,
          walSafetyPolicy: {
            acknowledgeWALRisk: false,
            requireArchiveHealthy: false,
            maxPendingWALFiles: 50,
            maxSlotRetentionBytes: '20Gi',
            alertOnResize: false,
          },
        },
      }),
      withWal,
    );
    expect(r.issues).toEqual([]);
    expect(r.wal?.policy).toEqual({
      enabled: true,
      triggers: { usageThreshold: 85, minAvailableBytes: 5n * GiB },
      expansion: {
        step: { kind: 'percent', basisPoints: 2500 },
        minStepBytes: GiB,
        maxStepBytes: 100n * GiB,
        limitBytes: 2048n * GiB,
      },
      strategy: {
        maxActionsPerDay: 2,
        walSafetyPolicy: {
          acknowledgeWALRisk: false,
          requireArchiveHealthy: false,
          maxPendingWALFiles: 50,
          maxSlotRetentionBytes: 20n * GiB,
          alertOnResize: false,
        },
      },
    });
  });

  it('sizes may be plain byte numbers; steps may have two decimals and surrounding spaces', () => {
    const r = validatePolicyDocument(
      data(on({ triggers: { minAvailable: 1073741824 }, expansion: { step: ' 12.25 % ' } })),
    );
    expect(r.data?.policy?.triggers.minAvailableBytes).toBe(GiB);
    expect(r.data?.policy?.expansion.step).toEqual({ kind: 'percent', basisPoints: 1225 });
    expect(validatePolicyDocument(data(on({ expansion: { step: ' 10Gi ' } }))).data?.policy?.expansion.step).toEqual({
      kind: 'absolute',
      bytes: 10n * GiB,
    });
  });

  it('an empty block is the defaults; so is a null resize', () => {
    expect(validatePolicyDocument(data({})).data?.policy).toEqual(defaultPolicy());
    expect(validatePolicyDocument(data(null)).data?.policy).toEqual(defaultPolicy());
    expect(defaultPolicy()).toMatchObject({
      enabled: false,
      triggers: { usageThreshold: 80 },
      expansion: { step: { kind: 'percent', basisPoints: 2000 }, minStepBytes: 2n * GiB, maxStepBytes: 500n * GiB },
      strategy: {
        maxActionsPerDay: 3,
        walSafetyPolicy: {
          acknowledgeWALRisk: false,
          requireArchiveHealthy: true,
          maxPendingWALFiles: 100,
          maxSlotRetentionBytes: 0n,
          alertOnResize: true,
        },
      },
    });
  });

  it('defaultPolicy() is a fresh copy each time', () => {
    const a = defaultPolicy();
    a.expansion.step = { kind: 'absolute', bytes: 1n };
    a.strategy.walSafetyPolicy.alertOnResize = false;
    expect(defaultPolicy().expansion.step).toEqual({ kind: 'percent', basisPoints: 2000 });
    expect(defaultPolicy().strategy.walSafetyPolicy.alertOnResize).toBe(true);
  });

  it('a block with an error yields no policy; warnings alone do not stop it', () => {
    expect(validatePolicyDocument(data(on({ triggers: { usageThreshold: 0 } }))).data?.policy).toBeUndefined();
    const warned = validatePolicyDocument(data(on({ strategy: { maxActionsPerDay: 0 } })));
    expect(warned.issues.map((i) => i.severity)).toEqual(['warning']);
    expect(warned.data?.policy?.strategy.maxActionsPerDay).toBe(0);
  });

  it('reports every problem of a block, in field order', () => {
    const r = validatePolicyDocument(
      data({
        enabled: 'x',
        triggers: { usageThreshold: 120 },
        expansion: { step: '20' },
        strategy: { maxActionsPerDay: 99 },
      }),
    );
    expect(r.issues.map((i) => i.code)).toEqual([
      'FIELD_TYPE',
      'THRESHOLD_OUT_OF_RANGE',
      'STEP_BARE_INTEGER',
      'MAX_ACTIONS_OUT_OF_RANGE',
    ]);
  });

  it('validateResizeBlock alone: absent is the defaults, a non-mapping is an error at its own path', () => {
    const ctx = volumeContext('wal', withWal, undefined);
    expect(validateResizeBlock(undefined, 'x.resize', ctx)).toEqual({ policy: defaultPolicy(), issues: [] });
    expect(validateResizeBlock(7, 'x.resize', ctx).issues).toEqual([
      { severity: 'error', code: 'DOCUMENT_INVALID', path: 'x.resize', message: 'resize must be a mapping.' },
    ]);
  });

  it('tablespace blocks are validated against their own size', () => {
    const r = validatePolicyDocument(
      { tablespaces: { tbs1: { resize: on({ expansion: { limit: '5Gi' } }) } } },
      withWal,
      { tablespaces: { tbs1: 5n * GiB } },
    );
    expect(r.tablespaces['tbs1']?.issues.map((i) => [i.code, i.path])).toEqual([
      ['LIMIT_NOT_ABOVE_SIZE', 'tablespaces.tbs1.resize.expansion.limit'],
    ]);
    expect(r.tablespaces['tbs1']?.policy).toBeDefined();
  });
});

describe('volumeContext', () => {
  it('describes each volume of a cluster', () => {
    expect(volumeContext('data', single, { data: 5n })).toEqual({
      type: 'data',
      walSafetyApplies: true,
      singleVolumeData: true,
      hasWalVolume: false,
      archivingConfigured: true,
      currentBytes: 5n,
    });
    expect(volumeContext('wal', withWal, { wal: 6n })).toMatchObject({
      walSafetyApplies: true,
      singleVolumeData: false,
      hasWalVolume: true,
      currentBytes: 6n,
    });
    expect(volumeContext('tablespace', withWal, { tablespaces: { a: 7n } }, 'a')).toMatchObject({
      tablespace: 'a',
      walSafetyApplies: false,
      currentBytes: 7n,
    });
    const unknown = volumeContext('data', undefined, undefined);
    expect(unknown).toEqual({
      type: 'data',
      walSafetyApplies: false,
      singleVolumeData: false,
      hasWalVolume: undefined,
      archivingConfigured: undefined,
    });
    expect(volumeContext('tablespace', withWal, {}).currentBytes).toBeUndefined();
    expect(volumeContext('tablespace', withWal, { tablespaces: { '': 1n } }).currentBytes).toBe(1n);
  });
});

describe('validateClusterSpecPolicy', () => {
  it('validates spec.storage, spec.walStorage and spec.tablespaces[] with spec paths', () => {
    const spec = {
      instances: 3,
      storage: { size: '10Gi', resize: on({ triggers: { usageThreshold: 0 } }) },
      walStorage: { size: '5Gi', resize: on({ expansion: { step: '5' } }) },
      tablespaces: [
        { name: 'a', storage: { size: '1Gi' } },
        { name: 'b', storage: { size: '1Gi', resize: on({ strategy: { maxActionsPerDay: 20 } }) } },
        { storage: { resize: on({}) } },
        'junk',
      ],
    };
    const r = validateClusterSpecPolicy(spec, withWal);
    expect(r.issues.map((i) => [i.code, i.path])).toEqual([
      ['THRESHOLD_OUT_OF_RANGE', 'spec.storage.resize.triggers.usageThreshold'],
      ['STEP_BARE_INTEGER', 'spec.walStorage.resize.expansion.step'],
      ['MAX_ACTIONS_OUT_OF_RANGE', 'spec.tablespaces[1].storage.resize.strategy.maxActionsPerDay'],
    ]);
    expect(Object.keys(r.tablespaces)).toEqual(['b']);
    expect(r.data?.policy).toBeUndefined();
  });

  it('a spec without resize fields has no blocks; a non-object spec has nothing', () => {
    expect(validateClusterSpecPolicy({ storage: { size: '1Gi' }, tablespaces: 'x' })).toEqual({
      tablespaces: {},
      issues: [],
    });
    expect(validateClusterSpecPolicy(null)).toEqual({ tablespaces: {}, issues: [] });
    const ok = validateClusterSpecPolicy({ walStorage: { resize: on({}) } }, withWal);
    expect(ok.wal?.policy?.enabled).toBe(true);
  });
});
