// Self-test of the test infrastructure: a real kube-apiserver + etcd, the
// CNPG CRDs, RBAC, audit, and the node/pod proxy reaching test hosts in a
// network namespace. Needs root and the binaries from build-k8s.sh.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './apiserver.js';
import { addSimulatedNode, addSimulatedPod } from './simulated.js';
import { createTestNetwork, type TestNetwork } from './testhost.js';

const START_TIMEOUT = 180_000;

describe('test infra: real kube-apiserver', () => {
  let api: ApiServerHandle;
  let network: TestNetwork;

  beforeAll(async () => {
    // In parallel; assigned one by one so afterAll cleans up whatever started.
    await Promise.all([
      startApiServer({ tokenUsers: [{ user: 'token-nobody', groups: ['cnpg-disk:nobody'] }] }).then((a) => (api = a)),
      createTestNetwork().then((n) => (network = n)),
    ]);
  }, START_TIMEOUT);

  afterAll(async () => {
    await Promise.all([api?.stop(), network?.close()]);
  }, 60_000);

  it('is ready and reports the pinned version', async () => {
    const ready = await api.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    const version = await api.request('GET', '/version');
    expect(version.json<{ gitVersion: string }>().gitVersion).toBe(api.versions.k8s);
  });

  it('serves the CloudNativePG CRDs', async () => {
    const r = await api.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
    expect(r.status).toBe(200);
    const names = r.json<{ items: { metadata: { name: string } }[] }>().items.map((i) => i.metadata.name);
    expect(names).toContain('clusters.postgresql.cnpg.io');
    expect(names).toContain('backups.postgresql.cnpg.io');
    const list = await api.request('GET', '/apis/postgresql.cnpg.io/v1/namespaces/default/clusters');
    expect(list.status).toBe(200);
  });

  it('writes a usable admin kubeconfig', async () => {
    const text = await readFile(api.kubeconfigPath, 'utf8');
    expect(text).toContain(`server: "${api.url}"`);
    expect(text).toContain('client-certificate-data:');
  });

  it('denies a certificate user without RBAC permissions (403), allows it after a RoleBinding', async () => {
    const cred = await api.clientCertFor('restricted-alice', ['cnpg-disk:readers']);
    const denied = await api.request('GET', '/api/v1/namespaces/default/pods', { credentials: cred });
    expect(denied.status).toBe(403);
    expect(denied.json<{ reason: string }>().reason).toBe('Forbidden');

    const kubeconfig = await readFile(await api.kubeconfigFor('restricted-alice', ['cnpg-disk:readers']), 'utf8');
    expect(kubeconfig).toContain('"restricted-alice"');

    expect(
      (
        await api.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles', {
          body: {
            metadata: { name: 'pod-reader' },
            rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
          },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', {
          body: {
            metadata: { name: 'readers' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'cnpg-disk:readers' }],
          },
        })
      ).status,
    ).toBe(201);
    // RBAC decisions follow the informer cache: allow a moment.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await api.request('GET', '/api/v1/namespaces/default/pods', { credentials: cred })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });

  it('authenticates static token users', async () => {
    const text = await readFile(await api.kubeconfigForToken('token-nobody'), 'utf8');
    const token = /token: "([^"]+)"/.exec(text)?.[1];
    expect(token).toBeTruthy();
    const r = await api.request('GET', '/api/v1/namespaces', { credentials: { token: token ?? '' } });
    expect(r.status).toBe(403);
    expect(r.body).toContain('token-nobody');
    const admin = await api.request('GET', '/api/v1/namespaces', { credentials: { token: api.adminToken } });
    expect(admin.status).toBe(200);
  });

  it('reaches a simulated kubelet through the node proxy', async () => {
    let clientCN = '';
    const node = await addSimulatedNode(api, network, {
      name: 'node-a',
      handler: (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const cn = peer.subject?.CN;
        clientCN = Array.isArray(cn) ? cn.join(',') : (cn ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ node: { nodeName: 'node-a' }, pods: [], path: req.url }));
      },
    });
    expect(node.host.ip).toMatch(/^10\.213\.\d+\.\d+$/);
    const r = await api.request('GET', '/api/v1/nodes/node-a/proxy/stats/summary');
    expect(r.status).toBe(200);
    expect(r.json<{ path: string }>().path).toBe('/stats/summary');
    // the apiserver authenticated to the "kubelet" with its kubelet client cert
    expect(clientCN).toBe('kube-apiserver-kubelet-client');
  });

  it('reaches a simulated instance manager through the pod proxy (http and https)', async () => {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, isPrimary: true }));
    };
    await addSimulatedPod(api, network, { namespace: 'db', name: 'pg-1', handler });
    await addSimulatedPod(api, network, { namespace: 'db', name: 'pg-2', handler, tls: true });

    const plain = await api.request('GET', '/api/v1/namespaces/db/pods/pg-1:8000/proxy/pg/status');
    expect(plain.status).toBe(200);
    expect(plain.json<{ path: string }>().path).toBe('/pg/status');

    const tls = await api.request('GET', '/api/v1/namespaces/db/pods/https:pg-2:8000/proxy/pg/status');
    expect(tls.status).toBe(200);
    expect(tls.json<{ isPrimary: boolean }>().isPrimary).toBe(true);
  });

  it('records requests in the audit log', async () => {
    const r = await api.request('GET', '/api/v1/namespaces/default/configmaps');
    expect(r.status).toBe(200);
    const ev = await api.waitForAudit(
      (e) =>
        e.verb === 'list' &&
        e.objectRef?.resource === 'configmaps' &&
        e.objectRef.namespace === 'default' &&
        e.user.username === 'cnpg-disk-admin',
    );
    expect(ev.level).toBe('Metadata');
    expect(ev.responseStatus?.code).toBe(200);
    const proxied = await api.waitForAudit(
      (e) => e.objectRef?.resource === 'nodes' && e.objectRef.subresource === 'proxy' && e.verb === 'get',
    );
    expect(proxied.objectRef?.name).toBe('node-a');
  });
});
