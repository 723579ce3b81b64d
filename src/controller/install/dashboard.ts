/**
 * The Grafana dashboard for the autoresize controller (schema of Grafana 10+
 * dashboards: timeseries/stat/table panels over a Prometheus data source
 * variable). The source of truth for deploy/autoresizer/cnpg-disk-autoresizer.dashboard.json
 * and for the ConfigMap `disk install --dashboard` prints (label
 * grafana_dashboard=1, which Grafana's dashboard sidecar picks up). Every
 * query is run against a real Prometheus scraping a real controller in
 * test/controller/prometheus.test.ts.
 */
import { METRICS } from '@cnpg-disk/core';

const M = METRICS;
/** The variable every per-volume query filters on. */
const NS = 'cluster_namespace=~"$cluster_namespace"';

export interface PanelQuery {
  title: string;
  type: 'timeseries' | 'stat' | 'table';
  unit: string;
  expr: string;
  legend: string;
}

export const DASHBOARD_PANELS: readonly PanelQuery[] = [
  { title: 'Leader replicas', type: 'stat', unit: 'none', expr: `sum(${M.leader.name})`, legend: 'leaders' },
  {
    title: 'Volume usage',
    type: 'timeseries',
    unit: 'percent',
    expr: `${M.diskPercentUsed.name}{${NS}}`,
    legend: '{{cluster_namespace}}/{{pod}} {{volume_type}} {{tablespace}}',
  },
  {
    title: 'Available bytes',
    type: 'timeseries',
    unit: 'bytes',
    expr: `${M.diskAvailableBytes.name}{${NS}}`,
    legend: '{{cluster_namespace}}/{{pod}} {{volume_type}} {{tablespace}}',
  },
  {
    title: 'Volume size',
    type: 'timeseries',
    unit: 'bytes',
    expr: `${M.diskTotalBytes.name}{${NS}}`,
    legend: '{{cluster_namespace}}/{{pod}} {{volume_type}} {{tablespace}}',
  },
  {
    title: 'Decisions per minute',
    type: 'timeseries',
    unit: 'none',
    expr: `sum by (verdict, reason) (rate(${M.decisionsTotal.name}[5m])) * 60`,
    legend: '{{verdict}} {{reason}}',
  },
  {
    title: 'Resizes (1 h)',
    type: 'timeseries',
    unit: 'none',
    expr: `sum by (result) (increase(${M.resizesTotal.name}[1h]))`,
    legend: '{{result}}',
  },
  {
    title: 'Blocked volumes',
    type: 'timeseries',
    unit: 'none',
    expr: `sum by (reason) (${M.blockedVolumes.name})`,
    legend: '{{reason}}',
  },
  {
    title: 'Resize budget left (24 h window)',
    type: 'table',
    unit: 'none',
    expr: `${M.diskResizeBudgetRemaining.name}{${NS}}`,
    legend: '{{cluster_namespace}}/{{pod}} {{volume_type}}',
  },
  {
    title: 'Loop duration p95',
    type: 'timeseries',
    unit: 's',
    expr: `histogram_quantile(0.95, sum by (le) (rate(${M.loopDurationSeconds.name}_bucket[5m])))`,
    legend: 'p95',
  },
  {
    title: 'Source errors per minute',
    type: 'timeseries',
    unit: 'none',
    expr: `sum by (source) (rate(${M.sourceErrorsTotal.name}[5m])) * 60`,
    legend: '{{source}}',
  },
  {
    title: 'Controller memory (RSS)',
    type: 'timeseries',
    unit: 'bytes',
    // Only the controller's targets: those that also export the leader gauge.
    expr: `process_resident_memory_bytes and on (job, instance) ${M.leader.name}`,
    legend: '{{instance}}',
  },
];

/** The variable's query (Grafana's label_values). */
export const NAMESPACE_VARIABLE_QUERY = `label_values(${M.diskTotalBytes.name}, cluster_namespace)`;

export function dashboardJson(): Record<string, unknown> {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  return {
    title: 'CloudNativePG disk autoresizer',
    uid: 'cnpg-disk-autoresizer',
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    tags: ['cloudnative-pg', 'storage'],
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
        {
          name: 'cluster_namespace',
          type: 'query',
          label: 'Namespace',
          datasource: ds,
          query: { query: NAMESPACE_VARIABLE_QUERY, refId: 'ns' },
          definition: NAMESPACE_VARIABLE_QUERY,
          includeAll: true,
          multi: true,
          allValue: '.*',
          refresh: 2,
        },
      ],
    },
    panels: DASHBOARD_PANELS.map((p, i) => ({
      id: i + 1,
      title: p.title,
      type: p.type,
      datasource: ds,
      gridPos: { h: p.type === 'stat' ? 4 : 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      targets: [{ refId: 'A', datasource: ds, expr: p.expr, legendFormat: p.legend }],
    })),
  };
}
