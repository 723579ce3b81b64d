// A real Prometheus (Debian's package, on 127.0.0.1) scrapes the controller's
// /metrics endpoint every second and evaluates the shipped alert rules.
// Every dashboard query must return data, the namespace variable must have
// values, and an alert must go from inactive to firing on a real scrape.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { startHealthServer, type HealthServer } from '../../src/controller/server.js';
import { RULES_FILE } from '../../src/controller/install/assets.js';
import { DASHBOARD_PANELS, NAMESPACE_VARIABLE_QUERY } from '../../src/controller/install/dashboard.js';
import { freePort } from '../infra/proc.js';

const RULES = join(import.meta.dirname, '..', '..', 'deploy', 'autoresizer', RULES_FILE);

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('dashboard and alerts against a real Prometheus', { timeout: 120_000 }, () => {
  let dir: string;
  let prom: ChildProcess | undefined;
  let promUrl: string;
  let server: HealthServer;
  const metrics = new ControllerMetrics();
  let promLog = '';

  const query = async (q: string): Promise<QueryResult> => {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    return (await r.json()) as QueryResult;
  };
  const until = async (what: string, cond: () => Promise<boolean>, ms: number) => {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (await cond().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what} not within ${ms} ms; prometheus log:\n${promLog.slice(-3000)}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-prom-'));
    // What one pass of the controller records (the loop's own test drives the real loop).
    metrics.leader.set(1);
    metrics.decisions.inc({ verdict: 'resize', reason: '' });
    metrics.decisions.inc({ verdict: 'blocked', reason: 'archive-unhealthy' });
    metrics.resized('applied');
    metrics.sourceErrors.inc({ source: 'pod-proxy' });
    metrics.loopDuration.observe(0.2);
    metrics.lastLoop.set(Date.now() / 1000);
    metrics.setVolumes([
      {
        clusterNamespace: 'db',
        cluster: 'pg',
        pod: 'pg-1',
        volumeType: 'wal',
        totalBytes: 2n ** 30n,
        usedBytes: 900n * 2n ** 20n,
        availableBytes: 124n * 2n ** 20n,
        percentUsed: 87.9,
        atLimit: false,
        blocked: 'archive-unhealthy',
        budgetRemaining: 3,
      },
    ]);
    server = await startHealthServer({ host: '127.0.0.1', port: 0, metrics, notReady: () => undefined });
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${RULES}']`,
        'scrape_configs:',
        '  - job_name: cnpg-disk-autoresizer',
        `    static_configs: [{ targets: ['127.0.0.1:${server.port}'] }]`,
        '',
      ].join('\n'),
    );
    prom = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout?.on('data', (c: Buffer) => (promLog += c.toString()));
    prom.stderr?.on('data', (c: Buffer) => (promLog += c.toString()));
    await until('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 60_000);
    // Rates need two scrapes after a change: let a few pass, bumping counters meanwhile.
    await until(
      'three scrapes',
      async () => Number((await query('count_over_time(up[1m])')).data.result[0]?.value[1] ?? 0) >= 3,
      30_000,
    );
    metrics.decisions.inc({ verdict: 'resize', reason: '' });
    metrics.resized('applied');
    metrics.sourceErrors.inc({ source: 'pod-proxy' });
    metrics.loopDuration.observe(0.4);
    await new Promise((r) => setTimeout(r, 2_500));
  }, 90_000);

  afterAll(async () => {
    prom?.kill('SIGTERM');
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('the target is up and its series carry no label Prometheus owns', async () => {
    const up = await query('up{job="cnpg-disk-autoresizer"}');
    expect(up.data.result[0]?.value[1]).toBe('1');
    // An exported_* label would mean our label collided with a target label.
    const all = await query('{job="cnpg-disk-autoresizer",__name__=~"cnpg_.*"}');
    expect(all.data.result.length).toBeGreaterThan(10);
    for (const s of all.data.result) expect(Object.keys(s.metric).filter((k) => k.startsWith('exported_'))).toEqual([]);
  });

  it.each(DASHBOARD_PANELS.map((p) => [p.title, p.expr] as const))('panel "%s" returns data', async (_t, expr) => {
    const q = expr.replaceAll('$cluster_namespace', '.*');
    const r = await query(q);
    expect(r.status).toBe('success');
    expect(r.data.result.length, q).toBeGreaterThan(0);
    for (const s of r.data.result) expect(Number.isNaN(Number(s.value[1])), `${q} → NaN`).toBe(false);
  });

  it('the namespace variable has values', async () => {
    const m = /^label_values\((\w+), (\w+)\)$/.exec(NAMESPACE_VARIABLE_QUERY);
    expect(m).not.toBeNull();
    const r = await fetch(`${promUrl}/api/v1/label/${m![2]}/values?match[]=${m![1]}`);
    expect(((await r.json()) as { data: string[] }).data).toEqual(['db']);
  });

  it('an alert goes from inactive to firing on a real scrape (resize failed)', async () => {
    const firing = async () =>
      (await query('ALERTS{alertname="CnpgDiskAutoresizeFailed",alertstate="firing"}')).data.result.length > 0;
    expect(await firing()).toBe(false);
    metrics.resized('failed');
    await until('CnpgDiskAutoresizeFailed firing', firing, 20_000);
  });
});
