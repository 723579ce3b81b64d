/**
 * Findings, on their own: they read only the report (no snapshot), so every
 * case here is a hand-built ClusterReport. Thresholds come from the exported
 * constants, so a row cannot agree with a wrong threshold by accident.
 */
import { describe, expect, it } from 'vitest';
import { FS_MISMATCH_MIN_BYTES, GiB, percentUsed, type FilesystemFacts } from '@cnpg-disk/core';
import {
  AUTORESIZE_EVENT_WINDOW_MS,
  findingsForCluster,
  NEAR_FULL_CRITICAL,
  NEAR_FULL_WARNING,
  RESIZE_STUCK_AFTER_MS,
  sortFindings,
} from '../../../src/analysis/findings.js';
import type { ClusterReport, VolumeReport, WarningEvent } from '../../../src/analysis/report.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');

function report(over: Partial<ClusterReport> = {}): ClusterReport {
  return {
    namespace: 'ns',
    name: 'pg',
    shape: { namespace: 'ns', name: 'pg', singleVolume: false, tablespaces: [], archiving: { configured: true } },
    instances: [],
    volumes: [],
    findings: [],
    operatorStatus: [],
    autoResizeEvents: [],
    warningEvents: [],
    policyIssues: [],
    problems: [],
    ...over,
  } as ClusterReport;
}

/** A data volume of pg-1 whose filesystem is `total` bytes with `used` used. */
function volume(total: bigint, used: bigint, over: Partial<VolumeReport> = {}): VolumeReport {
  const fs: FilesystemFacts = { totalBytes: total, usedBytes: used, availableBytes: total - used, source: 'test' };
  return {
    namespace: 'ns',
    cluster: 'pg',
    instance: 'pg-1',
    pvcName: 'pg-1',
    type: 'data',
    pvc: { requestBytes: total, capacityBytes: total, conditions: [] },
    filesystem: { ...fs, percentUsed: percentUsed(fs) },
    policy: { source: 'defaults', enabled: false, errors: [] },
    lastResizes: [],
    ...over,
  };
}

const codes = (r: ClusterReport, now = NOW) => findingsForCluster(r, now).map((f) => `${f.severity} ${f.code}`);

describe('volume near full', () => {
  const total = 1000n * GiB;
  const at = (pct: number) => (total * BigInt(pct * 10)) / 1000n;
  it('above the warning threshold is a warning; at the critical threshold critical; at or below the warning nothing', () => {
    expect(codes(report({ volumes: [volume(total, at(NEAR_FULL_WARNING))] }))).not.toContain(
      'warning VOLUME_NEAR_FULL',
    );
    expect(codes(report({ volumes: [volume(total, at(NEAR_FULL_WARNING + 0.1))] }))).toContain(
      'warning VOLUME_NEAR_FULL',
    );
    expect(codes(report({ volumes: [volume(total, at(NEAR_FULL_CRITICAL - 0.1))] }))).toContain(
      'warning VOLUME_NEAR_FULL',
    );
    expect(codes(report({ volumes: [volume(total, at(NEAR_FULL_CRITICAL))] }))).toContain('critical VOLUME_NEAR_FULL');
  });
  it('no space available is critical whatever the percentage says', () => {
    const v = volume(total, at(50));
    v.filesystem = { ...v.filesystem!, availableBytes: 0n };
    expect(codes(report({ volumes: [v] }))).toContain('critical VOLUME_NEAR_FULL');
  });
});

describe('PVC state', () => {
  it('a filesystem clearly smaller than the PVC (the rule from core) is a warning', () => {
    const v = volume(10n * GiB, 1n * GiB);
    v.pvc = { ...v.pvc, capacityBytes: 10n * GiB + 2n * FS_MISMATCH_MIN_BYTES + GiB };
    expect(codes(report({ volumes: [v] }))).toContain('warning FILESYSTEM_SMALLER_THAN_PVC');
    expect(codes(report({ volumes: [volume(10n * GiB, 1n * GiB)] }))).not.toContain(
      'warning FILESYSTEM_SMALLER_THAN_PVC',
    );
  });
  it('a failed expansion is one critical finding: from the PVC, or from the decision, never both', () => {
    const failed = volume(10n * GiB, GiB, {
      pvc: { capacityBytes: 10n * GiB, conditions: [{ type: 'NodeResizeError', status: 'True', message: 'no' }] },
    });
    expect(codes(report({ volumes: [failed] })).filter((c) => c === 'critical RESIZE_FAILED')).toHaveLength(1);
    const decided = {
      ...failed,
      decision: { verdict: 'resize-failed', message: 'the last expansion failed' } as VolumeReport['decision'],
    };
    expect(codes(report({ volumes: [decided] })).filter((c) => c === 'critical RESIZE_FAILED')).toHaveLength(1);
  });
  it('Resizing for longer than the stuck limit is RESIZE_STUCK; just under it is not', () => {
    const since = (ms: number) =>
      volume(10n * GiB, GiB, {
        pvc: {
          capacityBytes: 10n * GiB,
          conditions: [{ type: 'Resizing', status: 'True', lastTransitionTime: new Date(NOW - ms).toISOString() }],
        },
      });
    expect(codes(report({ volumes: [since(RESIZE_STUCK_AFTER_MS + 60_000)] }))).toContain('warning RESIZE_STUCK');
    expect(codes(report({ volumes: [since(RESIZE_STUCK_AFTER_MS)] }))).not.toContain('warning RESIZE_STUCK');
  });
});

