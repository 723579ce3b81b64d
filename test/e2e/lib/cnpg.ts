// CloudNativePG clusters for the end-to-end suite: manifests, waits, and the
// facts a test compares the CLI against (df inside the pod, PVCs).
import type { E2EConfig } from './config.js';
import type { Kube } from './kube.js';
import { bytes, waitFor } from './kube.js';

export interface ClusterOptions {
  readonly name: string;
  readonly instances: number;
  readonly dataSize: string;
  readonly walSize?: string;
  readonly tablespaces?: readonly { readonly name: string; readonly size: string }[];
  readonly storageClass: string;
  readonly walStorageClass?: string;
  readonly imageName?: string;
  /** Secret name and key of an Azure Blob connection string; with `destinationPath`. */
  readonly archive?: { readonly destinationPath: string; readonly secret: string; readonly key: string };
  readonly parameters?: Readonly<Record<string, string>>;
  /** More `spec` fields as YAML lines, indented for `spec:` (two spaces). */
  readonly extraSpec?: readonly string[];
}

/** max_wal_size / min_wal_size that fit a WAL volume (CNPG's webhook requires max_wal_size < its size). */
function walSizing(walSize: string | undefined): Record<string, string> {
  const mib = walSize ? Math.floor(bytes(walSize) / 2 ** 20) : 1024;
  return {
    max_wal_size: `${Math.max(32, Math.floor(mib / 2))}MB`,
    min_wal_size: `${Math.max(32, Math.floor(mib / 8))}MB`,
  };
}

