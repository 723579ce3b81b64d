// The autoresizer against the REAL kube-apiserver + etcd of test/infra:
//
//  1. `disk autoresize` (the built CLI, one pass): resizes what the engine
//     says, grows a new replica's PVC to its siblings (sibling floor, ledger
//     says why), leaves a Cluster without policy alone, reports an
//     AutoresizeReport; a second pass spends no second budget slot.
//  2. Two controllers in one process (two identities, two client
//     certificates): exactly one acts — the audit log shows patches from one
//     user only.
//  3. The leader abandoned mid-run (its renewals stop, as after kill -9): the
//     other takes over within the lease duration and finishes the work; no
//     PVC's ledger holds two entries (no budget slot spent twice).
//  4. RBAC: as an identity holding exactly what `disk install` generates but
//     for patch on PVCs, the pass writes nothing and names that rule.
//
// Real: API server, etcd, admission, optimistic concurrency, audit log, the
// node proxy, tmpfs filesystems measured with statfs. Simulated: the kubelets
// (statfs summary through the node proxy) and the storage driver (nothing here
// expands a volume, so a written request stays above the capacity: the
// engine then sees an expansion in progress, as it would on a slow driver).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_ANNOTATION, parseLedger } from '@cnpg-disk/core';
import { Controller } from '../../src/controller/controller.js';
import { clusterScopedRules, namespacedRules } from '../../src/controller/install/manifests.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { auditOf, kindOf } from '../api/harness.js';
import { cli, json, REPO, requireBuiltCli } from '../helpers/cli.js';
import { Seeder } from '../api/seed.js';

const MiB = 1024 * 1024;
const WAL_POLICY = [
  'walStorage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 80 }',
  '    expansion: { step: 32Mi, limit: 1Gi }',
  '    strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } }',
  '',
].join('\n');
const DEFAULT_POLICY = [
  'apiVersion: disk.cnpg-plugin.dev/v1alpha1',
  'kind: DefaultPolicy',
  'rules:',
  '  - namespaces: [once]',
  '    selector: team=floor',
  '    policy:',
  '      storage:',
  '        resize:',
  '          enabled: true',
  '          expansion: { step: 32Mi, limit: 1Gi }',
  '          strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } }',
  '',
].join('\n');

interface Report {
  kind: string;
  exitCode: number;
  clusters: {
    name: string;
    volumes: { pvc: string; action: string; policySource: string; why?: string; toBytes?: string; message: string }[];
  }[];
}

