/**
 * Everything the autoresize controller needs in a cluster, as plain objects
 * (printed as YAML/JSON by `disk install`, or applied server-side):
 * Namespace, ServiceAccount, the least RBAC that works, the Lease Role, the
 * Deployment (2 replicas, leader election, restricted securityContext), the
 * metrics Service, and optionally a PrometheusRule, a Grafana dashboard
 * ConfigMap and the controller-wide default policy ConfigMap.
 *
 * Pure: options in, objects out (no I/O), so the rules printed are exactly
 * the rules tested (test/controller/install.test.ts asks the real API server
 * with SubjectAccessReviews as the generated service account).
 */
import { INSTALL_FIELD_MANAGER } from '../../actions/install-objects.js';
import { AUTORESIZER_ALERTS } from './alerts.js';
import { dashboardJson } from './dashboard.js';

export const INSTALL_SOURCES = ['cluster-status', 'pod-proxy', 'kubelet-summary', 'prometheus'] as const;
export type InstallSource = (typeof INSTALL_SOURCES)[number];

export interface InstallOptions {
  /** The controller's namespace. */
  namespace: string;
  image: string;
  /** undefined = every namespace (ClusterRole); else namespaced Roles in these. */
  watchNamespaces?: readonly string[];
  /** e.g. "30s". */
  interval: string;
  sources: readonly InstallSource[];
  prometheusUrl?: string;
  prometheusRule: boolean;
  dashboard: boolean;
  /** Content of the controller-wide default policy file, mounted from a ConfigMap. */
  defaultPolicy?: string;
  replicas?: number;
}

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
};

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export const APP = 'cnpg-disk-autoresizer';
export const LEASE_NAME = 'cnpg-disk-autoresizer';
export const METRICS_PORT = 8080;
export const FIELD_MANAGER = INSTALL_FIELD_MANAGER;
const DEFAULT_POLICY_PATH = '/etc/cnpg-disk/default-policy.yaml';

const LABELS = { 'app.kubernetes.io/name': APP, 'app.kubernetes.io/part-of': 'cnpg-disk' };

/** Rules in each watched namespace (or cluster-wide). Never secrets. */
export function namespacedRules(sources: readonly InstallSource[]): Rule[] {
  return [
    { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters'], verbs: ['get', 'list', 'watch', 'patch'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'patch'] },
    // get/list: a restarted controller reads its own earlier Events to know what it already announced.
    { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'create', 'patch'] },
    ...(sources.includes('pod-proxy') ? [{ apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] }] : []),
  ];
}

/** Cluster-scoped rules: storage classes, and the node proxy only when asked for. */
export function clusterScopedRules(sources: readonly InstallSource[]): Rule[] {
  return [
    { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list', 'watch'] },
    ...(sources.includes('kubelet-summary') ? [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }] : []),
  ];
}

/**
 * The Lease: get and update only this one (resourceNames); create cannot be
 * narrowed by name (the name is not known to the authorizer before the
 * object exists), so it is a separate rule.
 */
export function leaseRules(): Rule[] {
  return [
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'update'],
      resourceNames: [LEASE_NAME],
    },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  ];
}

/** Warnings to print with the manifests (stderr). */
export function installWarnings(o: InstallOptions): string[] {
  const w: string[] = [];
  if (o.sources.includes('kubelet-summary')) {
    w.push(
      'the kubelet-summary source grants get nodes/proxy cluster-wide, which is equivalent to exec on every node; prefer pod-proxy or the probe sidecar',
    );
  }
  if (o.sources.includes('prometheus') && !o.prometheusUrl) {
    w.push('the prometheus source needs --prometheus-url; the controller will report it as unavailable');
  }
  return w;
}

function role(kind: 'Role' | 'ClusterRole', name: string, rules: Rule[], namespace?: string): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), labels: LABELS },
    rules,
  };
}

function binding(
  kind: 'RoleBinding' | 'ClusterRoleBinding',
  name: string,
  roleKind: 'Role' | 'ClusterRole',
  sa: { name: string; namespace: string },
  namespace?: string,
): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}), labels: LABELS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name },
    subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: sa.namespace }],
  };
}

