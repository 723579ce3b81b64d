// `disk install` against the real kube-apiserver of test/infra: every object
// it prints is accepted by a server-side dry run, applying it works (twice:
// server-side apply is idempotent), and the RBAC it grants is exactly what
// the controller needs — checked with SubjectAccessReviews as the generated
// service account, both what must be allowed and what must not (secrets,
// other namespaces, other Leases, the node proxy unless asked for).
//
// Real: API server, RBAC authorizer, admission, the CloudNativePG CRDs.
// Stand-in: the PrometheusRule CRD of the Prometheus operator is not
// available offline; a CRD of the same group/kind with an open schema lets
// the API server accept the object (its rules are checked by promtool in
// alerts.test.ts instead).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { cli, expectCleanError, requireBuiltCli } from '../helpers/cli.js';

const NS = 'cnpg-disk-system';
const SA = `system:serviceaccount:${NS}:cnpg-disk-autoresizer`;

interface Attr {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

describe('disk install (real API server)', { timeout: 180_000 }, () => {
  let api: ApiServerHandle;

  const can = async (a: Attr): Promise<boolean> => {
    const r = await api.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: SA,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
          resourceAttributes: {
            verb: a.verb,
            resource: a.resource,
            group: a.group ?? '',
            ...(a.subresource ? { subresource: a.subresource } : {}),
            ...(a.namespace ? { namespace: a.namespace } : {}),
            ...(a.name ? { name: a.name } : {}),
          },
        },
      },
    });
    expect(r.status).toBe(201);
    return r.json<{ status: { allowed: boolean } }>().status.allowed;
  };
  const describeAttr = (a: Attr) =>
    `${a.verb} ${a.resource}${a.subresource ? '/' + a.subresource : ''}${a.name ? ' ' + a.name : ''}${a.namespace ? ' in ' + a.namespace : ''}`;
  const expectAccess = async (allowed: Attr[], denied: Attr[]) => {
    const got = await Promise.all([...allowed, ...denied].map(async (a) => [describeAttr(a), await can(a)] as const));
    expect(Object.fromEntries(got)).toEqual(
      Object.fromEntries([
        ...allowed.map((a) => [describeAttr(a), true]),
        ...denied.map((a) => [describeAttr(a), false]),
      ]),
    );
  };

  beforeAll(async () => {
    requireBuiltCli();
    api = await startApiServer();
    const crd = await api.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'prometheusrules.monitoring.coreos.com' },
        spec: {
          group: 'monitoring.coreos.com',
          scope: 'Namespaced',
          names: {
            plural: 'prometheusrules',
            singular: 'prometheusrule',
            kind: 'PrometheusRule',
            listKind: 'PrometheusRuleList',
          },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      },
    });
    expect(crd.status).toBe(201);
    for (const ns of ['db', 'web', 'other']) {
      expect((await api.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } })).status).toBe(201);
    }
    // Wait for the CRD to be served.
    for (let i = 0; i < 100; i++) {
      if ((await api.request('GET', '/apis/monitoring.coreos.com/v1/prometheusrules')).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
  }, 60_000);

  it('prints YAML documents: namespaced Roles per watched namespace, no secrets, warnings only when asked', async () => {
    const r = await cli(['disk', 'install', '--watch-namespace', 'db,web', '--prometheus-rule', '--dashboard']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const docs = YAML.parseAllDocuments(r.stdout).map(
      (d) => d.toJSON() as { kind: string; metadata: { name: string; namespace?: string }; rules?: unknown[] },
    );
    const kinds = docs.map((d) => `${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`);
    expect(kinds).toContain('Role db/cnpg-disk-autoresizer');
    expect(kinds).toContain('Role web/cnpg-disk-autoresizer');
    expect(kinds).toContain('Role cnpg-disk-system/cnpg-disk-autoresizer-lease');
    expect(kinds).toContain('ClusterRole /cnpg-disk-autoresizer-cluster');
    expect(kinds).toContain('Deployment cnpg-disk-system/cnpg-disk-autoresizer');
    expect(kinds).toContain('PrometheusRule cnpg-disk-system/cnpg-disk-autoresizer');
    expect(kinds).toContain('ConfigMap cnpg-disk-system/cnpg-disk-autoresizer-dashboard');
    expect(kinds.some((k) => k.startsWith('ClusterRole /cnpg-disk-autoresizer '))).toBe(false);
    expect(r.stdout).not.toMatch(/secrets|nodes\/proxy|"\*"/);

    const warned = await cli(['disk', 'install', '--source', 'kubelet-summary']);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/^warning: the kubelet-summary source grants get nodes\/proxy/);
    expect(warned.stdout).toContain('nodes/proxy');

    const json = await cli(['disk', 'install', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ apiVersion: 'v1', kind: 'List' });
  });

  it('bad flags: one sentence, exit 64', async () => {
    for (const args of [
      ['--watch-namespace', 'db,Not_A_Namespace'],
      ['--source', 'exec'],
      ['--interval', 'often'],
      ['--namespace', '-x'],
      ['--dry-run'],
      ['--default-policy', '/nonexistent/policy.yaml'],
      ['--default-policy', '/etc/hostname'],
    ]) {
      const r = await cli(['disk', 'install', ...args]);
      expect(r.code, args.join(' ')).toBe(64);
      expectCleanError(r.stderr);
    }
  });

  it('namespaced install: the API server accepts every object (dry run), then the RBAC is exactly enough', async () => {
    const kubeconfig = api.kubeconfigPath;
    const common = ['disk', 'install', '--watch-namespace', 'db,web', '--prometheus-rule', '--dashboard'];
    // A dry run of namespaced objects needs their namespace: create it first (that is all).
    expect((await api.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } })).status).toBe(201);
    const dry = await cli([...common, '--apply', '--dry-run'], { kubeconfig });
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(14);
    for (const l of lines) expect(l).toMatch(/ accepted \(server dry run\)$/);
    // Nothing stored.
    expect((await api.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/cnpg-disk-autoresizer`)).status).toBe(
      404,
    );

    const applied = await cli([...common, '--apply'], { kubeconfig });
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const again = await cli([...common, '--apply'], { kubeconfig });
    expect(again.code).toBe(0);
    const dep = (await api.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/cnpg-disk-autoresizer`)).json<{
      metadata: { managedFields: { manager: string; operation: string }[] };
      spec: { replicas: number; template: { spec: { containers: { args: string[] }[] } } };
    }>();
    expect(dep.spec.replicas).toBe(2);
    expect(dep.metadata.managedFields.map((f) => `${f.manager} ${f.operation}`)).toContain(
      'kubectl-cnpg-disk-install Apply',
    );
    expect(dep.spec.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining(['--controller', '--watch-namespace', 'db,web']),
    );

    const inNs = (ns: string): Attr[] => [
      { verb: 'list', resource: 'clusters', group: 'postgresql.cnpg.io', namespace: ns },
      { verb: 'watch', resource: 'clusters', group: 'postgresql.cnpg.io', namespace: ns },
      { verb: 'patch', resource: 'clusters', group: 'postgresql.cnpg.io', namespace: ns, name: 'pg' },
      { verb: 'watch', resource: 'pods', namespace: ns },
      { verb: 'get', resource: 'pods', subresource: 'proxy', namespace: ns, name: 'pg-1' },
      { verb: 'list', resource: 'persistentvolumeclaims', namespace: ns },
      { verb: 'patch', resource: 'persistentvolumeclaims', namespace: ns, name: 'pg-1' },
      { verb: 'create', resource: 'events', namespace: ns },
      { verb: 'list', resource: 'events', namespace: ns },
      { verb: 'patch', resource: 'events', namespace: ns, name: 'e' },
    ];
    await expectAccess(
      [
        ...inNs('db'),
        ...inNs('web'),
        { verb: 'watch', resource: 'storageclasses', group: 'storage.k8s.io' },
        { verb: 'get', resource: 'leases', group: 'coordination.k8s.io', namespace: NS, name: 'cnpg-disk-autoresizer' },
        {
          verb: 'update',
          resource: 'leases',
          group: 'coordination.k8s.io',
          namespace: NS,
          name: 'cnpg-disk-autoresizer',
        },
        { verb: 'create', resource: 'leases', group: 'coordination.k8s.io', namespace: NS },
      ],
      [
        { verb: 'get', resource: 'secrets', namespace: 'db', name: 'pg-app' },
        { verb: 'list', resource: 'secrets', namespace: 'db' },
        { verb: 'list', resource: 'persistentvolumeclaims', namespace: 'other' },
        { verb: 'list', resource: 'clusters', group: 'postgresql.cnpg.io' },
        { verb: 'delete', resource: 'persistentvolumeclaims', namespace: 'db', name: 'pg-1' },
        { verb: 'update', resource: 'persistentvolumeclaims', namespace: 'db', name: 'pg-1' },
        { verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'db', name: 'pg-1' },
        { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'node-1' },
        { verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: NS, name: 'someone-elses' },
        {
          verb: 'get',
          resource: 'leases',
          group: 'coordination.k8s.io',
          namespace: 'db',
          name: 'cnpg-disk-autoresizer',
        },
        { verb: 'patch', resource: 'storageclasses', group: 'storage.k8s.io', name: 'standard' },
      ],
    );
  });

  it('cluster-wide install with the kubelet source: a ClusterRole, nodes/proxy only then, still no secrets', async () => {
    const r = await cli(['disk', 'install', '--source', 'cluster-status,pod-proxy,kubelet-summary', '--apply'], {
      kubeconfig: api.kubeconfigPath,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: the kubelet-summary source/);
    await expectAccess(
      [
        { verb: 'list', resource: 'clusters', group: 'postgresql.cnpg.io' },
        { verb: 'patch', resource: 'persistentvolumeclaims', namespace: 'other', name: 'x' },
        { verb: 'get', resource: 'nodes', subresource: 'proxy', name: 'node-1' },
      ],
      [
        { verb: 'get', resource: 'secrets', namespace: 'other', name: 'x' },
        { verb: 'list', resource: 'secrets' },
        { verb: 'get', resource: 'nodes', name: 'node-1' },
        { verb: 'delete', resource: 'clusters', group: 'postgresql.cnpg.io', namespace: 'db', name: 'pg' },
      ],
    );
  });
});
