/**
 * The CNPG-I Metrics service of the sidecar: Define lists every family the
 * probe can export (from the probe's own table), Collect turns one probe
 * measurement into samples. The instance manager adds them to the instance's
 * /metrics, next to its own series.
 *
 * What the instance manager requires: every collected name was defined, with
 * as many label values as the definition has label names, and no two samples
 * of a family with the same label values (it would fail the whole scrape).
 * The probe's families satisfy that by construction: one sample per volume,
 * per slot, per block reason.
 */
import { METRIC_DEFINITIONS, metricFamilies, type Measurement } from '@cnpg-disk/probe';

export interface MetricDefinitionMessage {
  fqName: string;
  help: string;
  variableLabels: string[];
  constLabels: Record<string, string>;
  valueType: { type: 'TYPE_GAUGE' | 'TYPE_COUNTER' };
}

export interface CollectMetricMessage {
  fqName: string;
  value: number;
  variableLabels: string[];
}

export function defineMetrics(): MetricDefinitionMessage[] {
  return METRIC_DEFINITIONS.map((d) => ({
    fqName: d.name,
    help: d.help,
    variableLabels: [...d.labels],
    constLabels: {},
    valueType: { type: d.type === 'counter' ? 'TYPE_COUNTER' : 'TYPE_GAUGE' },
  }));
}

/** Samples of one measurement. Values are doubles on the wire (as in Prometheus itself). */
export function collectMetrics(m: Measurement): CollectMetricMessage[] {
  return metricFamilies(m.report, m.metrics).flatMap((f) =>
    f.samples.map((s) => ({ fqName: f.definition.name, value: Number(s.value), variableLabels: s.labelValues })),
  );
}