/** The controller's command line (the image's entrypoint is the kubectl-cnpg binary). */
export function controllerArgs(o: InstallOptions): string[] {
  return [
    'disk',
    'autoresize',
    '--controller',
    ...(o.watchNamespaces ? ['--watch-namespace', o.watchNamespaces.join(',')] : ['--all-namespaces']),
    '--interval',
    o.interval,
    // The auto order (least privilege first); the RBAC above decides which sources may run.
    '--source',
    'auto',
    ...(o.prometheusUrl ? ['--prometheus-url', o.prometheusUrl] : []),
    '--lease-namespace',
    '$(POD_NAMESPACE)',
    '--identity',
    '$(POD_NAME)',
    '--metrics-address',
    `0.0.0.0:${METRICS_PORT}`,
    ...(o.defaultPolicy !== undefined ? ['--default-policy', DEFAULT_POLICY_PATH] : []),
  ];
}

export function generateManifests(o: InstallOptions): Manifest[] {
  const ns = o.namespace;
  const sa = { name: APP, namespace: ns };
  const out: Manifest[] = [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { ...LABELS, 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: APP, namespace: ns, labels: LABELS } },
  ];
  if (o.watchNamespaces) {
    for (const w of o.watchNamespaces) {
      out.push(role('Role', APP, namespacedRules(o.sources), w), binding('RoleBinding', APP, 'Role', sa, w));
    }
    out.push(
      role('ClusterRole', `${APP}-cluster`, clusterScopedRules(o.sources)),
      binding('ClusterRoleBinding', `${APP}-cluster`, 'ClusterRole', sa),
    );
  } else {
    out.push(
      role('ClusterRole', APP, [...namespacedRules(o.sources), ...clusterScopedRules(o.sources)]),
      binding('ClusterRoleBinding', APP, 'ClusterRole', sa),
    );
  }
  out.push(role('Role', `${APP}-lease`, leaseRules(), ns), binding('RoleBinding', `${APP}-lease`, 'Role', sa, ns));

  if (o.defaultPolicy !== undefined) {
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${APP}-default-policy`, namespace: ns, labels: LABELS },
      data: { 'default-policy.yaml': o.defaultPolicy },
    });
  }

  const probe = (path: string) => ({
    httpGet: { path, port: 'metrics' },
    periodSeconds: 10,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  out.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: APP, namespace: ns, labels: LABELS },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { 'app.kubernetes.io/name': APP } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      template: {
        metadata: { labels: LABELS },
        spec: {
          serviceAccountName: APP,
          // SIGTERM: finish the write in flight, release the Lease, exit.
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: { 'app.kubernetes.io/name': APP } },
                  },
                },
              ],
            },
          },
          containers: [
            {
              name: 'autoresizer',
              image: o.image,
              args: controllerArgs(o),
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
              livenessProbe: probe('/healthz'),
              readinessProbe: probe('/readyz'),
              resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '384Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                // The root filesystem is read-only; the runtime may want a scratch directory.
                { name: 'tmp', mountPath: '/tmp' },
                ...(o.defaultPolicy !== undefined
                  ? [{ name: 'default-policy', mountPath: '/etc/cnpg-disk', readOnly: true }]
                  : []),
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            ...(o.defaultPolicy !== undefined
              ? [{ name: 'default-policy', configMap: { name: `${APP}-default-policy` } }]
              : []),
          ],
        },
      },
    },
  });
  out.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `${APP}-metrics`, namespace: ns, labels: LABELS },
    spec: {
      selector: { 'app.kubernetes.io/name': APP },
      ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
    },
  });
  if (o.prometheusRule) {
    out.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: APP, namespace: ns, labels: LABELS },
      spec: { groups: [{ name: 'cnpg-disk-autoresizer', rules: AUTORESIZER_ALERTS.map((r) => ({ ...r })) }] },
    });
  }
  if (o.dashboard) {
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${APP}-dashboard`, namespace: ns, labels: { ...LABELS, grafana_dashboard: '1' } },
      data: { 'cnpg-disk-autoresizer.json': `${JSON.stringify(dashboardJson(), null, 2)}\n` },
    });
  }
  return out;
}
