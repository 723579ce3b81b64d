/**
 * JSON codec: BigInt as decimal strings, and decoders that reject malformed
 * documents with the path of every problem instead of casting them.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GiB,
  PROBE_REPORT_API_VERSION,
  PROBE_REPORT_KIND,
  bigintReplacer,
  decodeFilesystemFacts,
  decodeProbeReport,
  decodeWalHealth,
  toPlain,
  type Decoded,
} from '@cnpg-disk/core';

function problems<T>(d: Decoded<T>): string[] {
  return d.ok ? [] : d.problems;
}

describe('BigInt in JSON', () => {
  it('writes byte counts as exact decimal strings', () => {
    const big = 2n ** 63n + 1n;
    expect(JSON.stringify({ a: big, b: 1 }, bigintReplacer)).toBe('{"a":"9223372036854775809","b":1}');
    expect(toPlain({ x: [1n, { y: 10n * GiB }], s: 'k' })).toEqual({ x: ['1', { y: '10737418240' }], s: 'k' });
  });
});

describe('decodeFilesystemFacts', () => {
  it('rejects a filesystem of size 0 and more available than the whole filesystem (contradictions, never judged)', () => {
    const zero = decodeFilesystemFacts({ totalBytes: '0', usedBytes: '0', availableBytes: '0' }, 'fs');
    if (zero.ok) throw new Error('accepted a filesystem of size 0');
    expect(zero.problems).toEqual(['fs: totalBytes is 0 (no filesystem has size 0)']);
    const over = decodeFilesystemFacts({ totalBytes: '100', usedBytes: '10', availableBytes: '500' }, 'fs');
    if (over.ok) throw new Error('accepted more available than total');
    expect(over.problems).toEqual(['fs: availableBytes 500 exceeds totalBytes 100']);
  });
  it('reads strings and safe integers exactly', () => {
    const d = decodeFilesystemFacts({
      totalBytes: '45035996273704961',
      usedBytes: 1024,
      availableBytes: '0',
      inodesTotal: 100,
      inodesUsed: '10',
      inodesFree: 90,
      source: 'probe',
      observedAt: '2026-11-26T13:00:00+01:00',
    });
    expect(d).toEqual({
      ok: true,
      value: {
        totalBytes: 45_035_996_273_704_961n,
        usedBytes: 1024n,
        availableBytes: 0n,
        inodesTotal: 100n,
        inodesUsed: 10n,
        inodesFree: 90n,
        source: 'probe',
        observedAt: '2026-11-26T12:00:00.000Z',
      },
    });
  });

  it('leaves optional fields out rather than undefined', () => {
    const d = decodeFilesystemFacts({ totalBytes: 10, usedBytes: 5, availableBytes: 5, observedAt: '' });
    expect(d.ok && Object.keys(d.value)).toEqual(['totalBytes', 'usedBytes', 'availableBytes']);
  });

  it.each([
    ['not an object', [], [': expected an object']],
    ['null', null, [': expected an object']],
    ['missing fields', {}, ['.totalBytes: missing', '.usedBytes: missing', '.availableBytes: missing']],
    [
      'a float, a negative, a huge number, text',
      { totalBytes: 1.5, usedBytes: -1, availableBytes: 2 ** 60 },
      [
        '.totalBytes: expected a non-negative whole number of bytes, got 1.5',
        '.usedBytes: expected a non-negative whole number of bytes, got -1',
        '.availableBytes: expected a non-negative whole number of bytes, got 1152921504606847000',
      ],
    ],
    [
      'a quantity string',
      { totalBytes: '10Gi', usedBytes: '1', availableBytes: '1' },
      ['.totalBytes: expected a non-negative whole number of bytes, got "10Gi"'],
    ],
    [
      'used above total',
      { totalBytes: 10, usedBytes: 11, availableBytes: 0 },
      [': usedBytes 11 exceeds totalBytes 10'],
    ],
    [
      'wrong optional types',
      { totalBytes: 1, usedBytes: 1, availableBytes: 0, source: 5, observedAt: 'noon' },
      ['.source: expected a string', '.observedAt: not a time: "noon"'],
    ],
  ])('%s → problems with paths', (_name, doc, want) => {
    expect(problems(decodeFilesystemFacts(doc, 'fs'))).toEqual(want.map((w) => `fs${w}`));
  });
});

describe('decodeWalHealth', () => {
  const full = {
    instance: 'pg-2',
    isPrimary: false,
    archivingConfigured: true,
    archiver: {
      archivedCount: 10,
      failedCount: '1',
      lastArchivedWal: '00000001000000000000000A',
      lastArchivedTime: '2026-11-26T12:00:00Z',
      lastFailedWal: '000000010000000000000009',
      lastFailedTime: '2026-11-26T11:00:00Z',
    },
    readyFiles: 3,
    doneFiles: 7,
    walDirBytes: '1073741824',
    slots: [
      { name: 'a', type: 'physical', active: true, retainedBytes: '0', walStatus: 'reserved', safeWalSizeBytes: '-5' },
      { name: 'b', type: 'logical', active: false, safeWalSizeBytes: 100 },
    ],
    source: 'probe',
    observedAt: '2026-11-26T12:00:01Z',
  };

  it('reads a full document', () => {
    const d = decodeWalHealth(full);
    expect(d.ok).toBe(true);
    expect(d.ok && d.value).toEqual({
      ...full,
      archiver: {
        ...full.archiver,
        failedCount: 1,
        lastArchivedTime: '2026-11-26T12:00:00.000Z',
        lastFailedTime: '2026-11-26T11:00:00.000Z',
      },
      walDirBytes: GiB,
      slots: [
        { name: 'a', type: 'physical', active: true, retainedBytes: 0n, walStatus: 'reserved', safeWalSizeBytes: -5n },
        { name: 'b', type: 'logical', active: false, safeWalSizeBytes: 100n },
      ],
      observedAt: '2026-11-26T12:00:01.000Z',
    });
  });

  it('a bare instance is enough; counts default to 0 in an empty archiver', () => {
    expect(decodeWalHealth({ instance: 'pg-1', archiver: {} })).toEqual({
      ok: true,
      value: { instance: 'pg-1', archiver: { archivedCount: 0, failedCount: 0 } },
    });
  });

  it('names every problem with its full path, slots included', () => {
    const d = decodeWalHealth(
      {
        isPrimary: 'yes',
        archiver: { archivedCount: -1, failedCount: 'x', lastFailedTime: 5 },
        readyFiles: 1.5,
        slots: [{ type: 'temporary', retainedBytes: 'lots', safeWalSizeBytes: 'neg' }, 7],
      },
      'report.wal',
    );
    expect(problems(d)).toEqual([
      'report.wal.instance: missing',
      'report.wal.archiver.archivedCount: expected a count, got -1',
      'report.wal.archiver.failedCount: expected a count, got "x"',
      'report.wal.archiver.lastFailedTime: expected a string',
      'report.wal.slots[0].name: missing',
      'report.wal.slots[0].type: expected physical or logical',
      'report.wal.slots[0].active: missing',
      'report.wal.slots[0].retainedBytes: expected a non-negative whole number of bytes, got "lots"',
      'report.wal.slots[0].safeWalSizeBytes: expected a whole number of bytes, got "neg"',
      'report.wal.slots[1]: expected an object',
      'report.wal.isPrimary: expected true or false',
      'report.wal.readyFiles: expected a count, got 1.5',
    ]);
  });

  it('rejects a non-object, a non-list of slots, a non-object archiver', () => {
    expect(problems(decodeWalHealth('x'))).toEqual([': expected an object']);
    expect(problems(decodeWalHealth({ instance: 'p', slots: {} }))).toEqual(['.slots: expected a list']);
    expect(problems(decodeWalHealth({ instance: 'p', archiver: [] }))).toEqual(['.archiver: expected an object']);
  });

  it('never throws, whatever it is given (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const d = decodeWalHealth(v);
        expect(typeof d.ok).toBe('boolean');
      }),
    );
  });
});

describe('decodeProbeReport', () => {
  const report = {
    apiVersion: PROBE_REPORT_API_VERSION,
    kind: PROBE_REPORT_KIND,
    instance: 'pg-1',
    namespace: 'db',
    cluster: 'pg',
    observedAt: '2026-11-26T12:00:00Z',
    volumes: [
      {
        type: 'data',
        mountPath: '/var/lib/postgresql/data',
        filesystem: { totalBytes: '100', usedBytes: '50', availableBytes: '45' },
      },
      { type: 'tablespace', tablespace: 'tbs1', mountPath: '/var/lib/postgresql/tablespaces/tbs1' },
    ],
    wal: { instance: 'pg-1', readyFiles: 0 },
    postgres: { version: '15.10', inRecovery: false, archiveMode: 'on', archiveCommandSet: true, archiveLibrary: '' },
    errors: [{ field: 'volumes.tablespace', code: 'EACCES', message: 'permission denied' }],
  };

  it('reads a valid report', () => {
    const d = decodeProbeReport(report);
    expect(d.ok).toBe(true);
    expect(d.ok && d.value).toEqual({
      ...report,
      observedAt: '2026-11-26T12:00:00.000Z',
      volumes: [
        { ...report.volumes[0], filesystem: { totalBytes: 100n, usedBytes: 50n, availableBytes: 45n } },
        report.volumes[1],
      ],
    });
  });

  it('names every problem with its path', () => {
    const d = decodeProbeReport(
      {
        apiVersion: 'v0',
        volumes: [{ type: 'swap', filesystem: { totalBytes: 1 } }, { type: 'tablespace', mountPath: '/x' }, 'junk'],
        wal: { instance: 5 },
        postgres: { inRecovery: 'no' },
        errors: [{ field: 'x' }, 3],
      },
      'r',
    );
    expect(problems(d)).toEqual([
      `r.apiVersion: expected ${PROBE_REPORT_API_VERSION}, got "v0"`,
      `r.kind: expected ${PROBE_REPORT_KIND}, got undefined`,
      'r.instance: missing',
      'r.observedAt: missing',
      'r.volumes[0].type: expected data, wal or tablespace',
      'r.volumes[0].mountPath: missing',
      'r.volumes[0].filesystem.usedBytes: missing',
      'r.volumes[0].filesystem.availableBytes: missing',
      'r.volumes[1].tablespace: missing',
      'r.volumes[2]: expected an object',
      'r.wal.instance: expected a string',
      'r.wal.instance: missing',
      'r.postgres.inRecovery: expected true or false',
      'r.errors[0]: field and message are required',
      'r.errors[1]: expected an object',
    ]);
  });

  it('null optional fields are absent; a volume without a type is reported, not guessed', () => {
    const d = decodeProbeReport({
      ...report,
      postgres: null,
      wal: { instance: 'pg-1', slots: [{ name: 's', type: 'physical', active: false, safeWalSizeBytes: null }] },
    });
    expect(d.ok && d.value.postgres).toBeUndefined();
    expect(d.ok && d.value.wal.slots).toEqual([{ name: 's', type: 'physical', active: false }]);
    expect(problems(decodeProbeReport({ ...report, volumes: [{ mountPath: '/x' }] }))).toEqual([
      '.volumes[0].type: expected data, wal or tablespace',
    ]);
  });

  it('rejects a non-object and missing lists', () => {
    expect(problems(decodeProbeReport(7))).toEqual([': expected an object']);
    const noLists = { ...report, volumes: undefined, errors: 'none' };
    expect(problems(decodeProbeReport(noLists))).toEqual(['.volumes: expected a list', '.errors: expected a list']);
    expect(problems(decodeProbeReport({ ...report, postgres: 'x' }))).toEqual(['.postgres: expected an object']);
  });
});
