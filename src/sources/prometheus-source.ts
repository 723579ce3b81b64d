/**
 * The prometheus source: kubelet_volume_stats and CloudNativePG series from Prometheus (--prometheus-url); no Kubernetes access.
 */
import {
  filesystemsFromSamples,
  kubeletVolumeStats,
  prometheusQueries,
  PrometheusError,
  queryPrometheus,
  walHealthFromSamples,
} from './prometheus.js';
import { cachedSince, metricsQueriesTtl } from './pod-proxy.js';
import { type MeasureRun, type Source } from './source.js';
import { SOURCE_FACTS } from '../model/snapshot.js';

export const prometheusSource: Source = {
  name: 'prometheus',
  facts: SOURCE_FACTS['prometheus'],
  clusterScoped: false,
  access(_namespace: string) {
    return [];
  },
  async measure(run: MeasureRun): Promise<void> {
    const source = 'prometheus' as const;
    const { client, opts, pending, problems, m, needsWal, setWal, record } = run;
    if (!opts.prometheusUrl) {
      record(source, 'filesystem', 'unavailable', 'no --prometheus-url given');
      return;
    }
    const nss = [...new Set(pending.map((i) => i.cs.namespace))];
    const q = prometheusQueries(nss);
    const timeout = Math.max(client.timeoutMs, 10_000);
    try {
      opts.onProgress?.('querying Prometheus');
      const [kubelet, cnpg] = await Promise.all([
        queryPrometheus(opts.prometheusUrl, q.kubelet, timeout),
        queryPrometheus(opts.prometheusUrl, q.cnpg, timeout),
      ]);
      const observedAt = opts.now().toISOString();
      const kv = kubeletVolumeStats(kubelet, observedAt);
      problems.push(...kv.problems);
      let fsUsed = 0;
      let walUsed = 0;
      for (const i of pending) {
        for (const pvc of i.mounts.values()) {
          const v = kv.volumes.find((x) => x.namespace === i.cs.namespace && x.pvcName === pvc);
          if (v && !m(i).filesystems[pvc]) {
            m(i).filesystems[pvc] = v.facts;
            fsUsed++;
          }
        }
        const mine = cnpg.filter((s) => s.labels['namespace'] === i.cs.namespace && s.labels['pod'] === i.pod);
        if (mine.length === 0) continue;
        const fs = filesystemsFromSamples(mine, i.pod, 'prometheus', observedAt);
        problems.push(...fs.problems);
        for (const v of fs.volumes) {
          const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
          if (pvc && !m(i).filesystems[pvc]) {
            m(i).filesystems[pvc] = v.facts;
            fsUsed++;
          }
        }
        if (needsWal(i)) {
          const w = walHealthFromSamples(mine, i.pod, 'prometheus', observedAt);
          problems.push(...w.problems);
          if (w.health) {
            // The same cnpg_pg_* figures, cached by CloudNativePG for metricsQueriesTTL before Prometheus scraped them.
            const ttl = metricsQueriesTtl(i.cs.cluster);
            if ('problem' in ttl) problems.push(ttl.problem);
            const since = cachedSince(observedAt, ttl);
            if (since) w.health.observedAt = since;
            else delete w.health.observedAt;
          }
          if (setWal(i, w.health)) walUsed++;
        }
      }
      if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
      if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s)`);
      if (fsUsed === 0 && walUsed === 0) {
        record(
          source,
          'filesystem',
          'unavailable',
          'Prometheus has no kubelet_volume_stats or cnpg series for these pods',
        );
      }
    } catch (e) {
      const unreachable = e instanceof PrometheusError ? e.unreachable : true;
      record(source, 'filesystem', unreachable ? 'unreachable' : 'failed', (e as Error).message);
    }
  },
};
