/**
 * The ProbeReport document: core's decoder reads what the probe writes and
 * names every problem of a malformed one; the resize inputs reject bad files
 * with one line.
 */
import { describe, expect, it } from 'vitest';
import { decodeProbeReport, toPlain } from '@cnpg-disk/core';
import { InputError, parseLedgerFile, reportToJson, resizeMetricsFor } from '../src/index.js';
import { FULL_REPORT } from './helpers/fixtures.js';

describe('decodeProbeReport', () => {
  it('round-trips a report through JSON (byte counts as decimal strings)', () => {
    const plain = toPlain(FULL_REPORT) as Record<string, unknown>;
    expect(JSON.stringify(plain)).toContain('"totalBytes":"100"');
    expect(decodeProbeReport(plain)).toEqual({ ok: true, value: FULL_REPORT });
    expect(decodeProbeReport(JSON.parse(reportToJson(FULL_REPORT)))).toEqual({ ok: true, value: FULL_REPORT });
  });

  it('names each problem of a malformed document', () => {
    const bad = {
      apiVersion: 'v9',
      kind: 'Other',
      observedAt: 'yesterday',
      volumes: [
        { type: 'swap', mountPath: '' },
        { type: 'tablespace', mountPath: '/t', filesystem: { totalBytes: '1', usedBytes: '2', availableBytes: '-1' } },
        7,
      ],
      wal: { slots: 'none' },
      postgres: { inRecovery: 'no' },
      errors: [{ field: 'x' }, 'oops'],
    };
    const d = decodeProbeReport(bad, 'report');
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.problems).toEqual(
      expect.arrayContaining([
        'report.apiVersion: expected disk.cnpg-plugin.dev/v1alpha1, got "v9"',
        'report.kind: expected ProbeReport, got "Other"',
        'report.instance: missing',
        expect.stringContaining('report.observedAt: not a time'),
        'report.volumes[0].type: expected data, wal or tablespace',
        'report.volumes[0].mountPath: missing',
        'report.volumes[1].tablespace: missing',
        expect.stringContaining('report.volumes[1].filesystem.availableBytes'),
        expect.stringContaining('usedBytes 2 exceeds totalBytes 1'),
        'report.volumes[2]: expected an object',
        expect.stringContaining('report.wal.slots'),
        'report.postgres.inRecovery: expected true or false',
        'report.errors[0]: field and message are required',
        'report.errors[1]: expected an object',
      ]),
    );
    expect(decodeProbeReport(null)).toEqual({ ok: false, problems: [': expected an object'] });
    const noLists = decodeProbeReport({ ...(toPlain(FULL_REPORT) as object), volumes: {}, errors: null });
    expect(noLists.ok ? [] : noLists.problems).toEqual(['.volumes: expected a list', '.errors: expected a list']);
  });
});

describe('resize inputs', () => {
  it('parses the ledger file and rejects what it cannot read', () => {
    expect(
      parseLedgerFile({ data: '{"v":1,"entries":[]}', wal: { capacityBytes: '8Gi', ledger: { v: 1, entries: [] } } }),
    ).toEqual({
      data: { ledger: '{"v":1,"entries":[]}' },
      wal: { capacityBytes: 8n << 30n, ledger: '{"v":1,"entries":[]}' },
    });
    expect(() => parseLedgerFile([])).toThrow(InputError);
    expect(() => parseLedgerFile({ swap: '' })).toThrow(/unknown volume key "swap"/);
    expect(() => parseLedgerFile({ data: 3 })).toThrow(/expected the ledger annotation text or an object/);
    expect(() => parseLedgerFile({ data: { requestBytes: 'lots' } })).toThrow(/data\.requestBytes/);
    expect(() => parseLedgerFile({ data: { requestBytes: -1 } })).toThrow(/expected a byte count/);
  });

  it('reports a policy with errors per volume instead of guessing', () => {
    const r = resizeMetricsFor(
      FULL_REPORT,
      { policy: { storage: { resize: { triggers: { usageThreshold: 150 } } } }, ledgers: {} },
      Date.parse(FULL_REPORT.observedAt),
    );
    expect(r.metrics.has('data')).toBe(false);
    expect(r.errors[0]).toMatchObject({ field: 'resize.data', message: expect.stringContaining('usageThreshold') });
    // A volume without a policy block gets the defaults (resize disabled): never blocked; its size is unknown.
    expect(r.metrics.get('tablespace/idx')).toEqual({ budgetRemaining: 3, blocked: null });
  });
});
