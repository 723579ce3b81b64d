/**
 * Alert rules for the autoresize controller's metrics (names from core's
 * table). The source of truth for deploy/autoresizer/cnpg-disk-autoresizer.rules.yaml
 * (a test keeps that file equal to this) and for the PrometheusRule that
 * `disk install --prometheus-rule` prints. Each rule is shown firing by
 * `promtool test rules` (test/controller/alerts/).
 */
import { METRICS } from '@cnpg-disk/core';

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; description?: string };
}

const M = METRICS;
const WAL_REASONS = 'archive-unhealthy|pending-wal|slot-retention';
const vol = '{{ $labels.volume_type }} volume of {{ $labels.cluster_namespace }}/{{ $labels.pod }}';

export const AUTORESIZER_ALERTS: readonly AlertRule[] = [
  {
    alert: 'CnpgDiskAutoresizeFailed',
    expr: `increase(${M.resizesTotal.name}{result="failed"}[15m]) > 0`,
    for: '0m',
    labels: { severity: 'critical' },
    annotations: {
      summary: 'The autoresizer could not write a PVC resize in the last 15 minutes',
      description:
        'A PVC patch was refused or failed (not a conflict). The AutoResizeFailed event on the Cluster names the PVC and the reason.',
    },
  },
  {
    alert: 'CnpgDiskAutoresizeBlocked',
    expr: `${M.diskResizeBlocked.name} == 1`,
    for: '30m',
    labels: { severity: 'warning' },
    annotations: {
      summary: `${vol} needs a resize the autoresizer may not make: {{ $labels.reason }}`,
      description:
        'The AutoResizeBlocked event on the Cluster says why. kubectl cnpg disk resize {{ $labels.cluster }} -n {{ $labels.cluster_namespace }} -v shows the decision trace.',
    },
  },
  {
    alert: 'CnpgDiskAutoresizeWalRisk',
    expr: `${M.diskResizeBlocked.name}{reason=~"${WAL_REASONS}"} == 1`,
    for: '5m',
    labels: { severity: 'critical' },
    annotations: {
      summary: `${vol} is filling with WAL that growing would only hide: {{ $labels.reason }}`,
      description:
        'Fix archiving or the replication slot; the autoresizer will not grow this volume until then. kubectl cnpg wal health {{ $labels.cluster }} -n {{ $labels.cluster_namespace }}',
    },
  },
  {
    alert: 'CnpgDiskAutoresizeSourceErrors',
    expr: `sum by (source) (rate(${M.sourceErrorsTotal.name}[10m])) > 0`,
    for: '15m',
    labels: { severity: 'warning' },
    annotations: {
      summary: 'The autoresizer cannot measure through {{ $labels.source }}',
      description:
        'Volumes without facts are never resized (fail closed). Check the controller log and its RBAC (kubectl cnpg disk install prints the rules).',
    },
  },
  {
    alert: 'CnpgDiskAutoresizeNoLeader',
    expr: `(sum(${M.leader.name}) or vector(0)) < 1`,
    for: '5m',
    labels: { severity: 'critical' },
    annotations: {
      summary: 'No autoresizer replica holds the leader Lease: nothing is resized',
      description:
        'Check the Deployment (kubectl -n cnpg-disk-system get pods) and that Prometheus scrapes its metrics Service.',
    },
  },
  {
    alert: 'CnpgDiskAutoresizeStalled',
    expr: `time() - max(${M.lastLoopTimestampSeconds.name}) > 600`,
    for: '5m',
    labels: { severity: 'warning' },
    annotations: {
      summary: 'The autoresizer leader has not finished a pass for more than 10 minutes',
    },
  },
  {
    alert: 'CnpgDiskAutoresizeAtLimit',
    expr: `${M.diskPercentUsed.name} > 80 and on (cluster_namespace, cluster, pod, volume_type, tablespace) ${M.diskAtLimit.name} == 1`,
    for: '30m',
    labels: { severity: 'warning' },
    annotations: {
      summary: `${vol} is at its resize limit and {{ printf "%.0f" $value }}% full`,
      description: "Raise the policy's limit or free space; the autoresizer will not pass the limit.",
    },
  },
];

/** The rules as a Prometheus rules file (groups), e.g. for rule_files. */
export function rulesFile(): { groups: { name: string; rules: AlertRule[] }[] } {
  return { groups: [{ name: 'cnpg-disk-autoresizer', rules: [...AUTORESIZER_ALERTS] }] };
}
