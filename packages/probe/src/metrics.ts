/**
 * Prometheus text exposition (format 0.0.4) of a ProbeReport, with the metric
 * names, types, help and labels of core's one table (metric-names.ts).
 *
 * Why not prom-client: it models long-lived metric objects that are mutated
 * and then collected from a global registry, and it adds process metrics and
 * dependencies. Here the exposition is a pure function of one report (the
 * same report `once` prints), series come and go with slots and tablespaces,
 * and byte counts are BigInt: a small formatter renders that exactly, and its
 * output is checked by promtool in the tests.
 *
 * Labels: cluster_namespace, cluster, pod on every series; volume_type and
 * tablespace (empty for data and wal) on volume series; slot_name on slot
 * series. Never `instance`, `job` or `namespace`, which Prometheus sets on
 * the target itself.
 */
import {
  archiveHealthy,
  BLOCK_REASONS as CORE_BLOCK_REASONS,
  METRICS,
  percentUsed,
  type BlockReason,
  type MetricDef,
  type ProbeReport,
} from '@cnpg-disk/core';

/** Every reason a resize can be blocked (core's table). */
export const BLOCK_REASONS: readonly BlockReason[] = CORE_BLOCK_REASONS;

/** What the policy and ledger say about one volume (see resize.ts); keyed by volumeKey(). */
export interface VolumeResizeMetrics {
  budgetRemaining: number;
  /** undefined when the volume's current size is unknown. */
  atLimit?: boolean;
  /** undefined when the engine could not decide (facts missing). */
  blocked?: BlockReason | null;
}

export function volumeKey(v: { type: string; tablespace?: string }): string {
  return v.type === 'tablespace' ? `tablespace/${v.tablespace ?? ''}` : v.type;
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

type Labels = Record<string, string>;
type Value = number | bigint;

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: { labels: Labels; value: Value }[];
}

function formatValue(v: Value): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

class Exposition {
  private readonly families = new Map<string, Family>();

  add(m: MetricDef, labels: Labels, value: Value): void {
    const { name, help } = m;
    if (m.type === 'histogram') throw new Error(`${name} is a histogram; the probe writes gauges and counters`);
    let f = this.families.get(name);
    if (!f) {
      f = { name, type: m.type, help, samples: [] };
      this.families.set(name, f);
    }
    f.samples.push({ labels, value });
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.samples) lines.push(`${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsOptions {
  /** Policy/ledger-derived figures per volume; omitted metrics when absent. */
  resize?: ReadonlyMap<string, VolumeResizeMetrics>;
}

export function renderMetrics(report: ProbeReport, opts: MetricsOptions = {}): string {
  const x = new Exposition();
  const base: Labels = {
    cluster_namespace: report.namespace ?? '',
    cluster: report.cluster ?? '',
    pod: report.instance,
  };

  for (const v of report.volumes) {
    const labels: Labels = { ...base, volume_type: v.type, tablespace: v.tablespace ?? '' };
    const fs = v.filesystem;
    if (fs) {
      x.add(METRICS.diskTotalBytes, labels, fs.totalBytes);
      x.add(METRICS.diskUsedBytes, labels, fs.usedBytes);
      x.add(METRICS.diskAvailableBytes, labels, fs.availableBytes);
      x.add(METRICS.diskPercentUsed, labels, percentUsed(fs));
      if (fs.inodesTotal !== undefined) {
        x.add(METRICS.diskInodesTotal, labels, fs.inodesTotal);
        x.add(METRICS.diskInodesUsed, labels, fs.inodesUsed ?? 0n);
        x.add(METRICS.diskInodesFree, labels, fs.inodesFree ?? 0n);
      }
    }
    const r = opts.resize?.get(volumeKey(v));
    if (r) {
      if (r.atLimit !== undefined) {
        x.add(METRICS.diskAtLimit, labels, r.atLimit ? 1 : 0);
      }
      if (r.blocked !== undefined) {
        for (const reason of BLOCK_REASONS) {
          x.add(METRICS.diskResizeBlocked, { ...labels, reason }, r.blocked === reason ? 1 : 0);
        }
      }
      x.add(METRICS.diskResizeBudgetRemaining, labels, r.budgetRemaining);
    }
  }

  const w = report.wal;
  if (w.archivingConfigured === true && w.archiver) {
    x.add(METRICS.walArchiveHealthy, base, archiveHealthy(w.archiver).healthy ? 1 : 0);
  }
  if (w.readyFiles !== undefined) {
    x.add(METRICS.walPendingArchiveFiles, base, w.readyFiles);
  }
  if (w.walDirBytes !== undefined) {
    x.add(METRICS.walDirBytes, base, w.walDirBytes);
  }
  if (w.slots) {
    x.add(METRICS.walInactiveSlots, base, w.slots.filter((s) => !s.active).length);
    for (const s of w.slots) {
      const labels = { ...base, slot_name: s.name };
      if (s.retainedBytes !== undefined) {
        x.add(METRICS.walSlotRetentionBytes, labels, s.retainedBytes);
      }
      x.add(METRICS.walSlotActive, labels, s.active ? 1 : 0);
    }
  }
  x.add(METRICS.probeErrors, base, report.errors.length);
  return x.render();
}
