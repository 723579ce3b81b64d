// disk policy validate --cluster against a REAL kube-apiserver + etcd
// (test/infra): a read-only RBAC identity validates a Cluster's annotation
// against its live PVC sizes without a single write (audit log), the built
// CLI gives the documented exit codes, and a denied identity gets "could not
// evaluate". Real: API server, RBAC, audit, CRDs; no node-side component is
// needed (validation measures nothing). Needs the binaries from
// test/infra/build-k8s.sh; `npm test` builds dist/ before vitest runs.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { startApiServer, type ApiResponse, type ApiServerHandle } from '../infra/apiserver.js';
import { ensureNamespace } from '../infra/simulated.js';
import { runPolicyValidate } from '../../src/app/policy-validate.js';
import type { Deps } from '../../src/cli/deps.js';
import { bufferIO } from '../../src/cli/io.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'pv';
let api: ApiServerHandle;

async function must(p: Promise<ApiResponse>, ok: number[], what: string): Promise<ApiResponse> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return r;
}

beforeAll(async () => {
  api = await startApiServer();
  await ensureNamespace(api, NS);
  await must(
    api.request('POST', `/apis/postgresql.cnpg.io/v1/namespaces/${NS}/clusters`, {
      body: {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Cluster',
        metadata: {
          name: 'main',
          annotations: {
            // The limit is above the declared 10Gi but not above the PVC, which the provisioner rounded up to 12Gi.
            'disk.cnpg-plugin.dev/resize-policy': 'storage: { resize: { enabled: true, expansion: { limit: 11Gi } } }',
          },
        },
        spec: { instances: 1, storage: { size: '10Gi' }, walStorage: { size: '2Gi' } },
      },
    }),
    [201],
    'cluster',
  );
  for (const [name, role, size, capacity] of [
    ['main-1', 'PG_DATA', '10Gi', '12Gi'],
    ['main-1-wal', 'PG_WAL', '2Gi', '2Gi'],
  ] as const) {
    await must(
      api.request('POST', `/api/v1/namespaces/${NS}/persistentvolumeclaims`, {
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: {
            name,
            labels: { 'cnpg.io/cluster': 'main', 'cnpg.io/instanceName': 'main-1', 'cnpg.io/pvcRole': role },
          },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } },
        },
      }),
      [201],
      name,
    );
    await must(
      api.request('PATCH', `/api/v1/namespaces/${NS}/persistentvolumeclaims/${name}/status`, {
        contentType: 'application/merge-patch+json',
        body: { status: { phase: 'Bound', capacity: { storage: capacity } } },
      }),
      [200],
      `${name} status`,
    );
  }
  // A read-only identity: reads the namespace's Clusters, pods, PVCs and events; nothing cluster-wide.
  await must(
    api.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      body: {
        metadata: { name: 'cnpg-disk-reader' },
        rules: [
          { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods', 'persistentvolumeclaims', 'events'], verbs: ['get', 'list'] },
        ],
      },
    }),
    [201],
    'role',
  );
  await must(
    api.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      body: {
        metadata: { name: 'cnpg-disk-readers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cnpg-disk-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'cnpg-disk:readers' }],
      },
    }),
    [201],
    'rolebinding',
  );
}, 240_000);

afterAll(async () => {
  await api?.stop();
}, 60_000);

describe('disk policy validate --cluster against a real API server', () => {
  it('a read-only identity validates the annotation against the live PVC sizes, writing nothing', async () => {
    const kubeconfig = await api.kubeconfigFor('policy-reader', ['cnpg-disk:readers']);
    const client = new KubeClient(loadKubeConfig({ kubeconfig }), 30_000);
    const io = bufferIO();
    const deps: Deps = { io, now: () => new Date(), kube: () => client };
    const code = await runPolicyValidate({ cluster: 'main', namespace: NS, output: 'table', verbose: false }, deps);
    expect(code).toBe(1);
    const out = io.out.join('');
    expect(out).toMatch(
      /annotation\s+WARNING\s+LIMIT_NOT_ABOVE_SIZE\s+storage\.resize\.expansion\.limit\s+limit 11Gi is not above the current size \(12Gi\)/,
    );
    expect(out).toMatch(/policy in force: data ← annotation \(enabled\), wal ← defaults \(disabled\)/);
    expect(client.requests.every((r) => r.method === 'GET')).toBe(true);
    const audit = (await api.readAudit()).filter((e) => e.user.username === 'policy-reader');
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.filter((e) => !['get', 'list'].includes(e.verb))).toEqual([]);
    // Storage classes are cluster-wide: denied to this identity, and not needed.
    expect(audit.some((e) => e.objectRef?.resource === 'storageclasses' && e.responseStatus?.code === 403)).toBe(true);
  });

  it('the built CLI: FILE --cluster with errors exits 2 with a PolicyValidation document; an unknown Cluster exits 64', async () => {
    expect(existsSync(join(ROOT, 'dist/commands/disk/policy/validate.js')), 'run `npm run build` first').toBe(true);
    const kubeconfig = await api.kubeconfigFor('policy-reader', ['cnpg-disk:readers']);
    const dir = mkdtempSync(join(tmpdir(), 'pv-'));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'walStorage:\n  resize:\n    enabled: true\n    expansion: { step: 10, limit: 1Gi }\n');
    const r = await cli([
      'disk',
      'policy',
      'validate',
      policy,
      '--cluster',
      'main',
      '-n',
      NS,
      '--kubeconfig',
      kubeconfig,
      '-o',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(2);
    const doc = JSON.parse(r.stdout) as {
      kind: string;
      valid: boolean;
      issues: { code: string }[];
      inForce: unknown[];
    };
    expect(doc.kind).toBe('PolicyValidation');
    expect(doc.valid).toBe(false);
    expect(doc.issues.map((i) => i.code).sort()).toEqual(['LIMIT_NOT_ABOVE_SIZE', 'STEP_BARE_INTEGER']);
    expect(doc.inForce).toEqual([
      { volume: 'data', source: 'annotation', enabled: true, errors: 0 },
      { volume: 'wal', source: 'file', enabled: false, errors: 1 },
    ]);

    const missing = await cli([
      'disk',
      'policy',
      'validate',
      '--cluster',
      'nope',
      '-n',
      NS,
      '--kubeconfig',
      kubeconfig,
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error: there is no CloudNativePG Cluster "nope" in namespace pv\n/);
  }, 60_000);

  it('an identity that may not list Clusters gets exit 3 and the rule to grant', async () => {
    const kubeconfig = await api.kubeconfigFor('policy-nobody', ['cnpg-disk:nobody']);
    const r = await cli(['disk', 'policy', 'validate', '--cluster', 'main', '-n', NS, '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not allowed to list CloudNativePG Clusters/);
    expect(r.stderr).toMatch(/hint: grant: list clusters\.postgresql\.cnpg\.io in pv/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 60_000);
});
