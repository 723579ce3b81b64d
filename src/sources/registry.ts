/**
 * Every source of filesystem and WAL facts, by name, and the automatic
 * order (least privilege first; Prometheus only when a URL is given).
 */
import type { SourceName } from '../model/snapshot.js';
import { clusterStatusSource } from './cluster-status-source.js';
import { execSource } from './exec-source.js';
import { kubeletSummarySource } from './kubelet-summary-source.js';
import { podProxySource } from './pod-proxy-source.js';
import { probeSource } from './probe-source.js';
import { prometheusSource } from './prometheus-source.js';
import type { Source } from './source.js';

export const SOURCES: Readonly<Record<SourceName, Source>> = {
  probe: probeSource,
  'cluster-status': clusterStatusSource,
  'pod-proxy': podProxySource,
  exec: execSource,
  'kubelet-summary': kubeletSummarySource,
  prometheus: prometheusSource,
};

/**
 * The automatic order (spec: least privilege first); Prometheus only when a
 * URL is given. The probe sidecar (the CNPG-I plugin) comes first when some
 * instance has it: one request per pod gives every volume's statfs and the
 * WAL directory, measured even while postgres is down.
 */
export function autoSources(prometheusUrl: string | undefined, probeSidecar = false): SourceName[] {
  return [
    ...(probeSidecar ? ['probe' as const] : []),
    'cluster-status',
    'pod-proxy',
    'exec',
    'kubelet-summary',
    ...(prometheusUrl ? ['prometheus' as const] : []),
  ];
}
