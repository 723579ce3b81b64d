// The apply step of `disk resize` on its own (src/app/resize/apply.ts):
// applyResize against a real kube-apiserver + etcd (test/infra). The PVCs,
// their storage classes and the API server's validation, admission and
// resourceVersion checks are real; the filesystem facts of the plan are
// given (the apply step never reads them: measuring is tested in
// resize.test.ts and disk-status.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GiB, LEDGER_ANNOTATION, parseBytes, parseLedger } from '@cnpg-disk/core';
import { startApiServer, type ApiResponse, type ApiServerHandle } from '../infra/apiserver.js';
import { ensureNamespace } from '../infra/simulated.js';
import { evaluateCluster } from '../../src/analysis/evaluate.js';
import { applyResize, type ApplyContext } from '../../src/app/resize/apply.js';
import { buildPlan } from '../../src/app/resize/plan.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { getPvc } from '../../src/kube/pvc-write.js';
import type { KubeObject } from '../../src/model/snapshot.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot, storageClasses } from '../helpers/fixtures.js';

const NS = 'apply';
const POLICY = 'storage: { resize: { enabled: true } }';
let api: ApiServerHandle;
let admin: KubeClient;

async function must(p: Promise<ApiResponse>, ok: number[], what: string): Promise<ApiResponse> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return r;
}

/** A bound 10Gi data PVC of instance `instance` in the API server. */
async function seedPvc(instance: string, storageClass = 'expandable'): Promise<void> {
  const body = pvc({ instance, role: 'PG_DATA', request: '10Gi', namespace: NS, storageClass });
  const { resourceVersion: _rv, ...metadata } = body['metadata'] as Record<string, unknown>;
  await must(
    api.request('POST', `/api/v1/namespaces/${NS}/persistentvolumeclaims`, {
      body: { ...body, metadata, status: undefined },
    }),
    [201],
    `create pvc ${instance}`,
  );
  await must(
    api.request('PATCH', `/api/v1/namespaces/${NS}/persistentvolumeclaims/${instance}/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: { phase: 'Bound', capacity: { storage: '10Gi' } } },
    }),
    [200],
    `bind pvc ${instance}`,
  );
}

/** The plan item for the PVC as the API server has it now (90 % used: the engine says resize). */
async function planItemFor(instance: string) {
  const raw = await getPvc(admin, NS, instance);
  const c = cluster({
    namespace: NS,
    name: 'pg',
    walStorage: true,
    annotations: { 'disk.cnpg-plugin.dev/resize-policy': POLICY },
  });
  const cs = clusterSnapshot(
    c,
    [pod({ name: instance, namespace: NS })],
    [raw],
    [{ pod: instance, filesystems: { [instance]: fs(10, 90) }, errors: [] }],
  );
  const snap = snapshot([cs]);
  const report = evaluateCluster(cs, storageClasses, { now: Date.now() });
  const item = buildPlan(snap, cs, report, { forceUnknownStorageClass: false }).items[0]!;
  return { item, report, raw };
}

function ctx(client: KubeClient, report: ApplyContext['report']): ApplyContext {
  return { client, now: () => new Date(), storageClasses, report, forceUnknownStorageClass: false, maxAttempts: 5 };
}

const requestOf = (o: KubeObject) =>
  parseBytes((o['spec'] as { resources: { requests: { storage: string } } }).resources.requests.storage);
const versionOf = (o: KubeObject) => (o['metadata'] as { resourceVersion: string }).resourceVersion;

beforeAll(async () => {
  api = await startApiServer();
  await ensureNamespace(api, NS);
  for (const sc of storageClasses) {
    await must(api.request('POST', '/apis/storage.k8s.io/v1/storageclasses', { body: sc }), [201], 'storage class');
  }
  admin = new KubeClient(loadKubeConfig({ kubeconfig: await api.kubeconfigFor('admin', ['system:masters']) }), 30_000);
}, 240_000);

afterAll(async () => {
  await api?.stop();
}, 60_000);

describe('applyResize against a real API server', { timeout: 60_000 }, () => {
  it('one write sets the new request and the ledger entry together', async () => {
    await seedPvc('pg-1');
    const { item, report } = await planItemFor('pg-1');
    expect(item.refusal?.message ?? item.action).toBe('resize');
    const r = await applyResize(item, ctx(admin, report));
    expect(r).toMatchObject({ status: 'applied', attempts: 1, conflicts: 0, fromBytes: 10n * GiB });
    const now = await getPvc(admin, NS, 'pg-1');
    expect(requestOf(now)).toBe(r.toBytes);
    const ledger = parseLedger(
      (now['metadata'] as { annotations: Record<string, string> }).annotations[LEDGER_ANNOTATION],
    );
    expect(ledger.entries).toHaveLength(1);
    expect(ledger.entries[0]).toMatchObject({ fromBytes: 10n * GiB, toBytes: r.toBytes, by: 'engine' });
  });

  it('a write on a stale resourceVersion conflicts (409); the fresh read decides the same, and the retry lands', async () => {
    await seedPvc('pg-2');
    const { item, report } = await planItemFor('pg-2');
    await must(
      api.request('PATCH', `/api/v1/namespaces/${NS}/persistentvolumeclaims/pg-2`, {
        contentType: 'application/merge-patch+json',
        body: { metadata: { labels: { touched: 'yes' } } },
      }),
      [200],
      'touch',
    );
    const r = await applyResize(item, ctx(admin, report));
    expect(r).toMatchObject({ status: 'applied', attempts: 2, conflicts: 1 });
    expect(r.freshDecision?.verdict).toBe('resize');
  });

  it('a PVC whose storage class cannot expand is refused before any write', async () => {
    await seedPvc('pg-3', 'fixed');
    const { item, report, raw } = await planItemFor('pg-3');
    expect(item.action).toBe('refuse');
    const r = await applyResize(item, ctx(admin, report));
    expect(r.status).toBe('not-applied');
    expect(r.attempts).toBe(0);
    expect(versionOf(await getPvc(admin, NS, 'pg-3'))).toBe(versionOf(raw));
  });

  it('an identity without patch on PVCs: failed, naming the rule to grant, and nothing changed', async () => {
    await seedPvc('pg-4');
    const { item, report, raw } = await planItemFor('pg-4');
    const nobody = new KubeClient(loadKubeConfig({ kubeconfig: await api.kubeconfigFor('nobody', []) }), 30_000);
    const r = await applyResize(item, ctx(nobody, report));
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/refused the patch .*grant "patch persistentvolumeclaims" in namespace apply/);
    expect(versionOf(await getPvc(admin, NS, 'pg-4'))).toBe(versionOf(raw));
  });
});
