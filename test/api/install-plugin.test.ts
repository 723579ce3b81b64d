// `disk install --plugin --apply` against the real kube-apiserver of
// test/infra, run by the built CLI as an installer identity that holds only
// what the install needs in the operator's namespace: create on secrets (no
// get, list or watch: the CLI never reads a Secret), create and patch on the
// other objects. Proven: a server dry run accepts every object and stores
// nothing; the apply stores them with the install's field manager, in a
// namespace that enforces the restricted Pod Security Standard; a second
// apply keeps the TLS Secrets as they are (the running plugin and the
// operator keep the certificates they use) and reports that; the audit log
// shows no read of a Secret; refusals (no right to create Secrets, a missing
// namespace, cert-manager's kinds without cert-manager) are one line each
// with exit 2 and a hint.
//
// Real: API server, RBAC, admission (PodSecurity), audit log, openssl.
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLUGIN_NAME } from '@cnpg-disk/core';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { auditOf, kindOf } from './harness.js';
import { grantInNamespace, SeedClient, waitForPermission, type Rule } from './seed.js';
import { cli, requireBuiltCli } from '../helpers/cli.js';

const NS = 'cnpg-system';
const IMAGE = 'registry.example:5000/team/cnpg-disk-plugin:0.1.0';
const INSTALLER = 'plugin-installer';
const NO_SECRETS = 'plugin-installer-no-secrets';
const APP = 'cnpg-disk-plugin';

