import { describe, expect, it } from 'vitest';
import { INSTANCE_LABELS, METRIC_NAMES, METRICS, VOLUME_LABELS } from '../src/metric-names.js';

describe('metric names: one table', () => {
  it('names are unique, valid Prometheus names, with our prefixes', () => {
    expect(new Set(METRIC_NAMES).size).toBe(METRIC_NAMES.length);
    for (const n of METRIC_NAMES) expect(n).toMatch(/^cnpg_(disk|wal)_[a-z_]+$/);
    for (const m of Object.values(METRICS)) {
      // Counters end in _total (cnpg_disk_inodes_total is a gauge of the filesystem's inode count).
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/);
      if (m.type === 'histogram') expect(m.name).toMatch(/_seconds$/);
    }
  });

  it('no label collides with the labels Prometheus attaches to a target', () => {
    for (const m of Object.values(METRICS)) {
      for (const l of m.labels) {
        expect(['instance', 'job', 'namespace', '__name__']).not.toContain(l);
        expect(l).toMatch(/^[a-z_]+$/);
      }
      expect(new Set(m.labels).size).toBe(m.labels.length);
    }
    expect(VOLUME_LABELS.slice(0, INSTANCE_LABELS.length)).toEqual([...INSTANCE_LABELS]);
  });

  it('carries the controller metrics the automation needs', () => {
    expect(METRICS.decisionsTotal.labels).toEqual(['verdict', 'reason']);
    expect(METRICS.resizesTotal.labels).toEqual(['result']);
    expect(METRICS.sourceErrorsTotal.labels).toEqual(['source']);
    expect(METRICS.loopDurationSeconds.type).toBe('histogram');
    expect(METRICS.leader.name).toBe('cnpg_disk_leader');
  });
});
