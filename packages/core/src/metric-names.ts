/**
 * The one table of Prometheus metric names and label sets this project
 * writes (the probe's exposition, the autoresize controller's /metrics) and
 * reads (the CLI's Prometheus and pod-proxy sources). Alert rules and the
 * dashboard use the same names; a test checks that every name they query is
 * in this table.
 *
 * Labels never collide with the labels Prometheus attaches to a target
 * (`instance`, `job`, and `namespace`/`pod` of the scraped pod under the usual
 * Kubernetes service discovery relabelling): the namespace of the Cluster is
 * `cluster_namespace`. A collision would silently turn our label into
 * `exported_namespace` unless the scrape sets honor_labels.
 */
import type { BlockReason } from './engine.js';

/** Labels of a series about one instance. */
export const INSTANCE_LABELS = ['cluster_namespace', 'cluster', 'pod'] as const;
/** Labels of a series about one volume of one instance. */
export const VOLUME_LABELS = [...INSTANCE_LABELS, 'volume_type', 'tablespace'] as const;

export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
}

function def(name: string, type: MetricType, help: string, labels: readonly string[]): MetricDef {
  return { name, type, help, labels };
}

/** Every metric, by a short key. */
export const METRICS = {
  // Per volume (the probe and the controller).
  diskTotalBytes: def('cnpg_disk_total_bytes', 'gauge', 'Size of the filesystem (f_blocks × f_frsize).', VOLUME_LABELS),
  diskUsedBytes: def('cnpg_disk_used_bytes', 'gauge', 'Used bytes ((f_blocks − f_bfree) × f_frsize).', VOLUME_LABELS),
  diskAvailableBytes: def(
    'cnpg_disk_available_bytes',
    'gauge',
    'Bytes available to unprivileged users (f_bavail × f_frsize).',
    VOLUME_LABELS,
  ),
  diskPercentUsed: def(
    'cnpg_disk_percent_used',
    'gauge',
    'Percent used like df: used / (used + available) × 100.',
    VOLUME_LABELS,
  ),
  diskInodesTotal: def('cnpg_disk_inodes_total', 'gauge', 'Inodes of the filesystem.', VOLUME_LABELS),
  diskInodesUsed: def('cnpg_disk_inodes_used', 'gauge', 'Inodes in use.', VOLUME_LABELS),
  diskInodesFree: def('cnpg_disk_inodes_free', 'gauge', 'Free inodes.', VOLUME_LABELS),
  diskAtLimit: def('cnpg_disk_at_limit', 'gauge', '1 when the volume is at or above its resize limit.', VOLUME_LABELS),
  diskResizeBlocked: def(
    'cnpg_disk_resize_blocked',
    'gauge',
    '1 when a resize is needed but blocked for this reason.',
    [...VOLUME_LABELS, 'reason'],
  ),
  diskResizeBudgetRemaining: def(
    'cnpg_disk_resize_budget_remaining',
    'gauge',
    'Automatic resizes left in the rolling 24 h window.',
    VOLUME_LABELS,
  ),
  // Per instance (the probe; the controller when its source measured it).
  walArchiveHealthy: def(
    'cnpg_wal_archive_healthy',
    'gauge',
    '1 when WAL archiving works: a success exists and no failure is later than it.',
    INSTANCE_LABELS,
  ),
  walPendingArchiveFiles: def(
    'cnpg_wal_pending_archive_files',
    'gauge',
    'WAL files waiting to be archived (.ready in pg_wal/archive_status).',
    INSTANCE_LABELS,
  ),
  walDirBytes: def('cnpg_wal_dir_bytes', 'gauge', 'Size of the files in pg_wal.', INSTANCE_LABELS),
  walInactiveSlots: def('cnpg_wal_inactive_slots', 'gauge', 'Replication slots not in use.', INSTANCE_LABELS),
  walSlotRetentionBytes: def(
    'cnpg_wal_slot_retention_bytes',
    'gauge',
    'WAL the slot holds back, from the current (primary) or replay (replica) position.',
    [...INSTANCE_LABELS, 'slot_name'],
  ),
  walSlotActive: def('cnpg_wal_slot_active', 'gauge', '1 when the replication slot is in use.', [
    ...INSTANCE_LABELS,
    'slot_name',
  ]),
  probeErrors: def(
    'cnpg_disk_probe_errors',
    'gauge',
    'Parts of the last measurement that could not be made (see /status).',
    INSTANCE_LABELS,
  ),
  // The controller only.
  decisionsTotal: def(
    'cnpg_disk_decisions_total',
    'counter',
    'Engine decisions made by the controller, by verdict and reason code.',
    ['verdict', 'reason'],
  ),
  resizesTotal: def(
    'cnpg_disk_resizes_total',
    'counter',
    'PVC resizes the controller attempted, by result (applied, conflict, failed).',
    ['result'],
  ),
  loopDurationSeconds: def(
    'cnpg_disk_loop_duration_seconds',
    'histogram',
    'Wall time of one controller pass over its scope.',
    [],
  ),
  sourceErrorsTotal: def(
    'cnpg_disk_source_errors_total',
    'counter',
    'Measurements that failed, by source (pod-proxy, kubelet-summary, prometheus, exec, api).',
    ['source'],
  ),
  leader: def('cnpg_disk_leader', 'gauge', '1 while this controller replica holds the leader Lease.', []),
  blockedVolumes: def(
    'cnpg_disk_blocked_volumes',
    'gauge',
    'Volumes that need a resize the controller may not make, by reason code.',
    ['reason'],
  ),
  lastLoopTimestampSeconds: def(
    'cnpg_disk_last_loop_timestamp_seconds',
    'gauge',
    'Unix time the last complete controller pass ended.',
    [],
  ),
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;

/** Every metric name of the table. */
export const METRIC_NAMES: readonly string[] = Object.values(METRICS).map((m) => m.name);

/** Resize results counted by cnpg_disk_resizes_total. */
export const RESIZE_RESULTS = ['applied', 'conflict', 'failed'] as const;
export type ResizeResult = (typeof RESIZE_RESULTS)[number];

/** Every reason a resize can be blocked (engine's BlockReason), so each series exists with 0 or 1. */
export const BLOCK_REASONS = [
  'rate-limit',
  'ledger-unreadable',
  'wal-risk-not-acknowledged',
  'archive-unhealthy',
  'pending-wal',
  'slot-retention',
] as const satisfies readonly BlockReason[];

// Compile-time check that the list above names every BlockReason.
type Missing = Exclude<BlockReason, (typeof BLOCK_REASONS)[number]>;
export const BLOCK_REASONS_COMPLETE: Missing extends never ? true : never = true;