const OBJECT_RULES: Rule[] = [
  { apiGroups: [''], resources: ['serviceaccounts', 'services'], verbs: ['create', 'patch'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'patch'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['create', 'patch'] },
];
const SECRET_RULES: Rule[] = [{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }];

interface Secret {
  metadata: { resourceVersion: string; managedFields?: { manager: string }[] };
  type: string;
  data: Record<string, string>;
}

describe('disk install --plugin against a real kube-apiserver', { timeout: 180_000 }, () => {
  let api: ApiServerHandle;
  let installer = '';
  let noSecrets = '';
  const install = (kubeconfig: string, ...extra: string[]) =>
    cli(['disk', 'install', '--plugin', '--image', IMAGE, ...extra], { kubeconfig });
  const secret = async (name: string) => {
    const r = await api.request('GET', `/api/v1/namespaces/${NS}/secrets/${name}`);
    return { status: r.status, body: r.status === 200 ? r.json<Secret>() : undefined };
  };

  beforeAll(async () => {
    requireBuiltCli();
    api = await startApiServer({ installCrds: false, extraAdmissionPlugins: ['PodSecurity'] });
    const admin = await SeedClient.create(api, 4);
    await admin.must('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    await grantInNamespace(admin, INSTALLER, NS, [...OBJECT_RULES, ...SECRET_RULES]);
    await grantInNamespace(admin, NO_SECRETS, NS, OBJECT_RULES);
    await waitForPermission(api, INSTALLER, { verb: 'create', resource: 'secrets', namespace: NS });
    await waitForPermission(api, NO_SECRETS, {
      verb: 'patch',
      resource: 'deployments',
      group: 'apps',
      namespace: NS,
    });
    installer = await api.kubeconfigFor(INSTALLER);
    noSecrets = await api.kubeconfigFor(NO_SECRETS);
  }, 180_000);

  afterAll(async () => {
    await api?.stop();
  }, 60_000);

  it('--apply --dry-run: every object accepted by the API server, nothing stored', async () => {
    const dry = await install(installer, '--apply', '--dry-run');
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout.trim().split('\n')).toEqual([
      `ServiceAccount ${NS}/${APP} accepted (server dry run)`,
      `Secret ${NS}/${APP}-server-tls accepted (server dry run)`,
      `Secret ${NS}/${APP}-client-tls accepted (server dry run)`,
      `Deployment ${NS}/${APP} accepted (server dry run)`,
      `Service ${NS}/${APP} accepted (server dry run)`,
      `PodDisruptionBudget ${NS}/${APP} accepted (server dry run)`,
    ]);
    expect((await api.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${APP}`)).status).toBe(404);
    expect((await secret(`${APP}-server-tls`)).status).toBe(404);
  });

  it('--apply stores the objects; a second --apply keeps the Secrets; the installer never reads a Secret', async () => {
    const first = await install(installer, '--apply');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain(`Secret ${NS}/${APP}-server-tls applied`);
    // After an apply, how to enable the plugin on a Cluster.
    expect(first.stdout).toContain(`- name: ${PLUGIN_NAME}`);

    const svc = (await api.request('GET', `/api/v1/namespaces/${NS}/services/${APP}`)).json<{
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    }>();
    expect(svc.metadata.labels['cnpg.io/pluginName']).toBe(PLUGIN_NAME);
    expect(svc.metadata.annotations).toMatchObject({
      'cnpg.io/pluginPort': '9090',
      'cnpg.io/pluginServerSecret': `${APP}-server-tls`,
      'cnpg.io/pluginClientSecret': `${APP}-client-tls`,
    });
    const dep = (await api.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${APP}`)).json<{
      metadata: { managedFields: { manager: string; operation: string }[] };
      spec: { template: { spec: { containers: { image: string; args: string[] }[] } } };
    }>();
    expect(dep.metadata.managedFields.map((f) => `${f.manager} ${f.operation}`)).toContain(
      'kubectl-cnpg-disk-install Apply',
    );
    expect(dep.spec.template.spec.containers[0]?.image).toBe(IMAGE);
    expect(dep.spec.template.spec.containers[0]?.args).toEqual(expect.arrayContaining(['--sidecar-image', IMAGE]));

    const server = (await secret(`${APP}-server-tls`)).body;
    expect(server?.type).toBe('kubernetes.io/tls');
    const cert = new X509Certificate(Buffer.from(server?.data['tls.crt'] ?? '', 'base64'));
    expect(cert.checkHost(APP)).toBe(APP);
    expect(cert.subjectAltName).toContain(`DNS:${APP}.${NS}.svc`);

    const second = await install(installer, '--apply');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`Secret ${NS}/${APP}-server-tls exists: kept unchanged`);
    expect(second.stdout).toContain(`Secret ${NS}/${APP}-client-tls exists: kept unchanged`);
    expect(second.stdout).toContain(`Deployment ${NS}/${APP} applied`);
    expect(second.stderr).toMatch(/^note: the existing Secrets .* were kept with their certificates/);
    const after = (await secret(`${APP}-server-tls`)).body;
    expect(after?.metadata.resourceVersion).toBe(server?.metadata.resourceVersion);
    expect(after?.data).toEqual(server?.data);

    // The installer's own requests: Secrets were only ever created, never read.
    const events = await auditOf(api, INSTALLER);
    const onSecrets = events.filter((e) => e.objectRef?.resource === 'secrets').map(kindOf);
    expect(onSecrets.length).toBeGreaterThanOrEqual(6); // dry run, apply, kept: two each
    expect(new Set(onSecrets)).toEqual(new Set(['create secrets']));
    expect(events.filter((e) => ['get', 'list', 'watch'].includes(e.verb) && e.objectRef?.resource)).toEqual([]);
  });

  it('refusals: one line, exit 2, and the reason', async () => {
    // No right to create Secrets: the Secrets are refused, the rest is applied.
    const denied = await install(noSecrets, '--apply', '--dry-run');
    expect(denied.code).toBe(2);
    const errors = denied.stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    for (const l of errors)
      expect(l).toMatch(/^error: Secret cnpg-system\/cnpg-disk-plugin-(server|client)-tls: .*forbidden/i);

    const missing = await install(api.kubeconfigPath, '-n', 'cnpg-operator', '--apply', '--dry-run');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /does namespace cnpg-operator exist\? --namespace names the CloudNativePG operator's namespace/,
    );

    const cm = await install(api.kubeconfigPath, '--cert-manager', '--apply', '--dry-run');
    expect(cm.code).toBe(2);
    expect(cm.stderr).toMatch(
      /^error: Issuer cnpg-system\/cnpg-disk-plugin-selfsigned: .*cert-manager is not installed/m,
    );
  });
});
