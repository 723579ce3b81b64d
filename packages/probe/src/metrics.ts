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
  type ProbeReport,
} from '@cnpg-disk/core';

/** Every reason a resize can be blocked (core's table), so each series exists with 0 or 1. */
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

/** A metric family: its name, type, help and the label names every sample of it carries, in order. */
export interface MetricDefinition {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  labels: readonly string[];
}

/**
 * Every family the probe can export, in exposition order: the probe's rows of
 * core's one metric table (metric-names.ts), which the autoresize controller
 * and the CLI's Prometheus reader share. One table, so the text format and
 * other consumers (the CNPG-I plugin's Define/Collect) agree on names, help,
 * types and label names.
 */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = [
  METRICS.diskTotalBytes,
  METRICS.diskUsedBytes,
  METRICS.diskAvailableBytes,
  METRICS.diskPercentUsed,
  METRICS.diskInodesTotal,
  METRICS.diskInodesUsed,
  METRICS.diskInodesFree,
  METRICS.diskAtLimit,
  METRICS.diskResizeBlocked,
  METRICS.diskResizeBudgetRemaining,
  METRICS.walArchiveHealthy,
  METRICS.walPendingArchiveFiles,
  METRICS.walDirBytes,
  METRICS.walInactiveSlots,
  METRICS.walSlotRetentionBytes,
  METRICS.walSlotActive,
  METRICS.probeErrors,
].map((m) => ({ name: m.name, type: m.type as 'gauge' | 'counter', help: m.help, labels: m.labels }));

const DEFINITION_BY_NAME = new Map(METRIC_DEFINITIONS.map((d) => [d.name, d]));

/** One sample: label values in the order of its definition's `labels`. */
export interface MetricSample {
  labelValues: string[];
  value: Value;
}

/** A family with its samples, as measured. */
export interface MetricFamily {
  definition: MetricDefinition;
  samples: MetricSample[];
}

function formatValue(v: Value): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(names: readonly string[], values: readonly string[]): string {
  const parts = names.map((k, i) => `${k}="${escapeLabelValue(values[i] ?? '')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

class Exposition {
  private readonly families = new Map<string, MetricFamily>();

  add(name: string, labels: Labels, value: Value): void {
    const definition = DEFINITION_BY_NAME.get(name);
    if (!definition) throw new Error(`metric ${name} is not in METRIC_DEFINITIONS`);
    let f = this.families.get(name);
    if (!f) {
      f = { definition, samples: [] };
      this.families.set(name, f);
    }
    f.samples.push({ labelValues: definition.labels.map((l) => labels[l] ?? ''), value });
  }

  list(): MetricFamily[] {
    return [...this.families.values()];
  }
}

/** The text exposition of families. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const { definition: d, samples } of families) {
    lines.push(`# HELP ${d.name} ${escapeHelp(d.help)}`, `# TYPE ${d.name} ${d.type}`);
    for (const s of samples) lines.push(`${d.name}${formatLabels(d.labels, s.labelValues)} ${formatValue(s.value)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsOptions {
  /** Policy/ledger-derived figures per volume; omitted metrics when absent. */
  resize?: ReadonlyMap<string, VolumeResizeMetrics>;
}

/** The families of one report, in exposition order, each with at least one sample. */
export function metricFamilies(report: ProbeReport, opts: MetricsOptions = {}): MetricFamily[] {
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
      x.add('cnpg_disk_total_bytes', labels, fs.totalBytes);
      x.add('cnpg_disk_used_bytes', labels, fs.usedBytes);
      x.add('cnpg_disk_available_bytes', labels, fs.availableBytes);
      x.add('cnpg_disk_percent_used', labels, percentUsed(fs));
      if (fs.inodesTotal !== undefined) {
        x.add('cnpg_disk_inodes_total', labels, fs.inodesTotal);
        x.add('cnpg_disk_inodes_used', labels, fs.inodesUsed ?? 0n);
        x.add('cnpg_disk_inodes_free', labels, fs.inodesFree ?? 0n);
      }
    }
    const r = opts.resize?.get(volumeKey(v));
    if (r) {
      if (r.atLimit !== undefined) {
        x.add('cnpg_disk_at_limit', labels, r.atLimit ? 1 : 0);
      }
      if (r.blocked !== undefined) {
        for (const reason of BLOCK_REASONS) {
          x.add('cnpg_disk_resize_blocked', { ...labels, reason }, r.blocked === reason ? 1 : 0);
        }
      }
      x.add('cnpg_disk_resize_budget_remaining', labels, r.budgetRemaining);
    }
  }

  const w = report.wal;
  if (w.archivingConfigured === true && w.archiver) {
    x.add('cnpg_wal_archive_healthy', base, archiveHealthy(w.archiver).healthy ? 1 : 0);
  }
  if (w.readyFiles !== undefined) {
    x.add('cnpg_wal_pending_archive_files', base, w.readyFiles);
  }
  if (w.walDirBytes !== undefined) {
    x.add('cnpg_wal_dir_bytes', base, w.walDirBytes);
  }
  if (w.slots) {
    x.add('cnpg_wal_inactive_slots', base, w.slots.filter((s) => !s.active).length);
    for (const s of w.slots) {
      const labels = { ...base, slot_name: s.name };
      if (s.retainedBytes !== undefined) {
        x.add('cnpg_wal_slot_retention_bytes', labels, s.retainedBytes);
      }
      x.add('cnpg_wal_slot_active', labels, s.active ? 1 : 0);
    }
  }
  x.add('cnpg_disk_probe_errors', base, report.errors.length);
  return x.list();
}

export function renderMetrics(report: ProbeReport, opts: MetricsOptions = {}): string {
  return renderFamilies(metricFamilies(report, opts));
}