describe('autoresize against a real API server', { timeout: 240_000 }, () => {
  let api: ApiServerHandle;
  let net: TestNetwork;
  let seed: Seeder;
  let dir: string;
  const nodes = ['ar-1', 'ar-2'];

  const pvc = async (ns: string, name: string) =>
    (await api.request('GET', `/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`)).json<{
      metadata: { annotations?: Record<string, string> };
      spec: { resources: { requests: { storage: string } } };
    }>();
  const ledgerOf = async (ns: string, name: string) =>
    parseLedger((await pvc(ns, name)).metadata.annotations?.[LEDGER_ANNOTATION]);
  const controller = async (identity: string, namespaces: string[], onWrite?: () => void) => {
    const kc = loadKubeConfig({ kubeconfig: await api.kubeconfigFor(identity, ['system:masters']) });
    return new Controller(new KubeClient(kc, 10_000), {
      namespaces,
      intervalMs: 2_000,
      source: 'kubelet-summary',
      concurrency: 4,
      leaseNamespace: 'cnpg-disk-system',
      leaseName: `lease-${namespaces.join('-')}`,
      identity,
      metricsHost: '127.0.0.1',
      metricsPort: 0,
      keepSpecInStep: false,
      log: () => undefined,
      ...(onWrite ? { onWrite } : {}),
    });
  };
  const until = async (what: string, cond: () => boolean | Promise<boolean>, ms: number) => {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (await cond()) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${what}: not within ${ms} ms`);
  };

  beforeAll(async () => {
    requireBuiltCli();
    dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-autoresize-'));
    await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (net = n))]);
    seed = await Seeder.create(api, net);
    await seed.storageClasses();
    await Promise.all(nodes.map((n) => seed.node(n)));
    await seed.namespace('cnpg-disk-system');
    // once/grow: WAL at 88% with a policy annotation → the engine resizes both WAL PVCs.
    await seed.cluster({
      namespace: 'once',
      name: 'grow',
      instances: 2,
      walStorage: true,
      nodes,
      usage: { data: 0.3, wal: 0.88 },
      annotations: { 'disk.cnpg-plugin.dev/resize-policy': WAL_POLICY },
    });
    // once/floor: two instances were grown to 128 MiB, the new third is at the declared 64 MiB.
    await seed.cluster({
      namespace: 'once',
      name: 'floor',
      instances: 3,
      nodes,
      labels: { team: 'floor' },
      usage: { data: 0.3 },
      pvcs: { 'floor-1': { request: '128Mi', capacity: '128Mi' }, 'floor-2': { request: '128Mi', capacity: '128Mi' } },
    });
    // once/off: full, but no policy: never touched.
    await seed.cluster({ namespace: 'once', name: 'off', instances: 1, nodes, usage: { data: 0.95 } });
    writeFileSync(join(dir, 'default-policy.yaml'), DEFAULT_POLICY);
  }, 180_000);

  afterAll(async () => {
    await seed?.close();
    await net?.close?.();
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('one pass: engine resizes, the sibling floor, no policy no action; a second pass spends nothing', async () => {
    const args = ['disk', 'autoresize', '-n', 'once', '--source', 'kubelet-summary', '-o', 'json'];
    const r = await cli([...args, '--default-policy', join(dir, 'default-policy.yaml')], {
      kubeconfig: api.kubeconfigPath,
    });
    const doc = json<Report>(r);
    if (process.env['AR_DEBUG']) console.log(JSON.stringify(doc, null, 1), r.stderr);
    expect(doc.kind).toBe('AutoresizeReport');
    const vol = (c: string, p: string) => doc.clusters.find((x) => x.name === c)?.volumes.find((v) => v.pvc === p);
    expect(vol('grow', 'grow-1-wal')).toMatchObject({ action: 'resized', policySource: 'annotation', why: 'engine' });
    expect(vol('grow', 'grow-2-wal')).toMatchObject({ action: 'resized', why: 'engine' });
    expect(vol('grow', 'grow-1')?.action).toBe('none');
    expect(vol('floor', 'floor-3')).toMatchObject({
      action: 'resized',
      policySource: 'controller-default',
      why: 'sibling-floor',
      toBytes: String(128 * MiB),
    });
    expect(vol('floor', 'floor-1')?.action).toBe('none');
    expect(vol('off', 'off-1')).toMatchObject({ action: 'none', policySource: 'defaults' });
    expect(r.code).toBe(0);
    expect((await pvc('once', 'grow-1-wal')).spec.resources.requests.storage).toBe('96Mi');
    expect((await pvc('once', 'floor-3')).spec.resources.requests.storage).toBe('128Mi');
    expect((await ledgerOf('once', 'floor-3')).entries).toMatchObject([{ by: 'engine', why: 'sibling-floor' }]);
    expect((await ledgerOf('once', 'grow-1-wal')).entries).toHaveLength(1);
    expect((await pvc('once', 'off-1')).metadata.annotations?.[LEDGER_ANNOTATION]).toBeUndefined();

    // Again: the expansions are in progress (no driver here), nothing is written twice.
    const again = json<Report>(
      await cli([...args, '--default-policy', join(dir, 'default-policy.yaml')], { kubeconfig: api.kubeconfigPath }),
    );
    expect(again.clusters.flatMap((c) => c.volumes).filter((v) => v.action === 'resized')).toEqual([]);
    expect((await ledgerOf('once', 'grow-1-wal')).entries).toHaveLength(1);
    expect((await ledgerOf('once', 'floor-3')).entries).toHaveLength(1);
  });

  it('two controllers: exactly one acts', async () => {
    await seed.cluster({
      namespace: 'pair',
      name: 'pg',
      instances: 2,
      walStorage: true,
      nodes,
      usage: { data: 0.3, wal: 0.9 },
      annotations: { 'disk.cnpg-plugin.dev/resize-policy': WAL_POLICY },
    });
    const a = await controller('ctrl-a', ['pair']);
    const b = await controller('ctrl-b', ['pair']);
    try {
      await Promise.all([a.start(), b.start()]);
      await until(
        'both PVCs resized',
        async () =>
          (await ledgerOf('pair', 'pg-2-wal')).entries.length > 0 &&
          (await ledgerOf('pair', 'pg-1-wal')).entries.length > 0,
        60_000,
      );
      // A few more passes of whoever leads.
      await new Promise((r) => setTimeout(r, 6_000));
      expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
      const leader = a.elector.isLeader ? 'ctrl-a' : 'ctrl-b';
      const other = leader === 'ctrl-a' ? 'ctrl-b' : 'ctrl-a';
      const patches = async (user: string) =>
        (await auditOf(api, user)).filter((e) => kindOf(e) === 'patch persistentvolumeclaims');
      expect(await patches(leader)).toHaveLength(2);
      expect(await patches(other)).toHaveLength(0);
      expect((await ledgerOf('pair', 'pg-1-wal')).entries).toHaveLength(1);
      // The standby serves metrics and says it does not lead.
      const standby = leader === 'ctrl-a' ? b : a;
      const m = await (await fetch(`http://127.0.0.1:${standby.port}/metrics`)).text();
      expect(m).toContain('cnpg_disk_leader 0');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('leader abandoned mid-run: the other takes over and no budget slot is spent twice', async () => {
    await seed.cluster({
      namespace: 'takeover',
      name: 'pg',
      instances: 3,
      walStorage: true,
      nodes,
      usage: { data: 0.3, wal: 0.9 },
      annotations: { 'disk.cnpg-plugin.dev/resize-policy': WAL_POLICY },
    });
    // Abandon a right after its first write lands: no more writes, no release (kill -9).
    let abandoned: Promise<void> | undefined;
    const a: Controller = await controller('take-a', ['takeover'], () => {
      abandoned ??= a.stop({ release: false });
    });
    await a.start();
    await until('a wrote once and stopped', () => abandoned !== undefined, 60_000);
    await abandoned;
    expect((await auditOf(api, 'take-a')).filter((e) => kindOf(e) === 'patch persistentvolumeclaims')).toHaveLength(1);
    const b = await controller('take-b', ['takeover']);
    try {
      await b.start();
      const took = await until('b leads', () => b.elector.isLeader, 30_000);
      expect(took).toBeLessThan(15_000 + 2 * 2_400 + 2_000);
      await until(
        'every WAL PVC resized',
        async () =>
          (await Promise.all(['pg-1-wal', 'pg-2-wal', 'pg-3-wal'].map((p) => ledgerOf('takeover', p)))).every(
            (l) => l.entries.length > 0,
          ),
        60_000,
      );
      await new Promise((r) => setTimeout(r, 5_000));
      for (const p of ['pg-1-wal', 'pg-2-wal', 'pg-3-wal']) {
        expect((await ledgerOf('takeover', p)).entries, p).toHaveLength(1);
      }
      const writes = [...(await auditOf(api, 'take-a')), ...(await auditOf(api, 'take-b'))].filter(
        (e) => kindOf(e) === 'patch persistentvolumeclaims' && e.responseStatus?.code === 200,
      );
      expect(writes).toHaveLength(3);
    } finally {
      await b.stop();
    }
  });

  it('steady state: requests per pass are the measurements and the Lease, no list', async () => {
    const c = await controller('steady', ['once']);
    try {
      await c.start();
      await until('three passes', () => c.passes >= 3, 60_000);
      const first = c.passes;
      const count = async () => {
        const byKind: Record<string, number> = {};
        for (const e of await auditOf(api, 'steady')) byKind[kindOf(e)] = (byKind[kindOf(e)] ?? 0) + 1;
        return byKind;
      };
      const before = await count();
      await until('three more passes', () => c.passes >= first + 3, 60_000);
      const after = await count();
      const grew = Object.fromEntries(
        Object.entries(after)
          .map(([k, n]) => [k, n - (before[k] ?? 0)] as const)
          .filter(([, n]) => n > 0),
      );
      // Between the two counts: the kubelet summaries (measurement) and Lease renewals only.
      for (const k of Object.keys(grew)) {
        expect(['get nodes/proxy', 'get leases.coordination.k8s.io', 'update leases.coordination.k8s.io']).toContain(k);
      }
      expect(grew['get nodes/proxy']).toBeGreaterThanOrEqual(3);
      // Once, at start: one list and one watch per cached kind, one list of our events.
      expect(after['list persistentvolumeclaims']).toBe(1);
      expect(after['list pods']).toBe(1);
      expect(after['list clusters.postgresql.cnpg.io']).toBe(1);
      expect(after['list events']).toBe(1);
    } finally {
      await c.stop();
    }
  });

  it('the built CLI as a controller: leads, serves /readyz and /metrics, SIGTERM releases the Lease and exits 0', async () => {
    const child = spawn(
      process.execPath,
      [
        join(REPO, 'bin', 'run.js'),
        'disk',
        'autoresize',
        '--controller',
        '--watch-namespace',
        'once',
        '--interval',
        '2s',
        '--source',
        'kubelet-summary',
        '--lease-namespace',
        'cnpg-disk-system',
        '--lease-name',
        'process',
        '--identity',
        'proc-1',
        '--metrics-address',
        '127.0.0.1:0',
        '--kubeconfig',
        api.kubeconfigPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin', HOME: dir } },
    );
    let log = '';
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until('serving', () => /serving .* on 127\.0\.0\.1:\d+/.test(log), 30_000);
      const port = Number(/on 127\.0\.0\.1:(\d+)/.exec(log)?.[1]);
      const lease = async () =>
        (await api.request('GET', '/apis/coordination.k8s.io/v1/namespaces/cnpg-disk-system/leases/process')).json<{
          spec?: { holderIdentity?: string };
        }>();
      await until('leads', async () => (await lease()).spec?.holderIdentity === 'proc-1', 30_000);
      await until('ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000);
      await until(
        'a pass',
        async () =>
          (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes(
            'cnpg_disk_loop_duration_seconds_count 1',
          ),
        30_000,
      );
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(log).toContain('SIGTERM: finishing the write in flight, releasing the Lease');
      expect(log).not.toMatch(/^\s+at /m);
      expect((await lease()).spec?.holderIdentity).toBeUndefined();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('fail closed: a broken default policy file → no action, one event across passes, a metric', async () => {
    await seed.cluster({
      namespace: 'closed',
      name: 'pg',
      instances: 2,
      nodes,
      usage: { data: 0.95 },
      pvcs: { 'pg-1': { request: '128Mi', capacity: '128Mi' } },
    });
    const broken = join(dir, 'broken-policy.yaml');
    writeFileSync(broken, 'apiVersion: disk.cnpg-plugin.dev/v1alpha1\nkind: DefaultPolicy\nrules: [ { policy: 3 } ]\n');
    const kc = loadKubeConfig({ kubeconfig: await api.kubeconfigFor('closed-ctrl', ['system:masters']) });
    const c = new Controller(new KubeClient(kc, 10_000), {
      namespaces: ['closed'],
      intervalMs: 1_500,
      source: 'kubelet-summary',
      concurrency: 2,
      leaseNamespace: 'cnpg-disk-system',
      leaseName: 'closed',
      identity: 'closed-ctrl',
      metricsHost: '127.0.0.1',
      metricsPort: 0,
      defaultPolicyPath: broken,
      keepSpecInStep: false,
      log: () => undefined,
    });
    try {
      await c.start();
      await until('three passes', () => c.passes >= 3, 60_000);
      const v = c.lastPass?.clusters[0]?.volumes.find((x) => x.pvc === 'pg-2');
      expect(v).toMatchObject({ action: 'unknown', policySource: 'defaults' });
      expect(v?.message).toMatch(/default policy cannot be read .*rules\[0\]: policy must be a mapping/);
      const events = (
        await api.request(
          'GET',
          '/api/v1/namespaces/closed/events?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dcnpg-disk-autoresizer',
        )
      ).json<{ items: { reason: string; metadata: { annotations: Record<string, string> } }[] }>().items;
      // One per volume, not one per pass.
      expect(events.map((e) => `${e.reason} ${e.metadata.annotations['disk.cnpg-plugin.dev/volume']}`).sort()).toEqual([
        'AutoResizeUnavailable closed/pg-1',
        'AutoResizeUnavailable closed/pg-2',
      ]);
      expect((await ledgerOf('closed', 'pg-2')).entries).toHaveLength(0);
      const m = await (await fetch(`http://127.0.0.1:${c.port}/metrics`)).text();
      expect(m).toMatch(/cnpg_disk_source_errors_total\{source="default-policy"\} [3-9]/);
      // Fixed: the next pass reads it again and acts (the sibling floor for pg-2).
      writeFileSync(
        broken,
        DEFAULT_POLICY.replace('namespaces: [once]', 'namespaces: [closed]').replace('    selector: team=floor\n', ''),
      );
      await until(
        'pg-2 grown to its sibling',
        async () => (await ledgerOf('closed', 'pg-2')).entries.length === 1,
        30_000,
      );
      expect((await pvc('closed', 'pg-2')).spec.resources.requests.storage).toBe('128Mi');
    } finally {
      await c.stop();
    }
  });

  it('RBAC: the generated rules less one — the missing rule is named, nothing is written', async () => {
    const ns = 'norbac';
    await seed.cluster({
      namespace: ns,
      name: 'short',
      instances: 1,
      walStorage: true,
      nodes,
      usage: { data: 0.3, wal: 0.88 },
      annotations: { 'disk.cnpg-plugin.dev/resize-policy': WAL_POLICY },
    });
    // What `disk install --watch-namespace norbac --source kubelet-summary` grants, without patch on PVCs.
    const rules = namespacedRules(['kubelet-summary']).map((r) =>
      r.resources.includes('persistentvolumeclaims') ? { ...r, verbs: r.verbs.filter((v) => v !== 'patch') } : r,
    );
    const must = async (path: string, body: unknown) => {
      const r = await api.request('POST', path, { body });
      if (r.status !== 201) throw new Error(`${path}: ${r.status} ${r.body}`);
    };
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'ar-missing' }];
    await must(`${rbac}/namespaces/${ns}/roles`, { metadata: { name: 'ar' }, rules });
    await must(`${rbac}/namespaces/${ns}/rolebindings`, {
      metadata: { name: 'ar' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ar' },
      subjects,
    });
    await must(`${rbac}/clusterroles`, {
      metadata: { name: 'ar-missing' },
      rules: clusterScopedRules(['kubelet-summary']),
    });
    await must(`${rbac}/clusterrolebindings`, {
      metadata: { name: 'ar-missing' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ar-missing' },
      subjects,
    });
    const kubeconfig = await api.kubeconfigFor('ar-missing');
    const r = await cli(['disk', 'autoresize', '-n', ns, '--source', 'kubelet-summary', '-o', 'json'], { kubeconfig });
    if (process.env['AR_DEBUG']) console.log(r.code, r.stdout, r.stderr);
    const wal = json<Report>(r)
      .clusters.flatMap((c) => c.volumes)
      .find((v) => v.pvc === 'short-1-wal');
    expect(wal).toMatchObject({ action: 'failed' });
    expect(wal?.message).toContain('grant "patch persistentvolumeclaims" in namespace norbac');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.code).not.toBe(0);
    expect((await pvc(ns, 'short-1-wal')).spec.resources.requests.storage).toBe('64Mi');
    expect((await pvc(ns, 'short-1-wal')).metadata.annotations?.[LEDGER_ANNOTATION]).toBeUndefined();
  });
});