describe('what the operator and the events say (carried in the report)', () => {
  it("the operator's archiveHealthy=false is ARCHIVE_FAILING when no WAL facts were measured", () => {
    const r = report({
      instances: [{ pod: 'pg-1', role: 'primary', ready: true, restarts: 0, errors: [] }],
      operatorStatus: [{ pod: 'pg-1', volumes: [], archiveHealthy: false }],
    });
    expect(codes(r)).toContain('critical ARCHIVE_FAILING');
    expect(codes({ ...r, operatorStatus: [{ pod: 'pg-1', volumes: [], archiveHealthy: true }] })).not.toContain(
      'critical ARCHIVE_FAILING',
    );
  });
  it('a failing archive is one finding at its highest severity, naming the resizes it blocks', () => {
    const blocked = (instance: string, pvcName: string): VolumeReport =>
      volume(10n * GiB, GiB, {
        instance,
        pvcName,
        type: 'wal',
        decision: {
          verdict: 'blocked',
          reason: 'archive-unhealthy',
          message: `WAL archiving is unhealthy on ${instance}`,
          walSafetyApplies: true,
        } as VolumeReport['decision'],
      });
    const r = report({
      instances: [
        { pod: 'pg-1', role: 'primary', ready: true, restarts: 0, errors: [] },
        { pod: 'pg-2', role: 'replica', ready: true, restarts: 0, errors: [] },
      ],
      operatorStatus: [{ pod: 'pg-1', volumes: [], archiveHealthy: false }],
      volumes: [blocked('pg-1', 'pg-1-wal'), blocked('pg-2', 'pg-2-wal')],
    });
    const found = findingsForCluster(r, NOW);
    const archive = found.filter((f) => /archiv/i.test(f.message));
    // pg-1: one critical finding that names the blocked volume; pg-2's archive is not
    // known to fail, so its blocked resize stays a finding of its own.
    expect(archive.map((f) => `${f.severity} ${f.code} ${f.subject}`)).toEqual([
      'critical ARCHIVE_FAILING ns/pg/pg-1',
      // pg-2 has no WAL facts of its own: unknown is a finding (fail closed), apart from the archive.
      'warning WAL_UNKNOWN ns/pg/pg-2',
      'warning RESIZE_BLOCKED ns/pg/pg-2-wal',
    ]);
    expect(archive[0]!.message).toMatch(/it blocks the resize of pg-1-wal$/);
  });
  it('a slot the engine blocked a resize for is one finding (the slot), naming the volume', () => {
    const r = report({
      instances: [
        {
          pod: 'pg-1',
          role: 'primary',
          ready: true,
          restarts: 0,
          errors: [],
          wal: {
            instance: 'pg-1',
            observedAt: new Date(NOW).toISOString(),
            slots: [
              { name: 'old', type: 'physical', active: false, retainedBytes: 5n * GiB },
              { name: 'other', type: 'physical', active: false, retainedBytes: 2n * GiB },
            ],
          },
        },
      ],
      volumes: [
        volume(10n * GiB, GiB, {
          pvcName: 'pg-1-wal',
          type: 'wal',
          decision: {
            verdict: 'blocked',
            reason: 'slot-retention',
            message: 'inactive slot old on pg-1 retains 5Gi',
            trace: [{ check: 'wal-safety', outcome: 'stop', inputs: { slot: 'old' }, message: '' }],
          } as unknown as VolumeReport['decision'],
        }),
      ],
    });
    const found = findingsForCluster(r, NOW).filter((f) => f.code === 'INACTIVE_SLOT' || f.code === 'RESIZE_BLOCKED');
    expect(found.map((f) => [f.code, f.message.endsWith('it blocks the resize of pg-1-wal')])).toEqual([
      ['INACTIVE_SLOT', true],
      ['INACTIVE_SLOT', false],
    ]);
  });
  it('the same warning event on the same object is one finding, with its count', () => {
    const ev = (objectName: string, message: string, count = 1): WarningEvent => ({
      reason: 'FailedMount',
      objectKind: 'Pod',
      objectName,
      eventName: `${objectName}.1`,
      count,
      message,
    });
    const f = findingsForCluster(
      report({ warningEvents: [ev('pg-1', 'first', 3), ev('pg-1', 'second'), ev('pg-2', 'other')] }),
      NOW,
    );
    expect(f.filter((x) => x.code === 'VOLUME_EVENT').map((x) => x.message)).toEqual([
      'FailedMount on Pod/pg-1 (3×): first',
      'FailedMount on Pod/pg-2: other',
    ]);
  });
  it('a failed automatic resize is reported inside the window only', () => {
    const at = (ms: number) => ({ time: new Date(NOW - ms).toISOString(), pvc: 'pg-1', result: 'failed' });
    expect(codes(report({ autoResizeEvents: [at(AUTORESIZE_EVENT_WINDOW_MS - 1000)] }))).toContain(
      'warning AUTORESIZE_FAILED',
    );
    expect(codes(report({ autoResizeEvents: [at(AUTORESIZE_EVENT_WINDOW_MS + 1000)] }))).not.toContain(
      'warning AUTORESIZE_FAILED',
    );
  });
});

