// The controller's caches (list+watch of Clusters, Pods, PVCs, StorageClasses)
// and its HTTP endpoints, against the real kube-apiserver + etcd of
// test/infra. Requests are counted in the API server's own audit log, by a
// user that only this test's cache uses: a steady state reads memory, so the
// number of requests does not grow with the number of passes.
// Nothing is simulated here.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectCache } from '../../src/controller/cache.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { startHealthServer, type HealthServer } from '../../src/controller/server.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { auditOf, countByKind } from '../api/harness.js';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';

const execFileP = promisify(execFile);

async function seedCluster(api: ApiServerHandle, ns: string, name: string, instances: number): Promise<void> {
  const must = async (path: string, body: unknown) => {
    const r = await api.request('POST', path, { body });
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.body}`);
  };
  await must('/apis/postgresql.cnpg.io/v1/namespaces/' + ns + '/clusters', {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name, namespace: ns },
    spec: { instances, storage: { size: '1Gi' } },
  });
  for (let i = 1; i <= instances; i++) {
    const labels = { 'cnpg.io/cluster': name, 'cnpg.io/instanceName': `${name}-${i}`, 'cnpg.io/pvcRole': 'PG_DATA' };
    await must(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      metadata: { name: `${name}-${i}`, namespace: ns, labels },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    await must(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: `${name}-${i}`, namespace: ns, labels: { 'cnpg.io/cluster': name } },
      spec: { containers: [{ name: 'postgres', image: 'postgres:16' }] },
    });
  }
  // Not CloudNativePG's: never cached.
  await must(`/api/v1/namespaces/${ns}/pods`, {
    metadata: { name: `other-${name}`, namespace: ns },
    spec: { containers: [{ name: 'x', image: 'x' }] },
  });
}

describe('controller caches and endpoints (real API server, audit log)', { timeout: 120_000 }, () => {
  let api: ApiServerHandle;
  let server: HealthServer;
  let cache: ObjectCache | undefined;
  const metrics = new ControllerMetrics();
  const changes: string[] = [];
  const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;

  beforeAll(async () => {
    api = await startApiServer();
    for (const ns of ['db', 'web', 'ignored']) {
      const r = await api.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
      expect(r.status).toBe(201);
    }
    await seedCluster(api, 'db', 'pg', 3);
    await seedCluster(api, 'web', 'shop', 2);
    await seedCluster(api, 'ignored', 'other', 1);
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics,
      notReady: () => (cache?.synced ? undefined : 'caches not synced'),
    });
  }, 120_000);

  afterAll(async () => {
    await cache?.stop();
    await server?.close();
    await api?.stop();
  }, 60_000);

  it('/healthz answers at once; /readyz is 503 until the caches are synced', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const r = await fetch(url('/readyz'));
    expect(r.status).toBe(503);
    expect(await r.text()).toContain('caches not synced');
    expect((await fetch(url('/nope'))).status).toBe(404);
    expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(405);
  });

  it('watched namespaces: a steady state sends no request per pass, only the first list and one watch per kind', async () => {
    const user = 'autoresizer-cache-ns';
    const kc = loadKubeConfig({ kubeconfig: await api.kubeconfigFor(user, ['system:masters']) });
    cache = await ObjectCache.start(new KubeClient(kc, 10_000), {
      namespaces: ['db', 'web'],
      onChange: (kind, verb, obj) => changes.push(`${verb} ${kind} ${String(obj.metadata?.name)}`),
    });
    expect(cache.synced).toBe(true);
    expect((await fetch(url('/readyz'))).status).toBe(200);
    expect(
      cache
        .list('clusters')
        .map((c) => c.metadata?.name)
        .sort(),
    ).toEqual(['pg', 'shop']);
    expect(cache.list('pods', 'db')).toHaveLength(3);
    expect(cache.list('persistentvolumeclaims')).toHaveLength(5);
    expect(cache.list('storageclasses').length).toBeGreaterThanOrEqual(0);

    // 50 passes that read everything from the caches.
    for (let pass = 0; pass < 50; pass++) {
      expect(cache.list('clusters')).toHaveLength(2);
      expect(cache.list('pods')).toHaveLength(5);
      await new Promise((r) => setTimeout(r, 20));
    }
    // A change arrives through the watch, not a list.
    const patched = await api.request('PATCH', '/api/v1/namespaces/db/persistentvolumeclaims/pg-2', {
      body: { metadata: { annotations: { touched: 'yes' } } },
      contentType: 'application/merge-patch+json',
    });
    expect(patched.status).toBe(200);
    const start = Date.now();
    while (!changes.includes('update persistentvolumeclaims pg-2') && Date.now() - start < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(changes).toContain('update persistentvolumeclaims pg-2');
    const pvc = cache.list('persistentvolumeclaims', 'db').find((p) => p.metadata?.name === 'pg-2');
    expect((pvc?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.['touched']).toBe(
      'yes',
    );

    const counts = countByKind(await auditOf(api, user));
    // 3 namespaced kinds × 2 namespaces + storageclasses: one list and one watch each, nothing else.
    expect(counts).toEqual({
      'list clusters.postgresql.cnpg.io': 2,
      'list persistentvolumeclaims': 2,
      'list pods': 2,
      'list storageclasses.storage.k8s.io': 1,
      'watch clusters.postgresql.cnpg.io': 2,
      'watch persistentvolumeclaims': 2,
      'watch pods': 2,
      'watch storageclasses.storage.k8s.io': 1,
    });
    await cache.stop();
    cache = undefined;
  });

  it('all namespaces: one list and one watch per kind, whatever the number of clusters', async () => {
    const user = 'autoresizer-cache-all';
    const kc = loadKubeConfig({ kubeconfig: await api.kubeconfigFor(user, ['system:masters']) });
    cache = await ObjectCache.start(new KubeClient(kc, 10_000), {});
    expect(cache.list('clusters')).toHaveLength(3);
    // Only CloudNativePG's pods (label cnpg.io/cluster).
    expect(cache.list('pods')).toHaveLength(6);
    for (let pass = 0; pass < 50; pass++) cache.list('persistentvolumeclaims');
    await new Promise((r) => setTimeout(r, 1_000));
    const counts = countByKind(await auditOf(api, user));
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(8);
    expect(counts['list pods']).toBe(1);
    expect(counts['watch pods']).toBe(1);
  });

  it('/metrics: prom-client exposition with process metrics, our names, and promtool accepts it', async () => {
    metrics.leader.set(1);
    metrics.decisions.inc({ verdict: 'resize', reason: '' });
    metrics.resized('applied');
    metrics.sourceErrors.inc({ source: 'pod-proxy' });
    metrics.loopDuration.observe(0.3);
    metrics.setVolumes([
      {
        clusterNamespace: 'db',
        cluster: 'pg',
        pod: 'pg-1',
        volumeType: 'data',
        totalBytes: 10n * 2n ** 30n,
        usedBytes: 9n * 2n ** 30n,
        availableBytes: 2n ** 30n,
        percentUsed: 90,
        atLimit: false,
        blocked: 'archive-unhealthy',
        budgetRemaining: 2,
      },
    ]);
    const r = await fetch(url('/metrics'));
    expect(r.headers.get('content-type')).toContain('text/plain');
    const text = await r.text();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(text).toContain('cnpg_disk_leader 1');
    expect(text).toContain('cnpg_disk_resizes_total{result="applied"} 1');
    expect(text).toContain('cnpg_disk_resizes_total{result="failed"} 0');
    expect(text).toContain('cnpg_disk_loop_duration_seconds_bucket{le="0.5"} 1');
    expect(text).toContain(
      'cnpg_disk_total_bytes{cluster_namespace="db",cluster="pg",pod="pg-1",volume_type="data",tablespace=""} 10737418240',
    );
    expect(text).toContain(
      'cnpg_disk_resize_blocked{cluster_namespace="db",cluster="pg",pod="pg-1",volume_type="data",tablespace="",reason="archive-unhealthy"} 1',
    );
    expect(text).toContain('cnpg_disk_blocked_volumes{reason="archive-unhealthy"} 1');
    expect(text).not.toMatch(/[{,](instance|job|namespace)="/);
    // The next pass without that volume: its series leave.
    metrics.setVolumes([]);
    expect(await (await fetch(url('/metrics'))).text()).not.toContain('cnpg_disk_total_bytes{');
    // promtool's linter reads the exposition (exit 0; lint remarks are allowed on stdout).
    const child = execFileP('promtool', ['check', 'metrics']);
    child.child.stdin?.end(text);
    const { stdout, stderr } = await child.catch((e: { stdout: string; stderr: string }) => e);
    expect(`${stdout}${stderr}`).not.toMatch(/error/i);
  });
});
