// One TLS context and keep-alive pool per API server (src/kube/client.ts
// `agent()`), proven against the real kube-apiserver:
//
//  1. Server side: the CLI reaches the API server through a TCP relay that
//     counts the connections it accepts. `wal health` reads /pg/status and
//     /metrics of 12 instances through the real pod proxy (24 pod-proxy GETs)
//     plus lists and access reviews; the connections stay bounded by the
//     instance concurrency, not by the requests (before: one connection and
//     one full TLS handshake per pod-proxy GET).
//  2. Client side, in process: exec WebSockets cannot share a connection (each
//     is an upgraded socket), but they share the TLS context and resume the
//     first handshake's session: the TLS library reports each later session
//     as resumed.
//
// Real: kube-apiserver, etcd, the pod proxy, TLS. Simulated: instance
// managers (metrics exporters in a network namespace) and kubelets (they
// refuse exec, which is enough: the WebSocket's TLS session comes first).
import * as net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { execInPod } from '../../src/kube/exec.js';
import { KubeApiError } from '../../src/kube/errors.js';
import { ACCESS_REVIEWS_IN_FLIGHT, checkAccess, streamingAccess } from '../../src/sources/permissions.js';
import { listAll, LIST_PAGE_SIZE } from '../../src/snapshot/collect.js';
import pLimit from 'p-limit';
import { auditOf, countByKind } from './harness.js';
import { cli, json, requireBuiltCli } from '../helpers/cli.js';
import { metricsExporter, Seeder } from './seed.js';

const nodes = ['cn-1', 'cn-2', 'cn-3'];
const CLUSTERS = 4;
const INSTANCES = 3;
const CONCURRENCY = 4;