describe('unknown WAL state (fail closed)', () => {
  const bare = { pod: 'pg-1', role: 'primary' as const, ready: true, restarts: 0, errors: [] };
  it('an instance no source gave a WAL fact for is WAL_UNKNOWN, a warning, never healthy', () => {
    const f = findingsForCluster(report({ primary: 'pg-1', instances: [bare] }), NOW);
    expect(f.map((x) => `${x.severity} ${x.code}`)).toEqual(['warning WAL_UNKNOWN']);
    expect(f[0]!.message).toBe(
      'no source gave WAL facts for pg-1: archiving, the .ready backlog and replication slots are unknown',
    );
    // any WAL fact at all (the operator's judgement included) is not "unknown"
    expect(
      codes(report({ instances: [bare], operatorStatus: [{ pod: 'pg-1', volumes: [], archiveHealthy: true }] })),
    ).toEqual([]);
  });
  it('ContinuousArchiving=False on the Cluster is ARCHIVE_FAILING on the primary; slots and backlog stay unknown', () => {
    const r = report({
      primary: 'pg-1',
      instances: [bare, { ...bare, pod: 'pg-2', role: 'replica' }],
      continuousArchiving: { status: 'False', reason: 'ContinuousArchivingFailing', message: 'upload failed' },
    });
    const f = findingsForCluster(r, NOW);
    expect(f.map((x) => `${x.severity} ${x.code} ${x.subject}`)).toEqual([
      'critical ARCHIVE_FAILING ns/pg/pg-1',
      'warning WAL_UNKNOWN ns/pg/pg-1',
      'warning WAL_UNKNOWN ns/pg/pg-2',
    ]);
    expect(f[0]!.message).toBe(
      'CloudNativePG reports WAL archiving failing (Cluster condition ContinuousArchiving=False, ContinuousArchivingFailing: upload failed)',
    );
    // archiving switched off: the condition is not judged
    expect(codes({ ...r, shape: { ...r.shape, archiving: { configured: false } } })).not.toContain(
      'critical ARCHIVE_FAILING',
    );
  });
  it('ContinuousArchiving=True says archiving works, but the instance stays unknown for slots and backlog', () => {
    const f = findingsForCluster(
      report({ primary: 'pg-1', instances: [bare], continuousArchiving: { status: 'True' } }),
      NOW,
    );
    expect(f.map((x) => `${x.severity} ${x.code}`)).toEqual(['warning WAL_UNKNOWN']);
    expect(f[0]!.message).toMatch(
      /archiving working \(ContinuousArchiving=True\), but its \.ready backlog and replication slots are unknown/,
    );
  });
});

describe('ranking', () => {
  it('critical before warning before info, then by subject and code', () => {
    const f = sortFindings([
      { severity: 'info', code: 'B', subject: 'a', message: '' },
      { severity: 'warning', code: 'B', subject: 'b', message: '' },
      { severity: 'critical', code: 'Z', subject: 'z', message: '' },
      { severity: 'warning', code: 'A', subject: 'b', message: '' },
      { severity: 'warning', code: 'C', subject: 'a', message: '' },
    ]);
    expect(f.map((x) => `${x.severity} ${x.subject} ${x.code}`)).toEqual([
      'critical z Z',
      'warning a C',
      'warning b A',
      'warning b B',
      'info a B',
    ]);
  });
});