export function clusterManifest(ns: string, o: ClusterOptions): string {
  const lines: string[] = [
    'apiVersion: postgresql.cnpg.io/v1',
    'kind: Cluster',
    'metadata:',
    `  name: ${o.name}`,
    `  namespace: ${ns}`,
    'spec:',
    `  instances: ${o.instances}`,
  ];
  if (o.imageName) lines.push(`  imageName: ${o.imageName}`);
  lines.push(
    '  postgresql:',
    '    parameters:',
    ...Object.entries({
      shared_buffers: '32MB',
      ...walSizing(o.walSize),
      ...o.parameters,
    }).map(([k, v]) => `      ${k}: '${v}'`),
    '  resources:',
    '    requests: { cpu: 50m, memory: 128Mi }',
    '  storage:',
    `    size: ${o.dataSize}`,
    `    storageClass: ${o.storageClass}`,
  );
  if (o.walSize)
    lines.push('  walStorage:', `    size: ${o.walSize}`, `    storageClass: ${o.walStorageClass ?? o.storageClass}`);
  if (o.tablespaces && o.tablespaces.length > 0) {
    lines.push('  tablespaces:');
    for (const t of o.tablespaces) {
      lines.push(
        `  - name: ${t.name}`,
        '    storage:',
        `      size: ${t.size}`,
        `      storageClass: ${o.storageClass}`,
      );
    }
  }
  if (o.archive) {
    lines.push(
      '  backup:',
      '    barmanObjectStore:',
      `      destinationPath: ${o.archive.destinationPath}`,
      '      azureCredentials:',
      '        connectionString:',
      `          name: ${o.archive.secret}`,
      `          key: ${o.archive.key}`,
    );
  }
  if (o.extraSpec) lines.push(...o.extraSpec);
  return lines.join('\n') + '\n';
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ClusterStatus {
  phase?: string;
  readyInstances?: number;
  instances?: number;
  currentPrimary?: string;
  conditions?: Condition[];
}

export async function clusterStatus(kube: Kube, ns: string, name: string): Promise<ClusterStatus> {
  const c = await kube.json<{ status?: ClusterStatus }>(['-n', ns, 'get', 'cluster.postgresql.cnpg.io', name]);
  return c.status ?? {};
}

export function condition(st: ClusterStatus, type: string): Condition | undefined {
  return st.conditions?.find((c) => c.type === type);
}

/** Waits until all instances are ready and the cluster reports itself healthy. */
/**
 * Creates the Cluster on the target's storage class and PostgreSQL image
 * (CNPG_E2E_STORAGE_CLASS, CNPG_E2E_PG_IMAGE) and waits until all its
 * instances are ready (8 minutes, scaled by CNPG_E2E_TIMEOUT_SCALE).
 */
export async function createCluster(
  kube: Kube,
  cfg: E2EConfig,
  ns: string,
  o: Omit<ClusterOptions, 'storageClass' | 'imageName'>,
  timeoutMs = 8 * 60_000,
): Promise<ClusterStatus> {
  await kube.apply(
    clusterManifest(ns, { ...o, storageClass: cfg.storageClass, ...(cfg.pgImage ? { imageName: cfg.pgImage } : {}) }),
  );
  return waitHealthy(kube, ns, o.name, o.instances, timeoutMs);
}

export async function waitHealthy(
  kube: Kube,
  ns: string,
  name: string,
  instances: number,
  timeoutMs: number,
): Promise<ClusterStatus> {
  return waitFor(
    `cluster ${ns}/${name} healthy with ${instances} ready instances`,
    kube.t(timeoutMs),
    async () => {
      const st = await clusterStatus(kube, ns, name);
      return st.readyInstances === instances && st.phase === 'Cluster in healthy state' ? st : undefined;
    },
    async () => {
      const st = await kube.run(['-n', ns, 'get', 'cluster,pods,pvc', '-o', 'wide']);
      const ev = await kube.run(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']);
      return `${st.stdout}\n${ev.stdout.split('\n').slice(-25).join('\n')}`;
    },
    3_000,
  );
}

export interface InstancePod {
  readonly name: string;
  readonly role: string;
}

export async function instancePods(kube: Kube, ns: string, cluster: string): Promise<InstancePod[]> {
  const list = await kube.json<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>([
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    `cnpg.io/cluster=${cluster},cnpg.io/podRole=instance`,
  ]);
  return list.items
    .map((p) => ({ name: p.metadata.name, role: p.metadata.labels?.['cnpg.io/instanceRole'] ?? 'unknown' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface DfRow {
  readonly size: number;
  readonly used: number;
  readonly avail: number;
  readonly target: string;
}

/** `df -B1` of one path inside the postgres container (the image's own coreutils). */
export async function dfInPod(kube: Kube, ns: string, pod: string, path: string): Promise<DfRow> {
  const r = await kube.exec(ns, pod, 'postgres', ['df', '-B1', '--output=size,used,avail,target', path]);
  if (r.code !== 0) throw new Error(`df in ${pod} failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n')[1];
  const f = line?.trim().split(/\s+/);
  if (!f || f.length < 4) throw new Error(`unexpected df output: ${r.stdout}`);
  return { size: Number(f[0]), used: Number(f[1]), avail: Number(f[2]), target: f[3] ?? '' };
}

export interface Pvc {
  readonly name: string;
  readonly role: string;
  readonly requested: number;
  readonly capacity: number;
  readonly storageClass: string;
  readonly conditions: string[];
}

export async function pvcs(kube: Kube, ns: string, cluster: string): Promise<Pvc[]> {
  const list = await kube.json<{
    items: {
      metadata: { name: string; labels?: Record<string, string> };
      spec: { storageClassName?: string; resources: { requests: { storage: string } } };
      status?: { capacity?: { storage?: string }; conditions?: { type: string }[] };
    }[];
  }>(['-n', ns, 'get', 'pvc', '-l', `cnpg.io/cluster=${cluster}`]);
  return list.items.map((p) => ({
    name: p.metadata.name,
    role: p.metadata.labels?.['cnpg.io/pvcRole'] ?? '',
    requested: bytes(p.spec.resources.requests.storage),
    capacity: p.status?.capacity?.storage ? bytes(p.status.capacity.storage) : 0,
    storageClass: p.spec.storageClassName ?? '',
    conditions: (p.status?.conditions ?? []).map((c) => c.type),
  }));
}

/** Runs SQL as the postgres superuser over the local socket; returns unaligned rows. */
export async function psql(kube: Kube, ns: string, pod: string, sql: string, db = 'postgres'): Promise<string> {
  const r = await kube.exec(ns, pod, 'postgres', ['psql', '-v', 'ON_ERROR_STOP=1', '-d', db, '-AtXq', '-c', sql]);
  if (r.code !== 0) throw new Error(`psql in ${pod} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

export const MOUNTS = {
  data: '/var/lib/postgresql/data',
  wal: '/var/lib/postgresql/wal',
  tablespace: (name: string) => `/var/lib/postgresql/tablespaces/${name}`,
} as const;

/**
 * Fills the filesystem at `mount` in `pod` with a plain file (`file` under the
 * mount) until `fraction` of it is used; returns the df before. A real file
 * the filesystem counts, not a metric: what a runaway table or log would do.
 */
export async function fillVolume(
  kube: Kube,
  ns: string,
  pod: string,
  mount: string,
  fraction: number,
  file = 'e2e-fill',
): Promise<DfRow> {
  const before = await dfInPod(kube, ns, pod, mount);
  const bytes = Math.max(0, Math.floor(before.size * fraction) - before.used);
  const r = await kube.exec(
    ns,
    pod,
    'postgres',
    ['sh', '-c', `head -c ${bytes} /dev/zero >> ${mount}/${file} && sync`],
    120_000,
  );
  if (r.code !== 0) throw new Error(`filling ${mount} in ${pod} failed: ${r.stderr}`);
  return before;
}