/** A TCP relay to the API server that counts the connections it accepts. */
async function countingRelay(target: URL): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    accepted++;
    const u = net.connect(Number(target.port), target.hostname);
    sockets.add(c).add(u);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    c.on('close', () => u.destroy());
    u.on('close', () => c.destroy());
    c.pipe(u);
    u.pipe(c);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    count: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('one TLS context and keep-alive pool per API server', { timeout: 180_000 }, () => {
  let api: ApiServerHandle;
  let tnet: TestNetwork;
  let seed: Seeder;

  beforeAll(async () => {
    requireBuiltCli();
    await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (tnet = n))]);
    seed = await Seeder.create(api, tnet);
    await seed.storageClasses();
    await Promise.all(nodes.map((n) => seed.node(n)));
    await Promise.all(
      Array.from({ length: CLUSTERS }, (_, i) =>
        seed.cluster({
          namespace: 'conn',
          name: `c${i}`,
          instances: INSTANCES,
          nodes,
          instanceManager: { port: 9187, handler: (_p, primary, vols) => metricsExporter(vols, primary) },
        }),
      ),
    );
  }, 180_000);

  afterAll(async () => {
    await seed?.close();
    await Promise.all([api?.stop(), tnet?.close()]);
  });

  it('wal health: 24 pod-proxy reads share a few kept-alive connections', async () => {
    const relay = await countingRelay(new URL(api.url));
    try {
      const kubeconfig = await api.kubeconfigFor('conn-wal', ['system:masters']);
      const relayed = `${kubeconfig}.relay`;
      writeFileSync(relayed, readFileSync(kubeconfig, 'utf8').replace(api.url, relay.url));
      const r = await cli(['wal', 'health', '-n', 'conn', '-o', 'json', '--concurrency', String(CONCURRENCY)], {
        kubeconfig: relayed,
      });
      expect(r.stderr).not.toContain('Error:');
      expect([0, 1, 2]).toContain(r.code);
      const doc = json<{ clusters: { instances?: unknown[] }[] }>(r);
      expect(doc.clusters).toHaveLength(CLUSTERS);
      const kinds = countByKind(await auditOf(api, 'conn-wal'));
      const proxied = Object.entries(kinds)
        .filter(([k]) => k.endsWith('pods/proxy'))
        .reduce((a, [, v]) => a + v, 0);
      // /pg/status (nothing listens on 8000 here: the proxy answers 502) and /metrics, per instance.
      expect(proxied).toBe(2 * CLUSTERS * INSTANCES);
      // The exporter answers as CloudNativePG's does on every instance (archive_status
      // counted on replicas too): the metrics alone judge each instance, so no
      // instance needs exec or a port-forward: at most two requests per pod.
      expect(Object.keys(kinds).filter((k) => /pods\/(exec|portforward)$/.test(k))).toEqual([]);
      const walSources = doc.clusters.flatMap((c) => (c.instances ?? []).map((i) => (i as { source?: string }).source));
      expect(walSources).toEqual(Array(CLUSTERS * INSTANCES).fill('pod-proxy'));
      const total = Object.values(kinds).reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThan(proxied);
      // An exec (a WAL fallback; none in this run) would upgrade a connection, a
      // new one or an idle one from the pool; everything else shares the pool: at
      // most one connection per request in flight (the instance concurrency,
      // or the first lists and access reviews sent together), never one per
      // request (before: every request its own connection and handshake).
      const upgrades = kinds['get pods/exec'] ?? 0;
      expect(relay.count()).toBeGreaterThan(0);
      expect(relay.count()).toBeLessThanOrEqual(upgrades + CONCURRENCY + 6);
      expect(relay.count()).toBeLessThan(total / 2);
    } finally {
      await relay.close();
    }
  });

  it('getJson (the fleet lists as plain JSON) maps errors like the generated calls', async () => {
    const admin = new KubeClient(
      loadKubeConfig({ kubeconfig: await api.kubeconfigFor('conn-json', ['system:masters']) }),
    );
    const pods = (await admin.getJson(
      '/api/v1/namespaces/conn/pods',
      { labelSelector: 'cnpg.io/cluster' },
      'list pods',
    )) as {
      items: { metadata: { name: string; creationTimestamp: string } }[];
    };
    expect(pods.items).toHaveLength(CLUSTERS * INSTANCES);
    // the API server's own JSON, not client-node's models (whose dates would be Date objects)
    expect(typeof pods.items[0]?.metadata.creationTimestamp).toBe('string');
    const viaModels = await (
      await admin.apis()
    ).core.listNamespacedPod({ namespace: 'conn', labelSelector: 'cnpg.io/cluster' });
    expect(pods.items.map((p) => p.metadata.name).sort()).toEqual(viaModels.items.map((p) => p.metadata?.name).sort());
    const nobody = new KubeClient(loadKubeConfig({ kubeconfig: await api.kubeconfigFor('conn-nobody') }));
    const denied = await nobody.getJson('/api/v1/pods', {}, 'list pods').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(KubeApiError);
    expect((denied as KubeApiError).isForbidden).toBe(true);
    expect((denied as KubeApiError).message).toContain('cannot list resource "pods"');
    const missing = await admin
      .getJson('/api/v1/namespaces/conn/nosuchkind', {}, 'list nosuchkind')
      .catch((e: unknown) => e);
    expect((missing as KubeApiError).isNotFound).toBe(true);
    for (const c of [admin, nobody]) (await c.agent())?.destroy();
  });

  it('lists are read in pages of 500 (limit/continue), each object without managedFields', async () => {
    const admin = new KubeClient(
      loadKubeConfig({ kubeconfig: await api.kubeconfigFor('conn-pages', ['system:masters']) }),
    );
    const core = (await admin.apis()).core;
    await core.createNamespace({ body: { metadata: { name: 'pages' } } });
    const COUNT = 2 * LIST_PAGE_SIZE + 7;
    const names = Array.from({ length: COUNT }, (_, i) => `cm-${String(i).padStart(4, '0')}`);
    const limit = pLimit(32);
    await Promise.all(
      names.map((name) =>
        limit(() =>
          core.createNamespacedConfigMap({
            namespace: 'pages',
            body: { metadata: { name, labels: { 'cnpg.io/cluster': 'x' } }, data: { k: name } },
          }),
        ),
      ),
    );
    const before = admin.requests.length;
    const got = await listAll(
      admin,
      '/api/v1/namespaces/pages/configmaps',
      { labelSelector: 'cnpg.io/cluster' },
      'list configmaps',
    );
    const made = admin.requests.slice(before).map((r) => new URL(r.url));
    expect(got.map((o) => (o['metadata'] as { name: string }).name).sort()).toEqual(names);
    // three pages: 500, 500, 7; the second and third carry the previous page's continue token
    expect(made.map((u) => u.searchParams.get('limit'))).toEqual(['500', '500', '500']);
    expect(made.map((u) => u.searchParams.has('continue'))).toEqual([false, true, true]);
    expect(made.every((u) => u.searchParams.get('labelSelector') === 'cnpg.io/cluster')).toBe(true);
    // the API server sets managedFields on every create; the list drops them
    const raw = (await admin.getJson('/api/v1/namespaces/pages/configmaps', { limit: '1' }, 'get one')) as {
      items: { metadata: Record<string, unknown> }[];
    };
    expect(raw.items[0]?.metadata['managedFields']).toBeDefined();
    expect(got.filter((o) => 'managedFields' in (o['metadata'] as object))).toEqual([]);
    (await admin.agent())?.destroy();
  });

  it('access reviews of many namespaces are sent a few at a time: a few connections, not one per review', async () => {
    const client = new KubeClient(loadKubeConfig({ kubeconfig: await api.kubeconfigFor('conn-reviews') }));
    // what auto mode asks for -A over 30 namespaces: 4 rules in each (access reviews need no namespace to exist)
    const checks = Array.from({ length: 30 }, (_, i) => `ns-${i}`).flatMap((namespace) => [
      { verb: 'get', resource: 'pods', subresource: 'proxy', namespace },
      ...streamingAccess('exec', namespace),
      { verb: 'get', resource: 'nodes', subresource: 'proxy', namespace: '' },
    ]);
    const allowed = await checkAccess(client, checks);
    // every distinct rule answered once (the cluster-wide one once, not 30 times), all denied for this user
    expect(allowed.size).toBe(3 * 30 + 1);
    expect([...allowed.values()].every((v) => v === false)).toBe(true);
    const reviews = client.requests.filter((r) => r.url.endsWith('/selfsubjectaccessreviews'));
    expect(reviews).toHaveLength(3 * 30 + 1);
    // at most ACCESS_REVIEWS_IN_FLIGHT at once, so at most that many connections (before: one per review)
    expect(client.connections.opened).toBeGreaterThan(0);
    expect(client.connections.opened).toBeLessThanOrEqual(ACCESS_REVIEWS_IN_FLIGHT);
    (await client.agent())?.destroy();
  });

  it('exec WebSockets share the TLS context and resume its session', async () => {
    const kubeconfig = await api.kubeconfigFor('conn-exec', ['system:masters']);
    const client = new KubeClient(loadKubeConfig({ kubeconfig }), 10_000);
    const failures: string[] = [];
    for (let i = 0; i < 3; i++) {
      // The simulated kubelet refuses exec: the call fails after the TLS handshake and the upgrade.
      await execInPod(client, 'conn', `c${i}-1`, 'postgres', ['true'], 10_000).then(
        () => failures.push('exec ran'),
        (e: unknown) => failures.push(e instanceof Error ? e.message : String(e)),
      );
    }
    expect(failures).toHaveLength(3);
    expect(failures.every((f) => f !== 'exec ran')).toBe(true);
    expect(client.connections.opened).toBe(3);
    // The first handshake is full; the next two resume its session.
    expect(client.connections.resumed).toBe(2);
    // A list after that reuses an idle kept-alive connection or opens one more, never one per call.
    for (let i = 0; i < 5; i++) await (await client.apis()).core.listNamespacedPod({ namespace: 'conn' });
    expect(client.connections.opened).toBeLessThanOrEqual(4);
    (await client.agent())?.destroy();
  });
});
