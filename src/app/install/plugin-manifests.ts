/**
 * `kubectl cnpg disk install --plugin`: the objects that run the CNPG-I plugin
 * in the operator's namespace. Pure: options (and, without cert-manager, the
 * certificates plugin-certs.ts made) in, Kubernetes objects out.
 *
 *  - a Deployment of 2 replicas (a Cluster that lists the plugin stalls while
 *    no replica answers, so one may be down for a node drain), spread across
 *    nodes, with a PodDisruptionBudget of 1 unavailable;
 *  - the Service CloudNativePG discovers the plugin by: label
 *    `cnpg.io/pluginName`, annotations `cnpg.io/pluginPort`,
 *    `cnpg.io/pluginServerSecret` (the operator trusts that secret's tls.crt
 *    as the only root for our certificate) and `cnpg.io/pluginClientSecret`
 *    (the certificate the operator presents; the plugin trusts its tls.crt);
 *  - the two TLS Secrets, or with cert-manager a self-signed Issuer and two
 *    Certificates that write them.
 * The plugin needs no Kubernetes API access: no Role, no token mounted.
 */
import { PLUGIN_NAME } from '@cnpg-disk/core';
import type { KubeObject } from '../../model/snapshot.js';

export const PLUGIN_APP = 'cnpg-disk-plugin';
export const PLUGIN_PORT = 9090;
export const SERVER_SECRET = `${PLUGIN_APP}-server-tls`;
export const CLIENT_SECRET = `${PLUGIN_APP}-client-tls`;

export interface PemPair {
  cert: string;
  key: string;
}

export type PluginCertificates =
  | { mode: 'generated'; server: PemPair; client: PemPair }
  | { mode: 'cert-manager'; duration?: string; renewBefore?: string };

export interface PluginInstallOptions {
  /** The CloudNativePG operator's namespace (plugin Services are only looked for there). */
  namespace: string;
  /** The plugin image: `cnpg-disk-plugin` as entrypoint; also the sidecar's image. */
  image: string;
  replicas?: number;
  certificates: PluginCertificates;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}

/** DNS names of the plugin Service: the operator dials the bare name (its own namespace) and checks it. */
export function serviceDnsNames(namespace: string): string[] {
  return [PLUGIN_APP, `${PLUGIN_APP}.${namespace}`, `${PLUGIN_APP}.${namespace}.svc`];
}

const labels = { 'app.kubernetes.io/name': PLUGIN_APP, 'app.kubernetes.io/component': 'cnpg-i-plugin' };
const selector = { 'app.kubernetes.io/name': PLUGIN_APP };

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function tlsSecret(name: string, namespace: string, pair: PemPair): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(pair.cert), 'tls.key': b64(pair.key) },
  };
}

function certManagerObjects(namespace: string, c: { duration?: string; renewBefore?: string }): KubeObject[] {
  const issuer = `${PLUGIN_APP}-selfsigned`;
  const cert = (name: string, secretName: string, commonName: string, usages: string[], dnsNames?: string[]) => ({
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name, namespace, labels },
    spec: {
      secretName,
      commonName,
      ...(dnsNames ? { dnsNames } : {}),
      duration: c.duration ?? '2160h',
      renewBefore: c.renewBefore ?? '360h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['digital signature', 'key encipherment', ...usages],
      issuerRef: { name: issuer, kind: 'Issuer', group: 'cert-manager.io' },
    },
  });
  return [
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: { name: issuer, namespace, labels },
      spec: { selfSigned: {} },
    },
    cert(`${PLUGIN_APP}-server`, SERVER_SECRET, PLUGIN_APP, ['server auth'], serviceDnsNames(namespace)),
    cert(`${PLUGIN_APP}-client`, CLIENT_SECRET, `${PLUGIN_APP}-client`, ['client auth']),
  ];
}

const restricted = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export function pluginManifests(opts: PluginInstallOptions): KubeObject[] {
  const { namespace, image } = opts;
  const replicas = opts.replicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new Error(`replicas must be a whole number ≥ 1, not ${replicas}`);
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: PLUGIN_APP, namespace, labels },
      automountServiceAccountToken: false,
    },
  ];
  if (opts.certificates.mode === 'generated') {
    objects.push(tlsSecret(SERVER_SECRET, namespace, opts.certificates.server));
    objects.push(tlsSecret(CLIENT_SECRET, namespace, opts.certificates.client));
  } else {
    objects.push(...certManagerObjects(namespace, opts.certificates));
  }
  objects.push(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: PLUGIN_APP, namespace, labels },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: PLUGIN_APP,
            automountServiceAccountToken: false,
            // fsGroup: the Secret volumes' files (mode 0440) belong to this group, so the non-root user reads them.
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              fsGroup: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: selector },
              },
            ],
            containers: [
              {
                name: 'plugin',
                image,
                ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
                args: [
                  'operator',
                  '--listen',
                  `0.0.0.0:${PLUGIN_PORT}`,
                  '--server-cert',
                  '/tls/server/tls.crt',
                  '--server-key',
                  '/tls/server/tls.key',
                  '--client-ca',
                  '/tls/client/tls.crt',
                  '--sidecar-image',
                  image,
                ],
                ports: [{ name: 'grpc', containerPort: PLUGIN_PORT, protocol: 'TCP' }],
                readinessProbe: { tcpSocket: { port: PLUGIN_PORT }, periodSeconds: 5 },
                livenessProbe: { tcpSocket: { port: PLUGIN_PORT }, periodSeconds: 10, failureThreshold: 6 },
                resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: restricted,
                volumeMounts: [
                  { name: 'server-tls', mountPath: '/tls/server', readOnly: true },
                  { name: 'client-tls', mountPath: '/tls/client', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'server-tls', secret: { secretName: SERVER_SECRET, defaultMode: 0o440 } },
              // Only the client's certificate: the plugin never needs the operator's key.
              {
                name: 'client-tls',
                secret: { secretName: CLIENT_SECRET, items: [{ key: 'tls.crt', path: 'tls.crt' }], defaultMode: 0o444 },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: PLUGIN_APP,
        namespace,
        labels: { ...labels, 'cnpg.io/pluginName': PLUGIN_NAME },
        annotations: {
          'cnpg.io/pluginPort': String(PLUGIN_PORT),
          'cnpg.io/pluginServerSecret': SERVER_SECRET,
          'cnpg.io/pluginClientSecret': CLIENT_SECRET,
        },
      },
      spec: {
        selector,
        ports: [{ name: 'grpc', port: PLUGIN_PORT, targetPort: PLUGIN_PORT, protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: PLUGIN_APP, namespace, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    },
  );
  return objects;
}

/** How to turn the plugin on for a Cluster (printed after install). */
export function enableInstructions(clusterName = '<cluster>'): string {
  return [
    `Enable the plugin on a Cluster (a rolling restart adds the ${'cnpg-disk-probe'} sidecar to each instance):`,
    '',
    '  spec:',
    '    plugins:',
    `      - name: ${PLUGIN_NAME}`,
    '        parameters:            # optional: the resize policy, one key per field',
    '          data.enabled: "true"',
    '          data.usageThreshold: "85"',
    '',
    `e.g. kubectl patch cluster ${clusterName} --type=json -p '[{"op":"add","path":"/spec/plugins/-","value":{"name":"${PLUGIN_NAME}"}}]'`,
    '(use "path":"/spec/plugins","value":[{...}] when the Cluster lists no plugin yet)',
    '',
  ].join('\n');
}
