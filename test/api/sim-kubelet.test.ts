// The simulated kubelet's two pages, checked against the real filesystem: the
// controller benchmark (bench/controller.bench.ts) compares our controller,
// which reads /stats/summary, with pvc-autoresizer, which reads the
// kubelet_volume_stats_* gauges of /metrics, so both pages must carry the same
// numbers — those of df on the tmpfs mounts behind the PVCs — and /metrics
// must be valid exposition text (checked by Prometheus's own promtool).
//
// Real: tmpfs mounts (root), df, promtool, an HTTP server. Simulated: the kubelet itself.
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { df } from './harness.js';
import { MiB, SimKubelet, TmpfsPool, type TmpfsMount } from './seed.js';

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      })
      .on('error', reject);
  });
}

/** `name{namespace="ns",persistentvolumeclaim="pvc"} value` → value. */
function gauge(page: string, name: string, ns: string, pvc: string): string | undefined {
  const prefix = `kubelet_volume_stats_${name}{namespace="${ns}",persistentvolumeclaim="${pvc}"} `;
  return page
    .split('\n')
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length);
}

describe('simulated kubelet /metrics (kubelet_volume_stats_*)', () => {
  let pool: TmpfsPool;
  let server: http.Server;
  let port: number;
  const kubelet = new SimKubelet('node-m');
  const mounts: TmpfsMount[] = [];

  beforeAll(async () => {
    pool = await TmpfsPool.create();
    mounts.push(await pool.mount(64 * MiB, 16 * MiB, 'data'), await pool.mount(32 * MiB, 24 * MiB, 'wal'));
    kubelet.volumes.push(
      { namespace: 'shop', pod: 'pg-1', volume: 'pgdata', pvc: 'pg-1', mount: mounts[0]! },
      { namespace: 'shop', pod: 'pg-1', volume: 'pg-wal', pvc: 'pg-1-wal', mount: mounts[1]! },
    );
    server = http.createServer(kubelet.handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await pool?.close();
  });

  it('serves the same bytes and inodes as df and as /stats/summary, per PVC', async () => {
    const page = await get(port, '/metrics');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/plain/);
    const summary = JSON.parse((await get(port, '/stats/summary')).body) as {
      pods: { volume: { pvcRef: { name: string }; capacityBytes: number; availableBytes: number; inodes: number }[] }[];
    };
    for (const [i, pvc] of ['pg-1', 'pg-1-wal'].entries()) {
      const d = await df(mounts[i]!.path);
      expect(gauge(page.body, 'capacity_bytes', 'shop', pvc)).toBe(d.totalBytes);
      expect(gauge(page.body, 'used_bytes', 'shop', pvc)).toBe(d.usedBytes);
      expect(gauge(page.body, 'available_bytes', 'shop', pvc)).toBe(d.availableBytes);
      expect(gauge(page.body, 'inodes', 'shop', pvc)).toBe(d.inodesTotal);
      expect(gauge(page.body, 'inodes_free', 'shop', pvc)).toBe(d.inodesFree);
      expect(gauge(page.body, 'inodes_used', 'shop', pvc)).toBe(String(Number(d.inodesTotal) - Number(d.inodesFree)));
      const v = summary.pods[0]!.volume.find((x) => x.pvcRef.name === pvc)!;
      expect(String(v.capacityBytes)).toBe(d.totalBytes);
      expect(String(v.availableBytes)).toBe(d.availableBytes);
    }
    // a different fill shows in the next scrape (read per request, not cached)
    await mounts[1]!.fill(8 * MiB);
    const again = await get(port, '/metrics');
    expect(gauge(again.body, 'used_bytes', 'shop', 'pg-1-wal')).toBe((await df(mounts[1]!.path)).usedBytes);
    expect(kubelet.hits.get('/metrics')).toBe(2);
  });

  it('is valid exposition text for promtool, with HELP and TYPE gauge per family', async () => {
    const page = await get(port, '/metrics');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: page.body, encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
    for (const n of ['capacity_bytes', 'available_bytes', 'used_bytes', 'inodes', 'inodes_free', 'inodes_used']) {
      expect(page.body).toContain(`# TYPE kubelet_volume_stats_${n} gauge\n`);
    }
  });

  it('answers 404 on paths it does not simulate', async () => {
    const r = await get(port, '/metrics/cadvisor');
    expect(r.status).toBe(404);
    expect(r.body).toContain('serves only /stats/summary and /metrics');
  });
});
