/**
 * The policy as the CNPG-I plugin's parameters (a map of strings): the
 * conversion to a policy document, validation with the document's own codes
 * and sentences (paths are parameter keys), the plugin's entry in a Cluster,
 * the shape and sizes a Cluster object declares, and the plugin's place in
 * the order of policy sources.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GiB,
  PARAMETER_FIELDS,
  PLUGIN_NAME,
  clusterShapeOf,
  declaredSizesOf,
  parameterKeyOfPath,
  parseParameterKey,
  pluginEntryOf,
  pluginPolicyOf,
  policyDocumentFromParameters,
  resolvePolicy,
  validatePluginParameters,
  validatePolicyDocument,
} from '@cnpg-disk/core';
import { cluster } from './fixtures.js';

const walCluster = cluster({ singleVolume: false, tablespaces: ['idx'], archiving: { configured: true } });

describe('policyDocumentFromParameters', () => {
  it('puts every field where the document has it, typed', () => {
    const { document, issues } = policyDocumentFromParameters({
      'data.enabled': 'true',
      'data.usageThreshold': '85',
      'data.minAvailable': '5Gi',
      'data.step': '20%',
      'data.minStep': '2Gi',
      'data.maxStep': '100Gi',
      'data.limit': '500Gi',
      'data.maxActionsPerDay': '2',
      'wal.acknowledgeWALRisk': 'false',
      'wal.requireArchiveHealthy': 'true',
      'wal.maxPendingWALFiles': '50',
      'wal.maxSlotRetentionBytes': '10Gi',
      'wal.alertOnResize': 'false',
      'tablespace.idx.limit': '200Gi',
      'tablespace.a.b.enabled': 'true',
    });
    expect(issues).toEqual([]);
    expect(document).toEqual({
      storage: {
        resize: {
          enabled: true,
          triggers: { usageThreshold: 85, minAvailable: '5Gi' },
          expansion: { step: '20%', minStep: '2Gi', maxStep: '100Gi', limit: '500Gi' },
          strategy: { maxActionsPerDay: 2 },
        },
      },
      walStorage: {
        resize: {
          strategy: {
            walSafetyPolicy: {
              acknowledgeWALRisk: false,
              requireArchiveHealthy: true,
              maxPendingWALFiles: 50,
              maxSlotRetentionBytes: '10Gi',
              alertOnResize: false,
            },
          },
        },
      },
      tablespaces: { idx: { resize: { expansion: { limit: '200Gi' } } }, 'a.b': { resize: { enabled: true } } },
    });
  });

  it('keeps text that does not parse as its type, for validation to name', () => {
    const { document } = policyDocumentFromParameters({
      'data.enabled': 'yes',
      'data.usageThreshold': '8O',
      'data.maxActionsPerDay': '1.5',
    });
    expect(document.storage?.resize).toEqual({
      enabled: 'yes',
      triggers: { usageThreshold: '8O' },
      strategy: { maxActionsPerDay: 1.5 },
    });
  });

  it('no parameters is an empty document', () => {
    expect(policyDocumentFromParameters(undefined)).toEqual({ document: {}, issues: [] });
    expect(policyDocumentFromParameters(null)).toEqual({ document: {}, issues: [] });
    expect(policyDocumentFromParameters({})).toEqual({ document: {}, issues: [] });
  });

  it('refuses what is not a map, unknown keys and fields, and values that are not strings', () => {
    expect(policyDocumentFromParameters(['data.enabled']).issues).toEqual([
      expect.objectContaining({ code: 'DOCUMENT_INVALID', path: '', severity: 'error' }),
    ]);
    const { issues } = policyDocumentFromParameters({
      enabled: 'true',
      'dta.enabled': 'true',
      'tablespace.enabled': 'true',
      'data.usageTreshold': '80',
      'wal.enabled': true,
    });
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['UNKNOWN_FIELD', 'enabled'],
      ['UNKNOWN_FIELD', 'dta.enabled'],
      ['UNKNOWN_FIELD', 'tablespace.enabled'],
      ['UNKNOWN_FIELD', 'data.usageTreshold'],
      ['FIELD_TYPE', 'wal.enabled'],
    ]);
    expect(issues[3]?.message).toContain('"usageTreshold" (expected one of enabled, usageThreshold,');
    expect(issues[4]?.message).toBe('enabled must be given as a string (plugin parameters are strings), not true.');
  });
});

describe('parseParameterKey / parameterKeyOfPath', () => {
  it('splits keys', () => {
    expect(parseParameterKey('data.limit')).toEqual({ type: 'data', field: 'limit' });
    expect(parseParameterKey('wal.step')).toEqual({ type: 'wal', field: 'step' });
    expect(parseParameterKey('tablespace.x.y.step')).toEqual({ type: 'tablespace', tablespace: 'x.y', field: 'step' });
    expect(parseParameterKey('tablespace..step')).toBeUndefined();
    expect(parseParameterKey('.step')).toBeUndefined();
    expect(parseParameterKey('step')).toBeUndefined();
  });

  it('maps document paths back to keys', () => {
    expect(parameterKeyOfPath('storage.resize.triggers.usageThreshold')).toBe('data.usageThreshold');
    expect(parameterKeyOfPath('walStorage.resize.strategy.walSafetyPolicy.acknowledgeWALRisk')).toBe(
      'wal.acknowledgeWALRisk',
    );
    expect(parameterKeyOfPath('walStorage.resize.strategy.walSafetyPolicy')).toBe('wal');
    expect(parameterKeyOfPath('walStorage.resize')).toBe('wal');
    expect(parameterKeyOfPath('storage')).toBe('data');
    expect(parameterKeyOfPath('tablespaces.idx.resize.expansion.limit')).toBe('tablespace.idx.limit');
    expect(parameterKeyOfPath('tablespaces.a.b.resize.enabled')).toBe('tablespace.a.b.enabled');
    expect(parameterKeyOfPath('tablespaces.idx')).toBe('tablespace.idx');
    expect(parameterKeyOfPath('')).toBe('');
  });

  it('every field round-trips: key → document → validation path → key', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PARAMETER_FIELDS),
        fc.constantFrom('data', 'wal', 'tablespace.idx', 'tablespace.a.b'),
        (field, volume) => {
          const key = `${volume}.${field}`;
          // A value of the wrong type for every field: validation reports an error at that field.
          const { document } = policyDocumentFromParameters({ [key]: '?' });
          const v = validatePolicyDocument(document);
          const paths = v.issues.map((i) => parameterKeyOfPath(i.path));
          expect(paths).toContain(key);
        },
      ),
    );
  });
});

describe('validatePluginParameters', () => {
  it('a valid set resolves to policies', () => {
    const v = validatePluginParameters(
      { 'data.enabled': 'true', 'data.usageThreshold': '85', 'wal.enabled': 'true', 'wal.step': '5Gi' },
      walCluster,
      { data: 10n * GiB, wal: 2n * GiB },
    );
    expect(v.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(v.data?.policy?.triggers.usageThreshold).toBe(85);
    expect(v.wal?.policy?.expansion.step).toEqual({ kind: 'absolute', bytes: 5n * GiB });
    // A 5Gi step on a 2Gi WAL volume: the document's own warning, at the parameter key.
    expect(v.issues).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'STEP_ABOVE_SIZE', path: 'wal.step' }),
    ]);
  });

  it('gives the same codes and sentences as the document, at parameter keys', () => {
    const params = {
      'data.enabled': 'yes',
      'data.usageThreshold': '150',
      'wal.step': '10',
      'wal.minStep': '10Gi',
      'wal.maxStep': '1Gi',
      'tablespace.idx.limit': 'lots',
      'tablespace.nope.enabled': 'true',
    };
    const v = validatePluginParameters(params, walCluster);
    const doc = validatePolicyDocument(policyDocumentFromParameters(params).document, walCluster);
    expect(v.issues.map((i) => [i.code, i.path, i.message])).toEqual(
      doc.issues.map((i) => [i.code, parameterKeyOfPath(i.path), i.message]),
    );
    expect(v.issues.map((i) => [i.code, i.path])).toEqual([
      ['FIELD_TYPE', 'data.enabled'],
      ['THRESHOLD_OUT_OF_RANGE', 'data.usageThreshold'],
      ['STEP_BARE_INTEGER', 'wal.step'],
      ['MIN_STEP_ABOVE_MAX_STEP', 'wal.minStep'],
      ['QUANTITY_INVALID', 'tablespace.idx.limit'],
      ['UNKNOWN_TABLESPACE', 'tablespace.nope'],
    ]);
    expect(v.data?.policy).toBeUndefined();
    expect(v.data?.issues.map((i) => i.path)).toEqual(['data.enabled', 'data.usageThreshold']);
    expect(v.tablespaces['nope']?.policy?.enabled).toBe(true);
  });

  it('the single-volume WAL rule applies to data parameters', () => {
    const v = validatePluginParameters({ 'data.enabled': 'true' }, cluster({ singleVolume: true }));
    expect(v.issues.map((i) => [i.code, i.path])).toEqual([['WAL_RISK_NOT_ACKNOWLEDGED', 'data.acknowledgeWALRisk']]);
    const ok = validatePluginParameters(
      { 'data.enabled': 'true', 'data.acknowledgeWALRisk': 'true' },
      cluster({ singleVolume: true }),
    );
    expect(ok.data?.policy?.enabled).toBe(true);
  });

  it('a bad key rejects its volume block only; a key naming no volume rejects the whole set', () => {
    const v = validatePluginParameters(
      { 'data.enabled': 'true', 'data.usageTreshold': '90', 'wal.enabled': 'true', 'tablespace.idx.stepp': '1Gi' },
      walCluster,
    );
    expect(v.data?.policy).toBeUndefined();
    expect(v.data?.issues.map((i) => i.code)).toEqual(['UNKNOWN_FIELD']);
    expect(v.tablespaces['idx']).toEqual({ issues: [expect.objectContaining({ code: 'UNKNOWN_FIELD' })] });
    expect(v.wal?.policy?.enabled).toBe(true);
    expect(resolvePolicy({ plugin: v }, 'wal').source).toBe('plugin');
    expect(resolvePolicy({ plugin: v }, 'data')).toEqual({
      source: 'plugin',
      errors: [expect.objectContaining({ code: 'UNKNOWN_FIELD', path: 'data.usageTreshold' })],
    });

    const whole = validatePluginParameters({ 'wal.enabled': 'true', 'wall.enabled': 'true' }, walCluster);
    expect(resolvePolicy({ plugin: whole }, 'wal')).toEqual({
      source: 'plugin',
      errors: [expect.objectContaining({ code: 'UNKNOWN_FIELD', path: 'wall.enabled' })],
    });
    const fieldTypeOnWal = validatePluginParameters({ 'wal.enabled': 1 }, walCluster);
    expect(fieldTypeOnWal.wal).toEqual({ issues: [expect.objectContaining({ code: 'FIELD_TYPE' })] });
    const notAMap = validatePluginParameters('data.enabled=true', walCluster);
    expect(resolvePolicy({ plugin: notAMap }, 'data').errors.map((i) => i.code)).toEqual(['DOCUMENT_INVALID']);
  });
});

describe('a Cluster object', () => {
  const clusterObject = (plugins: unknown, spec: Record<string, unknown> = {}) => ({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name: 'pg', namespace: 'db' },
    spec: { instances: 3, storage: { size: '10Gi' }, plugins, ...spec },
  });

  it('finds the plugin entry by name; enabled defaults to true', () => {
    const c = clusterObject([
      { name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true },
      { name: PLUGIN_NAME, parameters: { 'data.enabled': 'true' } },
    ]);
    expect(pluginEntryOf(c)).toEqual({ index: 1, enabled: true, parameters: { 'data.enabled': 'true' } });
    expect(pluginEntryOf(clusterObject([{ name: PLUGIN_NAME, enabled: false }]))?.enabled).toBe(false);
    expect(pluginEntryOf(clusterObject([{ name: 'other' }]))).toBeUndefined();
    expect(pluginEntryOf(clusterObject('not a list'))).toBeUndefined();
    expect(pluginEntryOf({ spec: 'x' })).toBeUndefined();
    expect(pluginEntryOf(null)).toBeUndefined();
  });

  it('its shape and declared sizes', () => {
    const c = clusterObject([{ name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true }], {
      walStorage: { size: '2Gi' },
      tablespaces: [
        { name: 'idx', storage: { size: '5Gi' } },
        { name: 'bad', storage: { size: 'x' } },
        { storage: {} },
      ],
    });
    expect(clusterShapeOf(c)).toEqual({
      namespace: 'db',
      name: 'pg',
      singleVolume: false,
      tablespaces: ['idx', 'bad'],
      archiving: { configured: true, method: 'plugin barman-cloud.cloudnative-pg.io' },
      instances: 3,
    });
    expect(declaredSizesOf(c)).toEqual({ data: 10n * GiB, wal: 2n * GiB, tablespaces: { idx: 5n * GiB } });
    expect(clusterShapeOf(clusterObject(undefined, { backup: { barmanObjectStore: {} } })).archiving).toEqual({
      configured: true,
      method: 'barmanObjectStore',
    });
    expect(clusterShapeOf(null)).toEqual({
      namespace: '',
      name: '',
      singleVolume: true,
      tablespaces: [],
      archiving: { configured: false },
    });
    expect(
      clusterShapeOf({ spec: { plugins: [{ name: 'x', isWALArchiver: true, enabled: false }] } }).archiving,
    ).toEqual({ configured: false });
    expect(declaredSizesOf(undefined)).toEqual({ tablespaces: {} });
  });

  it('pluginPolicyOf: only when listed and enabled, validated against the declared shape and sizes', () => {
    expect(pluginPolicyOf(clusterObject([]))).toBeUndefined();
    expect(
      pluginPolicyOf(clusterObject([{ name: PLUGIN_NAME, enabled: false, parameters: { x: 'y' } }])),
    ).toBeUndefined();
    const v = pluginPolicyOf(
      clusterObject([{ name: PLUGIN_NAME, parameters: { 'data.enabled': 'true', 'data.limit': '5Gi' } }], {
        walStorage: { size: '1Gi' },
      }),
    );
    expect(v?.issues.map((i) => [i.code, i.path])).toEqual([['LIMIT_NOT_ABOVE_SIZE', 'data.limit']]);
    expect(v?.data?.policy?.enabled).toBe(true);
  });

  it('the plugin comes after the Cluster fields and before the annotation', () => {
    const plugin = validatePluginParameters({ 'data.enabled': 'true', 'data.acknowledgeWALRisk': 'true' });
    const annotation = validatePolicyDocument({ storage: { resize: { enabled: false } } });
    const file = validatePolicyDocument({ storage: { resize: { enabled: false } } });
    expect(resolvePolicy({ plugin, annotation }, 'data').source).toBe('plugin');
    expect(resolvePolicy({ file, plugin, annotation }, 'data').source).toBe('file');
    expect(resolvePolicy({ plugin, annotation }, 'wal').source).toBe('defaults');
  });
});
