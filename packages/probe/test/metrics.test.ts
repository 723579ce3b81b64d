/** The Prometheus text exposition: names, labels, escaping, and what promtool's parser says of it. */
import { describe, expect, it } from 'vitest';
import type { ProbeReport } from '@cnpg-disk/core';
import { BLOCK_REASONS, CONTENT_TYPE, escapeLabelValue, renderMetrics, volumeKey } from '../src/index.js';
import { FULL_REPORT } from './helpers/fixtures.js';
import { sh } from './helpers/sys.js';

function promtoolLint(text: string): string[] {
  try {
    sh('promtool', ['check', 'metrics'], { input: text });
    return [];
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '');
  }
}

describe('renderMetrics', () => {
  it('exposes the spec metric names with namespace, cluster, pod, volume_type and tablespace labels', () => {
    const text = renderMetrics(FULL_REPORT);
    const l = 'cluster_namespace="db",cluster="pg",pod="pg-1"';
    expect(text).toContain(`cnpg_disk_total_bytes{${l},volume_type="data",tablespace=""} 100\n`);
    expect(text).toContain(`cnpg_disk_used_bytes{${l},volume_type="data",tablespace=""} 90\n`);
    expect(text).toContain(`cnpg_disk_available_bytes{${l},volume_type="data",tablespace=""} 5\n`);
    expect(text).toContain(`cnpg_disk_percent_used{${l},volume_type="data",tablespace=""} 94.7368\n`);
    expect(text).toContain(`cnpg_disk_inodes_total{${l},volume_type="data",tablespace=""} 10\n`);
    expect(text).toContain(`cnpg_disk_inodes_used{${l},volume_type="data",tablespace=""} 4\n`);
    expect(text).toContain(`cnpg_disk_inodes_free{${l},volume_type="data",tablespace=""} 6\n`);
    expect(text).toContain(`cnpg_wal_archive_healthy{${l}} 1\n`);
    expect(text).toContain(`cnpg_wal_pending_archive_files{${l}} 2\n`);
    expect(text).toContain(`cnpg_wal_inactive_slots{${l}} 1\n`);
    expect(text).toContain(`cnpg_wal_slot_retention_bytes{${l},slot_name="s"} 7\n`);
    expect(text).toContain(`cnpg_wal_slot_active{${l},slot_name="s"} 0\n`);
    expect(text).toContain(`cnpg_wal_dir_bytes{${l}} 3\n`);
    expect(text).toContain(`cnpg_disk_probe_errors{${l}} 1\n`);
    // A volume that could not be measured has no filesystem series; never a label called instance.
    expect(text).not.toContain('tablespace="idx"');
    expect(text).not.toMatch(/[{,]instance=/);
    // Without policy and ledger, the resize metrics are omitted.
    expect(text).not.toMatch(/cnpg_disk_(at_limit|resize_blocked|resize_budget_remaining|resizes_total)/);
    // One HELP and TYPE per family.
    expect(text.match(/# TYPE cnpg_wal_slot_active gauge/g)).toHaveLength(1);
    expect(CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('writes byte counts above 2^53 exactly', () => {
    const big = 2n ** 60n + 1n;
    const r: ProbeReport = {
      ...FULL_REPORT,
      volumes: [{ type: 'data', mountPath: '/d', filesystem: { totalBytes: big, usedBytes: 0n, availableBytes: big } }],
    };
    expect(renderMetrics(r)).toContain(` ${big.toString()}\n`);
  });

  it('adds the resize metrics when given, every block reason as 0 or 1', () => {
    const resize = new Map([
      [volumeKey({ type: 'data' }), { budgetRemaining: 2, atLimit: false, blocked: 'archive-unhealthy' as const }],
    ]);
    const text = renderMetrics(FULL_REPORT, { resize });
    const l = 'cluster_namespace="db",cluster="pg",pod="pg-1",volume_type="data",tablespace=""';
    expect(text).toContain(`cnpg_disk_at_limit{${l}} 0\n`);
    expect(text).toContain(`cnpg_disk_resize_budget_remaining{${l}} 2\n`);
    for (const reason of BLOCK_REASONS) {
      expect(text).toContain(
        `cnpg_disk_resize_blocked{${l},reason="${reason}"} ${reason === 'archive-unhealthy' ? 1 : 0}\n`,
      );
    }
    // Undecided volumes (facts missing) say nothing about blocking.
    const undecided = renderMetrics(FULL_REPORT, { resize: new Map([['data', { budgetRemaining: 1 }]]) });
    expect(undecided).not.toContain('cnpg_disk_resize_blocked');
    expect(undecided).not.toContain('cnpg_disk_at_limit');
  });

  it('escapes label values (backslash, quote, newline) so promtool parses them', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const r: ProbeReport = {
      ...FULL_REPORT,
      namespace: 'we"ird\\ns',
      wal: { ...FULL_REPORT.wal, slots: [{ name: 'sl\not', type: 'logical', active: true, retainedBytes: 1n }] },
    };
    const text = renderMetrics(r);
    expect(text).toContain('cluster_namespace="we\\"ird\\\\ns"');
    expect(text).toContain('slot_name="sl\\not"');
    // The only thing promtool's linter says is about the spec-mandated name cnpg_disk_inodes_total
    // (it expects _total on counters only); a parse error would be reported instead.
    expect(promtoolLint(text)).toEqual(['cnpg_disk_inodes_total non-counter metrics should not have "_total" suffix']);
  });

  it('omits the archive health when archiving is not active on the instance', () => {
    const text = renderMetrics({ ...FULL_REPORT, wal: { ...FULL_REPORT.wal, archivingConfigured: false } });
    expect(text).not.toContain('cnpg_wal_archive_healthy');
    expect(renderMetrics({ ...FULL_REPORT, volumes: [], wal: { instance: 'x' }, errors: [] })).toBe(
      '# HELP cnpg_disk_probe_errors Parts of the last measurement that could not be made (see /status).\n' +
        '# TYPE cnpg_disk_probe_errors gauge\n' +
        'cnpg_disk_probe_errors{cluster_namespace="db",cluster="pg",pod="pg-1"} 0\n',
    );
  });
});
