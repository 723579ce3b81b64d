/**
 * `disk install --plugin`'s objects, end to end where it runs here:
 *  - the certificates the tool makes (openssl) work for real: the plugin
 *    serves with the server Secret, the Go CNPG-I client dials it as the
 *    operator does (the server Secret's tls.crt as the only root, the client
 *    Secret's pair, the Service name as server name); the server certificate
 *    presented as a client certificate is refused;
 *  - the Service carries what CloudNativePG discovers a plugin by, naming the
 *    Secrets and port the Deployment really uses;
 *  - every core object is accepted by a real kube-apiserver (dry run) in a
 *    namespace that enforces the restricted Pod Security Standard.
 * cert-manager is not installed here: its objects are checked for shape only.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLUGIN_NAME } from '@cnpg-disk/core';
import { startApiServer, type ApiServerHandle } from '../../../test/infra/apiserver.js';
import { generatePluginCertificates } from '../../../src/app/install/plugin-certs.js';
import {
  CLIENT_SECRET,
  PLUGIN_APP,
  PLUGIN_PORT,
  SERVER_SECRET,
  enableInstructions,
  pluginManifests,
} from '../../../src/app/install/plugin-manifests.js';
import { runCleanups, tempDir } from '../../probe/test/helpers/sys.js';
import { loadProtocol, startOperatorServer } from '../src/index.js';
import { ensureProtos, goClient, runClient } from './helpers.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let certs: Awaited<ReturnType<typeof generatePluginCertificates>>;
let objects: Obj[];
const byKind = (kind: string, name?: string) =>
  objects.find((o) => o['kind'] === kind && (name === undefined || o['metadata']['name'] === name)) as Obj;
const secretData = (name: string, key: string) => Buffer.from(byKind('Secret', name)['data'][key] as string, 'base64');

beforeAll(async () => {
  certs = await generatePluginCertificates('cnpg-system');
  objects = pluginManifests({
    namespace: 'cnpg-system',
    image: 'registry.example/cnpg-disk-plugin:0.1.0',
    certificates: { mode: 'generated', ...certs },
  });
});
afterAll(() => runCleanups());

describe('pluginManifests', () => {
  it('the objects, and a Service that names what the Deployment uses', () => {
    expect(objects.map((o) => `${o['kind']}/${o['metadata']['name']}`)).toEqual([
      `ServiceAccount/${PLUGIN_APP}`,
      `Secret/${SERVER_SECRET}`,
      `Secret/${CLIENT_SECRET}`,
      `Deployment/${PLUGIN_APP}`,
      `Service/${PLUGIN_APP}`,
      `PodDisruptionBudget/${PLUGIN_APP}`,
    ]);
    expect(objects.every((o) => o['metadata']['namespace'] === 'cnpg-system')).toBe(true);
    const svc = byKind('Service');
    expect(svc['metadata']['labels']['cnpg.io/pluginName']).toBe(PLUGIN_NAME);
    expect(svc['metadata']['annotations']).toEqual({
      'cnpg.io/pluginPort': String(PLUGIN_PORT),
      'cnpg.io/pluginServerSecret': SERVER_SECRET,
      'cnpg.io/pluginClientSecret': CLIENT_SECRET,
    });
    const dep = byKind('Deployment');
    expect(dep['spec']['replicas']).toBe(2);
    const pod = dep['spec']['template']['spec'];
    expect(svc['spec']['selector']).toEqual(dep['spec']['selector']['matchLabels']);
    expect(pod['volumes'].map((v: Obj) => v['secret']['secretName'])).toEqual([SERVER_SECRET, CLIENT_SECRET]);
    // The plugin gets the operator's certificate, never its key.
    expect(pod['volumes'][1]['secret']['items']).toEqual([{ key: 'tls.crt', path: 'tls.crt' }]);
    expect(pod['containers'][0]['args']).toContain(`0.0.0.0:${PLUGIN_PORT}`);
    expect(pod['automountServiceAccountToken']).toBe(false);
    // The Secret files are 0440: the non-root user reads them through fsGroup (without it: EACCES at start).
    expect(pod['volumes'][0]['secret']['defaultMode'] & 0o004).toBe(0);
    expect(pod['securityContext']).toMatchObject({ runAsUser: 65532, fsGroup: 65532 });
    expect(() =>
      pluginManifests({ namespace: 'x', image: 'i', replicas: 0, certificates: { mode: 'cert-manager' } }),
    ).toThrow('replicas must be a whole number ≥ 1, not 0');
  });

  it('the certificates: the server one names the Service, each is for its side only', () => {
    const server = new X509Certificate(secretData(SERVER_SECRET, 'tls.crt'));
    const client = new X509Certificate(secretData(CLIENT_SECRET, 'tls.crt'));
    expect(server.subjectAltName).toBe(
      `DNS:${PLUGIN_APP}, DNS:${PLUGIN_APP}.cnpg-system, DNS:${PLUGIN_APP}.cnpg-system.svc`,
    );
    expect(server.checkHost(PLUGIN_APP)).toBe(PLUGIN_APP);
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(server.checkPrivateKey(createPrivateKey(secretData(SERVER_SECRET, 'tls.key')))).toBe(true);
  });

  it('cert-manager: a self-signed Issuer and two Certificates writing the Secrets the Service names', () => {
    const cm = pluginManifests({ namespace: 'ops', image: 'i', certificates: { mode: 'cert-manager' } });
    const kinds = cm.map((o) => `${o['kind']}/${(o['metadata'] as Obj)['name']}`);
    expect(kinds).toContain(`Issuer/${PLUGIN_APP}-selfsigned`);
    expect(cm.filter((o) => o['kind'] === 'Secret')).toEqual([]);
    const certsCm = cm.filter((o) => o['kind'] === 'Certificate') as Obj[];
    expect(certsCm.map((c) => c['spec']['secretName'])).toEqual([SERVER_SECRET, CLIENT_SECRET]);
    expect(certsCm[0]?.['spec']['dnsNames']).toEqual([PLUGIN_APP, `${PLUGIN_APP}.ops`, `${PLUGIN_APP}.ops.svc`]);
    expect(certsCm[1]?.['spec']['usages']).toContain('client auth');
  });

  it('prints how to enable the plugin on a Cluster', () => {
    expect(enableInstructions('pg')).toContain(`- name: ${PLUGIN_NAME}`);
    expect(enableInstructions('pg')).toContain('kubectl patch cluster pg --type=json');
  });
});

describe('the generated certificates with the real plugin and the Go CNPG-I client', () => {
  it(
    'the operator dials the Service name with the Secrets; the server certificate is no client certificate',
    async () => {
      ensureProtos();
      const client = goClient();
      const dir = tempDir('cnpg-plugin-install-');
      const files: Record<string, string> = {};
      for (const [secret, key] of [
        [SERVER_SECRET, 'tls.crt'],
        [SERVER_SECRET, 'tls.key'],
        [CLIENT_SECRET, 'tls.crt'],
        [CLIENT_SECRET, 'tls.key'],
      ] as const) {
        const path = join(dir, `${secret}-${key}`);
        writeFileSync(path, secretData(secret, key));
        files[`${secret}/${key}`] = path;
      }
      const op = await startOperatorServer({
        protocol: loadProtocol(),
        host: '127.0.0.1',
        port: 0,
        tls: {
          cert: secretData(SERVER_SECRET, 'tls.crt'),
          key: secretData(SERVER_SECRET, 'tls.key'),
          clientCa: secretData(CLIENT_SECRET, 'tls.crt'),
        },
        sidecar: { image: 'i' },
        log: () => undefined,
      });
      try {
        const args = (pair: string) => [
          '-addr',
          `127.0.0.1:${op.port}`,
          '-server-cert',
          files[`${SERVER_SECRET}/tls.crt`] as string,
          '-server-name',
          PLUGIN_APP,
          '-client-cert',
          files[`${pair}/tls.crt`] as string,
          '-client-key',
          files[`${pair}/tls.key`] as string,
          'identity',
        ];
        const ok = await runClient(client, args(CLIENT_SECRET));
        expect(ok.stderr).toBe('');
        expect(ok.json['metadata']).toMatchObject({ name: PLUGIN_NAME });
        const wrong = await runClient(client, args(SERVER_SECRET));
        expect(wrong.code).toBe(3);
      } finally {
        await op.close();
      }
    },
    20 * 60_000,
  );
});

describe('the objects against a real kube-apiserver', () => {
  let api: ApiServerHandle;
  beforeAll(async () => {
    api = await startApiServer({ installCrds: false, extraAdmissionPlugins: ['PodSecurity'] });
    const ns = await api.request('POST', '/api/v1/namespaces', {
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'cnpg-system', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      },
    });
    expect(ns.status).toBe(201);
  }, 180_000);
  afterAll(() => api?.stop());

  it('every object is valid, the Deployment meets the restricted standard', async () => {
    const path = (o: Obj) => {
      const ns = o['metadata']['namespace'];
      const plural = { ServiceAccount: 'serviceaccounts', Secret: 'secrets', Service: 'services' }[o['kind'] as string];
      if (plural) return `/api/v1/namespaces/${ns}/${plural}`;
      if (o['kind'] === 'Deployment') return `/apis/apps/v1/namespaces/${ns}/deployments`;
      return `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`;
    };
    for (const o of objects) {
      const r = await api.request('POST', `${path(o)}?dryRun=All`, { body: o });
      expect(r.status, `${o['kind']}: ${r.body}`).toBe(201);
      // Deployments are checked against the namespace's standard as warnings at admission.
      expect(String(r.headers['warning'] ?? ''), o['kind']).not.toContain('violate PodSecurity');
    }
    // The check is live: the same Deployment with a container that may escalate gets the warning.
    const tampered = structuredClone(byKind('Deployment'));
    tampered['spec']['template']['spec']['containers'][0]['securityContext']['allowPrivilegeEscalation'] = true;
    const r = await api.request('POST', `${path(tampered)}?dryRun=All`, { body: tampered });
    expect(String(r.headers['warning'])).toContain('would violate PodSecurity');
  });
});
