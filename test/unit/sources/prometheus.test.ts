// The prometheus source against a REAL Prometheus (Debian package
// `prometheus`, installed by packages/probe/test/install-deps.sh): started on
// loopback, scraping a local static metrics server that stands in for the
// kubelet (kubelet_volume_stats_*) and a CloudNativePG instance (cnpg_*).
// Real: Prometheus's scraping, storage and HTTP query API, and our queries.
// Simulated: the scraped targets (a static page in the exposition format).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  kubeletVolumeStats,
  prometheusQueries,
  PrometheusError,
  queryPrometheus,
  walHealthFromSamples,
} from '../../../src/sources/prometheus.js';
import { metricsText, walArchiveFailingScenario } from '../../../scripts/make-examples.scenarios.js';
import { freePort } from '../../infra/proc.js';

const NOW = Date.now();
let dir: string;
let target: http.Server;
let prom: ChildProcess;
let url: string;

function page(): string {
  const c = walArchiveFailingScenario();
  // What a PodMonitor scrape would label: namespace and pod.
  const cnpg = metricsText(c, c.instances[0]!, NOW)
    .split('\n')
    .map((l) => {
      if (l === '' || l.startsWith('#')) return l;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (.*)$/.exec(l);
      if (!m) return l;
      const inner = m[2] ? m[2].slice(1, -1) : '';
      return `${m[1]}{namespace="orders",pod="orders-db-1"${inner ? `,${inner}` : ''}} ${m[3]}`;
    })
    .join('\n');
  const kubelet = [
    '# TYPE kubelet_volume_stats_capacity_bytes gauge',
    'kubelet_volume_stats_capacity_bytes{namespace="orders",persistentvolumeclaim="orders-db-1-wal"} 1.34217728e+08',
    '# TYPE kubelet_volume_stats_used_bytes gauge',
    'kubelet_volume_stats_used_bytes{namespace="orders",persistentvolumeclaim="orders-db-1-wal"} 1.16391936e+08',
    '# TYPE kubelet_volume_stats_available_bytes gauge',
    'kubelet_volume_stats_available_bytes{namespace="orders",persistentvolumeclaim="orders-db-1-wal"} 1.7825792e+07',
    '# TYPE kubelet_volume_stats_inodes gauge',
    'kubelet_volume_stats_inodes{namespace="orders",persistentvolumeclaim="orders-db-1-wal"} 32768',
    '# TYPE kubelet_volume_stats_inodes_free gauge',
    'kubelet_volume_stats_inodes_free{namespace="orders",persistentvolumeclaim="orders-db-1-wal"} 32700',
    'kubelet_volume_stats_capacity_bytes{namespace="other",persistentvolumeclaim="x"} 1',
  ].join('\n');
  return `${cnpg}\n${kubelet}\n`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cnpg-prom-'));
  const body = page();
  target = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(body);
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const targetPort = (target.address() as AddressInfo).port;
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: static',
      '    honor_labels: true',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${targetPort}']`,
      '',
    ].join('\n'),
  );
  prom = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  // Until the first scrape is stored and queryable.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const s = await queryPrometheus(url, 'cnpg_collector_up', 2000);
      if (s.length > 0) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('Prometheus did not scrape the target within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}, 90_000);

afterAll(async () => {
  prom?.kill('SIGTERM');
  await new Promise<void>((r) => (prom && prom.exitCode === null ? prom.once('exit', () => r()) : r()));
  await new Promise<void>((r) => target?.close(() => r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('prometheus source (real Prometheus)', () => {
  it('reads kubelet_volume_stats per PVC with exact byte counts, only for the namespaces asked', async () => {
    const q = prometheusQueries(['orders']);
    const samples = await queryPrometheus(url, q.kubelet, 10_000);
    const r = kubeletVolumeStats(samples, new Date().toISOString());
    expect(r.problems).toEqual([]);
    expect(r.volumes).toHaveLength(1);
    expect(r.volumes[0]).toMatchObject({
      namespace: 'orders',
      pvcName: 'orders-db-1-wal',
      facts: {
        totalBytes: 134217728n,
        usedBytes: 116391936n,
        availableBytes: 17825792n,
        inodesTotal: 32768n,
        inodesFree: 32700n,
        source: 'prometheus',
      },
    });
  });

  it('reads CloudNativePG WAL series of one pod', async () => {
    const samples = await queryPrometheus(url, prometheusQueries(['orders']).cnpg, 10_000);
    const mine = samples.filter((s) => s.labels['pod'] === 'orders-db-1');
    const w = walHealthFromSamples(mine, 'orders-db-1', 'prometheus', new Date().toISOString());
    expect(w.problems).toEqual([]);
    expect(w.health).toMatchObject({
      isPrimary: true,
      readyFiles: 212,
      walDirBytes: 116391936n,
      archiver: { archivedCount: 2710, failedCount: 1534, lastFailedTime: new Date(NOW - 40_000).toISOString() },
      slots: [{ name: '_cnpg_orders_db_2', active: true, retainedBytes: 16384n }],
    });
  });

  it('reports a bad query and an unreachable Prometheus as such', async () => {
    await expect(queryPrometheus(url, 'sum(', 10_000)).rejects.toMatchObject({ unreachable: false });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const err = await queryPrometheus(closed, 'up', 2000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect((err as PrometheusError).unreachable).toBe(true);
    expect((err as Error).message).toContain('cannot reach Prometheus');
    await expect(queryPrometheus('not a url', 'up', 1000)).rejects.toThrow(/not a URL/);
  });
});
