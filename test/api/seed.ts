/**
 * Seeding a real kube-apiserver (test/infra) with realistic CloudNativePG
 * objects, and simulated kubelets whose /stats/summary numbers are the real
 * statfs of tmpfs mounts made here (we are root).
 *
 * What is real: the API server, its storage, validation (the CNPG CRD schema,
 * PVC status rules), RBAC, audit, and its node/pod proxy; the filesystems
 * (tmpfs with size=, filled with fallocate) and their statfs.
 * What is simulated: everything a node would run. The "kubelet" is a handler
 * that answers /stats/summary from statfs of the mounts mapped to each PVC
 * (like kubelet's statfs-based volume metrics: capacity = blocks×bsize,
 * available = bavail×bsize, used = (blocks−bfree)×bsize, inodes from
 * files/ffree); it does not speak the exec/attach/portforward protocols, so
 * `pods/exec` through it fails like a node that cannot be reached. The pod
 * and PVC statuses a kubelet or CSI resizer would write are written by us
 * through the status subresources. No controller runs: nothing reconciles.
 *
 * Usage:
 *   const seed = await Seeder.create(api, net);
 *   await seed.storageClasses();
 *   await seed.node('node-a');
 *   const c = await seed.cluster({ namespace: 'db', name: 'pg', nodes: ['node-a'], usage: { data: 0.5 } });
 *   ... c.volumes[i].mount.path ...
 *   await seed.close();
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import type { ApiServerHandle } from '../infra/apiserver.js';
import { onExit, pidAlive } from '../infra/proc.js';
import { addSimulatedNode, addSimulatedPod, type SimulatedNode } from '../infra/simulated.js';
import type { TestNetwork } from '../infra/testhost.js';

const run = promisify(execFile);

export const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// tmpfs mounts

export interface Statfs {
  /** blocks × bsize */
  totalBytes: bigint;
  /** (blocks − bfree) × bsize */
  usedBytes: bigint;
  /** bavail × bsize */
  availableBytes: bigint;
  inodes: bigint;
  inodesFree: bigint;
}

export async function statfsOf(path: string): Promise<Statfs> {
  const s = await statfs(path, { bigint: true });
  return {
    totalBytes: s.blocks * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    availableBytes: s.bavail * s.bsize,
    inodes: s.files,
    inodesFree: s.ffree,
  };
}

export interface TmpfsMount {
  readonly path: string;
  readonly sizeBytes: number;
  /** Sets the bytes held by the mount's one fill file (fallocate: pages really allocated). */
  fill(bytes: number): Promise<void>;
  statfs(): Promise<Statfs>;
}

const MOUNT_PREFIX = 'cnpg-disk-mounts-';

function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function umountAllSync(dir: string): void {
  for (const p of mountsUnder(dir).sort().reverse()) {
    try {
      // lazy: a handler may still hold the directory open
      execFileSync('umount', ['-l', p], { stdio: 'ignore' });
    } catch {
      // best effort
    }
  }
}

/** Removes mount dirs of dead test processes (a SIGKILLed run cannot clean up). */
function sweepStaleMountDirs(): void {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    if (!name.startsWith(MOUNT_PREFIX)) continue;
    const owner = Number.parseInt(name.slice(MOUNT_PREFIX.length).split('-')[0] ?? '', 10);
    if (!Number.isFinite(owner) || owner === process.pid || pidAlive(owner)) continue;
    const dir = join(base, name);
    umountAllSync(dir);
    if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  }
}

/** A set of tmpfs mounts in one directory, unmounted by close() or at process exit. */
export class TmpfsPool {
  private n = 0;
  private readonly all: TmpfsMount[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly unregister: () => void,
  ) {}

  static async create(): Promise<TmpfsPool> {
    if (process.getuid?.() !== 0) throw new Error('tmpfs mounts need root (run the API tests as root)');
    sweepStaleMountDirs();
    // mkdtemp, not a clock: two pools created in the same millisecond (two API
    // servers seeded side by side) must never share a directory.
    const dir = await mkdtemp(join(tmpdir(), `${MOUNT_PREFIX}${process.pid}-`));
    const unregister = onExit(() => {
      umountAllSync(dir);
      if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
    });
    return new TmpfsPool(dir, unregister);
  }

  get mounts(): readonly TmpfsMount[] {
    return this.all;
  }

  /** Mounts a tmpfs of `sizeBytes` (a multiple of 4 KiB) and fills `usedBytes` of it. */
  async mount(sizeBytes: number, usedBytes = 0, label = 'vol'): Promise<TmpfsMount> {
    if (this.closed) throw new Error('pool is closed');
    const path = join(this.dir, `${String(++this.n).padStart(4, '0')}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    await mkdir(path);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'cnpg-disk-test', path]);
    const file = join(path, 'fill');
    const m: TmpfsMount = {
      path,
      sizeBytes,
      fill: async (bytes) => {
        await rm(file, { force: true });
        if (bytes > 0) await run('fallocate', ['-l', String(bytes), file]);
      },
      statfs: () => statfsOf(path),
    };
    await m.fill(usedBytes);
    this.all.push(m);
    return m;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of mountsUnder(this.dir).sort().reverse()) {
      await run('umount', ['-l', p]).catch(() => undefined);
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    this.unregister();
  }
}

// ---------------------------------------------------------------------------
// Talking to the API server as the seeding admin (keep-alive, bounded)

export interface Resp {
  status: number;
  body: string;
}

/** Admin client for seeding: one keep-alive agent, requests bounded by a limit. */
export class SeedClient {
  readonly user: string;
  private readonly agent: https.Agent;
  private readonly limit: ReturnType<typeof pLimit>;
  /** Requests made (for the benchmark's own report). */
  count = 0;

  private constructor(
    private readonly api: ApiServerHandle,
    user: string,
    cred: { cert: string; key: string },
    concurrency: number,
  ) {
    this.user = user;
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: concurrency,
      ca: api.caCertPem,
      cert: cred.cert,
      key: cred.key,
    });
    this.limit = pLimit(concurrency);
  }

  static async create(api: ApiServerHandle, concurrency = 24, user = 'cnpg-disk-seeder'): Promise<SeedClient> {
    const cred = await api.clientCertFor(user, ['system:masters']);
    return new SeedClient(api, user, cred, concurrency);
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Resp> {
    return this.limit(() => this.once(method, path, body, contentType));
  }

  /** A request that must answer with one of `ok` (default 2xx). */
  async must(method: string, path: string, body?: unknown, opts: { contentType?: string; ok?: number[] } = {}) {
    for (let attempt = 0; ; attempt++) {
      const r = await this.request(method, path, body, opts.contentType);
      if (opts.ok ? opts.ok.includes(r.status) : r.status >= 200 && r.status < 300) return r;
      // The API server sheds load with 429 (max-requests-inflight): back off and retry.
      if ((r.status === 429 || r.status === 503) && attempt < 20) {
        await new Promise((res) => setTimeout(res, 100 * (attempt + 1)));
        continue;
      }
      throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
    }
  }

  private once(method: string, path: string, body: unknown, contentType: string): Promise<Resp> {
    this.count++;
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${this.api.url}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(data !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------
// The simulated kubelet

export interface SummaryVolumeRef {
  namespace: string;
  pod: string;
  /** Volume name in the pod spec (pgdata, pg-wal, tbs-NAME). */
  volume: string;
  pvc: string;
  mount: TmpfsMount;
}

/** What the kubelet answers instead of the real summary (for bad-payload tests). */
export type SummaryOverride = (req: IncomingMessage, res: ServerResponse) => void;

export class SimKubelet {
  readonly volumes: SummaryVolumeRef[] = [];
  /** Set to answer something else than the statfs-based summary. */
  override: SummaryOverride | undefined;
  /** Requests received, by path (without query). */
  readonly hits = new Map<string, number>();
  node: SimulatedNode | undefined;

  constructor(readonly name: string) {}

  /** The summary document (the subset of kubelet's stats/v1alpha1 Summary that carries volumes). */
  async summary(): Promise<unknown> {
    const byPod = new Map<string, SummaryVolumeRef[]>();
    for (const v of this.volumes) {
      const k = `${v.namespace}/${v.pod}`;
      byPod.set(k, [...(byPod.get(k) ?? []), v]);
    }
    const time = new Date().toISOString();
    const pods = await Promise.all(
      [...byPod.values()].map(async (vols) => ({
        podRef: { name: vols[0]!.pod, namespace: vols[0]!.namespace, uid: `uid-${vols[0]!.namespace}-${vols[0]!.pod}` },
        startTime: time,
        volume: await Promise.all(
          vols.map(async (v) => {
            const s = await v.mount.statfs();
            return {
              time,
              name: v.volume,
              pvcRef: { name: v.pvc, namespace: v.namespace },
              // kubelet's JSON numbers (uint64); the values here stay far below 2^53
              capacityBytes: Number(s.totalBytes),
              usedBytes: Number(s.usedBytes),
              availableBytes: Number(s.availableBytes),
              inodes: Number(s.inodes),
              inodesFree: Number(s.inodesFree),
              inodesUsed: Number(s.inodes - s.inodesFree),
            };
          }),
        ),
      })),
    );
    return { node: { nodeName: this.name, startTime: time }, pods };
  }

  /**
   * The kubelet's `/metrics` page, volume part only: the `kubelet_volume_stats_*`
   * gauges (labels namespace, persistentvolumeclaim) from the same statfs as
   * the summary — what Prometheus scrapes from a kubelet and what other
   * autoresizers read (the controller benchmark's reference reads it through
   * the node proxy). Written by hand: a handful of gauges in the text format.
   */
  async metrics(): Promise<string> {
    const rows = await Promise.all(this.volumes.map(async (v) => ({ v, s: await v.mount.statfs() })));
    const gauges: [string, string, (s: Statfs) => bigint][] = [
      ['capacity_bytes', 'Capacity in bytes of the volume', (s) => s.totalBytes],
      ['available_bytes', 'Number of available bytes in the volume', (s) => s.availableBytes],
      ['used_bytes', 'Number of used bytes in the volume', (s) => s.usedBytes],
      ['inodes', 'Maximum number of inodes in the volume', (s) => s.inodes],
      ['inodes_free', 'Number of free inodes in the volume', (s) => s.inodesFree],
      ['inodes_used', 'Number of used inodes in the volume', (s) => s.inodes - s.inodesFree],
    ];
    const lines: string[] = [];
    for (const [name, help, value] of gauges) {
      lines.push(`# HELP kubelet_volume_stats_${name} [ALPHA] ${help}`, `# TYPE kubelet_volume_stats_${name} gauge`);
      for (const { v, s } of rows) {
        lines.push(
          `kubelet_volume_stats_${name}{namespace="${v.namespace}",persistentvolumeclaim="${v.pvc}"} ${value(s)}`,
        );
      }
    }
    return lines.join('\n') + '\n';
  }

  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const key = path.startsWith('/exec/') ? '/exec' : path;
    this.hits.set(key, (this.hits.get(key) ?? 0) + 1);
    if (path === '/metrics') {
      this.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          res.end(text);
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(e));
        },
      );
      return;
    }
    if (path === '/stats/summary') {
      if (this.override) {
        this.override(req, res);
        return;
      }
      this.summary().then(
        (doc) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(doc));
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(e));
        },
      );
      return;
    }
    // exec, attach, port-forward, logs, ...: not simulated.
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`the simulated kubelet ${this.name} serves only /stats/summary and /metrics`);
  };
}

// ---------------------------------------------------------------------------
// Cluster shapes

export type PodState =
  | 'running'
  /** postgres terminated with exit code 4 (disk full), now CrashLoopBackOff. */
  | 'crashloop-exit4'
  | 'pending';

export interface PvcState {
  /** spec.resources.requests.storage (default: the volume size). */
  request?: string;
  /** status.capacity.storage (default: the volume size). */
  capacity?: string;
  phase?: 'Bound' | 'Pending';
  conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
  /** status.allocatedResourceStatuses.storage */
  allocatedStatus?: string;
  /** status.allocatedResources.storage */
  allocated?: string;
  annotations?: Record<string, string>;
}

export interface EventSpec {
  /** PVC or pod name the event is about. */
  involved: string;
  kind?: 'PersistentVolumeClaim' | 'Pod';
  reason: string;
  message: string;
  count?: number;
}

export interface ClusterSpec {
  namespace: string;
  name: string;
  instances?: number;
  /** Separate WAL volume (spec.walStorage). */
  walStorage?: boolean;
  /** spec.monitoring (e.g. { metricsQueriesTTL: '0s' }). */
  monitoring?: Record<string, unknown>;
  tablespaces?: string[];
  /** backup.barmanObjectStore (default true). */
  archiving?: boolean;
  /** Default 'expandable'. */
  storageClass?: string;
  /** Size of every volume (PVC request = capacity = tmpfs size), default 64 MiB. */
  sizeBytes?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Instances are placed on these nodes, round robin. */
  nodes: string[];
  /**
   * Fraction of each volume in use (0..1), by volume key: 'data', 'wal' or
   * 'tbs:NAME'; a function may decide per instance. Default 0.25.
   */
  usage?: Partial<Record<string, number>> | ((instance: string, volume: string) => number);
  /** Take mounts from here instead of one tmpfs per PVC (the benchmark). */
  mountFor?: (instance: string, volume: string) => TmpfsMount;
  /** Per instance (pod name) state; default running. */
  pods?: Record<string, PodState>;
  /** Per PVC name overrides. */
  pvcs?: Record<string, PvcState>;
  events?: EventSpec[];
  /**
   * Pods with a real address behind the pod proxy, serving this handler on
   * `port` (the instance manager on 8000 or the metrics exporter on 9187).
   */
  instanceManager?: {
    port: number;
    handler: (
      pod: string,
      isPrimary: boolean,
      volumes: SeededVolume[],
    ) => (req: IncomingMessage, res: ServerResponse) => void;
  };
  /** Kubelet summaries do not list these PVCs (e.g. volumes of a pod that is not running). */
  unlistedPvcs?: string[];
  /**
   * Instance pods carry the CNPG-I plugin's cnpg-disk-probe native sidecar
   * (running, port 9188), as its lifecycle hook adds it; serve it with
   * `instanceManager: { port: 9188, … }`.
   */
  probeSidecar?: boolean;
}

export interface SeededVolume {
  instance: string;
  /** 'data', 'wal' or 'tbs:NAME' */
  key: string;
  type: 'data' | 'wal' | 'tablespace';
  tablespace?: string;
  pvc: string;
  node: string;
  mount: TmpfsMount;
}

export interface SeededCluster {
  spec: ClusterSpec;
  namespace: string;
  name: string;
  instances: string[];
  primary: string;
  volumes: SeededVolume[];
}

export function pvcNameFor(instance: string, key: string): string {
  return key === 'data' ? instance : key === 'wal' ? `${instance}-wal` : `${instance}-tbs-${key.slice(4)}`;
}

function mib(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB}Mi` : String(bytes);
}

const PG_IMAGE = 'ghcr.io/cloudnative-pg/postgresql:16.4';

/** Builds and writes realistic objects; every write goes through the real API server. */
export class Seeder {
  readonly kubelets = new Map<string, SimKubelet>();
  private readonly namespaces = new Set<string>();
  private readonly pendingNamespaces = new Map<string, Promise<void>>();

  private constructor(
    readonly api: ApiServerHandle,
    readonly net: TestNetwork | undefined,
    readonly client: SeedClient,
    readonly pool: TmpfsPool,
  ) {}

  static async create(
    api: ApiServerHandle,
    net: TestNetwork | undefined,
    opts: { concurrency?: number } = {},
  ): Promise<Seeder> {
    const [client, pool] = await Promise.all([SeedClient.create(api, opts.concurrency ?? 24), TmpfsPool.create()]);
    return new Seeder(api, net, client, pool);
  }

  async close(): Promise<void> {
    this.client.close();
    await Promise.all([...this.kubelets.values()].map((k) => k.node?.host.close()));
    await this.pool.close();
  }

  /** StorageClasses 'expandable' (allowVolumeExpansion: true) and 'fixed' (no expansion). */
  async storageClasses(): Promise<void> {
    for (const [name, expand] of [
      ['expandable', true],
      ['fixed', false],
    ] as const) {
      await this.client.must(
        'POST',
        '/apis/storage.k8s.io/v1/storageclasses',
        {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'StorageClass',
          metadata: { name },
          provisioner: 'csi.cnpg-disk.test',
          reclaimPolicy: 'Delete',
          volumeBindingMode: 'WaitForFirstConsumer',
          ...(expand ? { allowVolumeExpansion: true } : {}),
        },
        { ok: [201, 409] },
      );
    }
  }

  async namespace(name: string): Promise<void> {
    if (this.namespaces.has(name)) return;
    let p = this.pendingNamespaces.get(name);
    if (!p) {
      p = this.client
        .must(
          'POST',
          '/api/v1/namespaces',
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
          { ok: [201, 409] },
        )
        .then(() => {
          this.namespaces.add(name);
        });
      this.pendingNamespaces.set(name, p);
    }
    await p;
  }

  /** A Node whose kubelet is a SimKubelet (needs the test network). */
  async node(name: string): Promise<SimKubelet> {
    if (!this.net) throw new Error('simulated nodes need a test network');
    const k = new SimKubelet(name);
    this.kubelets.set(name, k);
    k.node = await addSimulatedNode(this.api, this.net, { name, handler: k.handler });
    return k;
  }

  /** Creates a CNPG Cluster with its pods, PVCs (with status), events, and registers its volumes with the kubelets. */
  async cluster(spec: ClusterSpec): Promise<SeededCluster> {
    const ns = spec.namespace;
    await this.namespace(ns);
    const n = spec.instances ?? 1;
    const size = spec.sizeBytes ?? 64 * MiB;
    const sc = spec.storageClass ?? 'expandable';
    const instances = Array.from({ length: n }, (_, i) => `${spec.name}-${i + 1}`);
    const primary = instances[0]!;
    const keys = ['data', ...(spec.walStorage ? ['wal'] : []), ...(spec.tablespaces ?? []).map((t) => `tbs:${t}`)];
    const usage = (instance: string, key: string): number =>
      typeof spec.usage === 'function' ? spec.usage(instance, key) : (spec.usage?.[key] ?? 0.25);

    // The Cluster (spec), then its status through the status subresource.
    const storage = { size: mib(size), storageClass: sc };
    const cluster = {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: {
        name: spec.name,
        namespace: ns,
        labels: spec.labels ?? {},
        ...(spec.annotations ? { annotations: spec.annotations } : {}),
      },
      spec: {
        instances: n,
        imageName: PG_IMAGE,
        storage,
        ...(spec.walStorage ? { walStorage: storage } : {}),
        ...(spec.monitoring ? { monitoring: spec.monitoring } : {}),
        ...(spec.tablespaces ? { tablespaces: spec.tablespaces.map((t) => ({ name: t, storage })) } : {}),
        ...(spec.archiving !== false
          ? {
              backup: {
                barmanObjectStore: {
                  destinationPath: `s3://backups/${ns}/${spec.name}`,
                  s3Credentials: {
                    accessKeyId: { name: `${spec.name}-s3`, key: 'ACCESS_KEY_ID' },
                    secretAccessKey: { name: `${spec.name}-s3`, key: 'ACCESS_SECRET_KEY' },
                  },
                },
              },
            }
          : {}),
      },
    };
    const base = `/apis/postgresql.cnpg.io/v1/namespaces/${ns}/clusters`;
    await this.client.must('POST', base, cluster);
    const states = instances.map((i) => spec.pods?.[i] ?? 'running');
    const ready = states.filter((s) => s === 'running').length;
    await this.client.must(
      'PATCH',
      `${base}/${spec.name}/status`,
      {
        status: {
          phase: ready === n ? 'Cluster in healthy state' : 'Not enough disk space',
          instances: n,
          readyInstances: ready,
          currentPrimary: primary,
          targetPrimary: primary,
          instanceNames: instances,
          latestGeneratedNode: n,
          instancesStatus: {
            healthy: instances.filter((_, i) => states[i] === 'running'),
            ...(ready < n ? { failed: instances.filter((_, i) => states[i] !== 'running') } : {}),
          },
        },
      },
      { contentType: 'application/merge-patch+json' },
    );

    const volumes: SeededVolume[] = [];
    await Promise.all(
      instances.map(async (instance, idx) => {
        const node = spec.nodes[idx % spec.nodes.length]!;
        const state = states[idx]!;
        const podVolumes = await Promise.all(
          keys.map(async (key) => {
            const pvc = pvcNameFor(instance, key);
            const mount =
              spec.mountFor?.(instance, key) ??
              (await this.pool.mount(size, Math.round((size * usage(instance, key)) / 4096) * 4096, pvc));
            const v: SeededVolume = {
              instance,
              key,
              type: key === 'data' ? 'data' : key === 'wal' ? 'wal' : 'tablespace',
              ...(key.startsWith('tbs:') ? { tablespace: key.slice(4) } : {}),
              pvc,
              node,
              mount,
            };
            await this.pvc(ns, spec.name, v, size, sc, spec.pvcs?.[pvc]);
            return v;
          }),
        );
        volumes.push(...podVolumes);
        await this.pod(ns, spec, instance, instance === primary, node, state, podVolumes);
        const kubelet = this.kubelets.get(node);
        if (kubelet && state !== 'pending') {
          for (const v of podVolumes) {
            if (spec.unlistedPvcs?.includes(v.pvc)) continue;
            kubelet.volumes.push({
              namespace: ns,
              pod: instance,
              volume: v.key === 'data' ? 'pgdata' : v.key === 'wal' ? 'pg-wal' : v.key.replace(':', '-'),
              pvc: v.pvc,
              mount: v.mount,
            });
          }
        }
      }),
    );
    for (const e of spec.events ?? []) await this.event(ns, e);
    volumes.sort((a, b) => a.pvc.localeCompare(b.pvc));
    return { spec, namespace: ns, name: spec.name, instances, primary, volumes };
  }

  private async pvc(
    ns: string,
    cluster: string,
    v: SeededVolume,
    size: number,
    sc: string,
    state: PvcState | undefined,
  ): Promise<void> {
    const role = v.type === 'data' ? 'PG_DATA' : v.type === 'wal' ? 'PG_WAL' : 'PG_TABLESPACE';
    const request = state?.request ?? mib(size);
    const capacity = state?.capacity ?? mib(size);
    const path = `/api/v1/namespaces/${ns}/persistentvolumeclaims`;
    await this.client.must('POST', path, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: v.pvc,
        namespace: ns,
        labels: {
          'cnpg.io/cluster': cluster,
          'cnpg.io/instanceName': v.instance,
          'cnpg.io/pvcRole': role,
          ...(v.tablespace ? { 'cnpg.io/tablespaceName': v.tablespace } : {}),
        },
        annotations: {
          'cnpg.io/nodeSerial': v.instance.split('-').pop() ?? '1',
          'cnpg.io/operatorVersion': '1.29.1',
          ...(state?.annotations ?? {}),
        },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: request } },
        storageClassName: sc,
        volumeMode: 'Filesystem',
        ...(state?.phase === 'Pending' ? {} : { volumeName: `pv-${ns}-${v.pvc}` }),
      },
    });
    const phase = state?.phase ?? 'Bound';
    await this.client.must(
      'PATCH',
      `${path}/${v.pvc}/status`,
      {
        status: {
          phase,
          ...(phase === 'Bound' ? { accessModes: ['ReadWriteOnce'], capacity: { storage: capacity } } : {}),
          ...(state?.conditions
            ? {
                conditions: state.conditions.map((c) => ({
                  lastProbeTime: null,
                  lastTransitionTime: c.lastTransitionTime ?? new Date().toISOString(),
                  ...c,
                })),
              }
            : {}),
          ...(state?.allocated ? { allocatedResources: { storage: state.allocated } } : {}),
          ...(state?.allocatedStatus ? { allocatedResourceStatuses: { storage: state.allocatedStatus } } : {}),
        },
      },
      { contentType: 'application/merge-patch+json' },
    );
  }

  private async pod(
    ns: string,
    spec: ClusterSpec,
    instance: string,
    isPrimary: boolean,
    node: string,
    state: PodState,
    vols: SeededVolume[],
  ): Promise<void> {
    const labels = {
      'cnpg.io/cluster': spec.name,
      'cnpg.io/instanceName': instance,
      'cnpg.io/podRole': 'instance',
      'cnpg.io/instanceRole': isPrimary ? 'primary' : 'replica',
      role: isPrimary ? 'primary' : 'replica',
    };
    const mountPath = (v: SeededVolume) =>
      v.type === 'data'
        ? '/var/lib/postgresql/data'
        : v.type === 'wal'
          ? '/var/lib/postgresql/wal'
          : `/var/lib/postgresql/tablespaces/${v.tablespace}`;
    const volName = (v: SeededVolume) =>
      v.type === 'data' ? 'pgdata' : v.type === 'wal' ? 'pg-wal' : `tbs-${v.tablespace}`;
    const sidecar = {
      name: 'cnpg-disk-probe',
      image: 'registry.example/cnpg-disk-plugin:0.1.0',
      restartPolicy: 'Always',
      ports: [{ name: 'disk-status', containerPort: 9188, protocol: 'TCP' }],
      volumeMounts: vols.map((v) => ({ name: volName(v), mountPath: mountPath(v), readOnly: true })),
    };
    const podSpec = {
      ...(state === 'pending' ? {} : { nodeName: node }),
      ...(spec.probeSidecar ? { initContainers: [sidecar] } : {}),
      containers: [
        {
          name: 'postgres',
          image: PG_IMAGE,
          ports: [
            { name: 'postgresql', containerPort: 5432, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9187, protocol: 'TCP' },
            { name: 'status', containerPort: 8000, protocol: 'TCP' },
          ],
          readinessProbe: { httpGet: { path: '/readyz', port: 8000, scheme: 'HTTP' } },
          volumeMounts: vols.map((v) => ({ name: volName(v), mountPath: mountPath(v) })),
        },
      ],
      volumes: vols.map((v) => ({ name: volName(v), persistentVolumeClaim: { claimName: v.pvc } })),
    };
    const base = `/api/v1/namespaces/${ns}/pods`;
    const im = spec.instanceManager;
    if (im && state !== 'pending') {
      if (!this.net) throw new Error('instance managers need a test network');
      await addSimulatedPod(this.api, this.net, {
        namespace: ns,
        name: instance,
        handler: im.handler(instance, isPrimary, vols),
        containerPort: im.port,
        nodeName: node,
        labels,
        spec: podSpec,
      });
    } else {
      await this.client.must('POST', base, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: instance, namespace: ns, labels },
        spec: podSpec,
      });
    }
    const now = new Date().toISOString();
    const earlier = new Date(Date.now() - 60_000).toISOString();
    const running = state === 'running';
    const status =
      state === 'pending'
        ? {
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: '0/3 nodes are available: 3 node(s) had volume node affinity conflict.',
                lastTransitionTime: now,
              },
            ],
          }
        : {
            phase: 'Running',
            startTime: earlier,
            conditions: [
              { type: 'Ready', status: running ? 'True' : 'False', lastTransitionTime: now },
              { type: 'ContainersReady', status: running ? 'True' : 'False', lastTransitionTime: now },
              { type: 'PodScheduled', status: 'True', lastTransitionTime: earlier },
            ],
            ...(spec.probeSidecar
              ? {
                  initContainerStatuses: [
                    {
                      name: 'cnpg-disk-probe',
                      image: sidecar.image,
                      imageID: '',
                      ready: true,
                      started: true,
                      restartCount: 0,
                      state: { running: { startedAt: earlier } },
                    },
                  ],
                }
              : {}),
            containerStatuses: [
              {
                name: 'postgres',
                image: PG_IMAGE,
                imageID: '',
                ready: running,
                started: running,
                restartCount: running ? 0 : 7,
                state: running
                  ? { running: { startedAt: earlier } }
                  : {
                      waiting: {
                        reason: 'CrashLoopBackOff',
                        message: `back-off 5m0s restarting failed container=postgres pod=${instance}`,
                      },
                    },
                ...(running
                  ? {}
                  : {
                      lastState: {
                        terminated: {
                          exitCode: 4,
                          reason: 'Error',
                          startedAt: earlier,
                          finishedAt: now,
                        },
                      },
                    }),
              },
            ],
          };
    await this.client.must(
      'PATCH',
      `${base}/${instance}/status`,
      { status },
      { contentType: 'application/merge-patch+json' },
    );
  }

  private eventSeq = 0;

  async event(ns: string, e: EventSpec): Promise<void> {
    const now = new Date().toISOString();
    await this.client.must('POST', `/api/v1/namespaces/${ns}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${e.involved}.${Date.now().toString(16)}${++this.eventSeq}`, namespace: ns },
      involvedObject: { kind: e.kind ?? 'PersistentVolumeClaim', name: e.involved, namespace: ns, apiVersion: 'v1' },
      reason: e.reason,
      message: e.message,
      type: 'Warning',
      count: e.count ?? 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: e.kind === 'Pod' ? 'kubelet' : 'external-resizer csi.cnpg-disk.test' },
      reportingComponent: e.kind === 'Pod' ? 'kubelet' : 'external-resizer csi.cnpg-disk.test',
    });
  }
}

// ---------------------------------------------------------------------------
// A simulated metrics exporter (port 9187) of a disk-aware instance

/**
 * The instance's /metrics page as a disk-aware build serves it: cnpg_disk_*
 * from statfs of the instance's mounts (read at request time), and the
 * archiver, WAL and replication gauges CloudNativePG's exporter publishes.
 * `wal` sets what the archiver reports (default: healthy, archived a minute ago).
 */
export function metricsExporter(
  volumes: SeededVolume[],
  isPrimary: boolean,
  wal: { failing?: boolean; ready?: number; extraLines?: () => string[] } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    void (async () => {
      const lines: string[] = [];
      const put = (name: string, help: string, samples: [string, string | number | bigint][]) => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
        for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
      };
      const stats = await Promise.all(volumes.map(async (v) => ({ v, s: await v.mount.statfs() })));
      const lbl = (v: SeededVolume) => `{volume_type="${v.type}",tablespace="${v.tablespace ?? ''}"}`;
      put(
        'cnpg_disk_total_bytes',
        'Filesystem size.',
        stats.map(({ v, s }) => [lbl(v), s.totalBytes]),
      );
      put(
        'cnpg_disk_used_bytes',
        'Filesystem bytes used.',
        stats.map(({ v, s }) => [lbl(v), s.usedBytes]),
      );
      put(
        'cnpg_disk_available_bytes',
        'Bytes available.',
        stats.map(({ v, s }) => [lbl(v), s.availableBytes]),
      );
      put(
        'cnpg_disk_inodes_total',
        'Inodes.',
        stats.map(({ v, s }) => [lbl(v), s.inodes]),
      );
      put(
        'cnpg_disk_inodes_free',
        'Free inodes.',
        stats.map(({ v, s }) => [lbl(v), s.inodesFree]),
      );
      put(
        'cnpg_disk_inodes_used',
        'Used inodes.',
        stats.map(({ v, s }) => [lbl(v), s.inodes - s.inodesFree]),
      );
      const now = Math.floor(Date.now() / 1000);
      put('cnpg_collector_up', 'Exporter up.', [['{cluster="x"}', 1]]);
      put('cnpg_pg_replication_in_recovery', 'In recovery.', [['', isPrimary ? 0 : 1]]);
      if (isPrimary) {
        put('cnpg_pg_stat_archiver_archived_count', 'Archived.', [['', 120]]);
        put('cnpg_pg_stat_archiver_failed_count', 'Failed.', [['', wal.failing ? 37 : 0]]);
        put('cnpg_pg_stat_archiver_last_archived_time', 'Last archived.', [['', wal.failing ? now - 7200 : now - 60]]);
        put('cnpg_pg_stat_archiver_last_failed_time', 'Last failed.', [['', wal.failing ? now - 30 : -1]]);
        put('cnpg_collector_pg_wal_archive_status', 'archive_status files.', [
          ['{value="ready"}', wal.ready ?? (wal.failing ? 240 : 0)],
          ['{value="done"}', 12],
        ]);
        put('cnpg_collector_pg_wal', 'pg_wal.', [['{value="size"}', 16 * MiB * 5]]);
      } else {
        // CloudNativePG's collector counts pg_wal/archive_status and sizes pg_wal on
        // every instance, replicas included (its metrics exporter, v1.29); a replica makes
        // .ready files only with archive_mode=always, so its count is 0 here.
        put('cnpg_collector_pg_wal_archive_status', 'archive_status files.', [
          ['{value="ready"}', wal.ready ?? 0],
          ['{value="done"}', 0],
        ]);
        put('cnpg_collector_pg_wal', 'pg_wal.', [['{value="size"}', 16 * MiB * 4]]);
      }
      if (wal.extraLines) lines.push(...wal.extraLines());
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(lines.join('\n') + '\n');
    })().catch((e: unknown) => {
      res.writeHead(500);
      res.end(String(e));
    });
  };
}

// ---------------------------------------------------------------------------
// RBAC helpers

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Read-only rules: every read command with the kubelet summary as its source. */
export const READ_ONLY_RULES: Rule[] = [
  { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['pods', 'persistentvolumeclaims', 'events'], verbs: ['get', 'list'] },
  { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list'] },
  { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] },
];

/** Binds `rules` to user cluster-wide (ClusterRole + ClusterRoleBinding named after the user). */
export async function grantClusterWide(client: SeedClient, user: string, rules: Rule[]): Promise<void> {
  const name = `cnpg-disk-test:${user}`;
  await client.must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules,
  });
  await client.must('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  });
}

/** Binds `rules` to user in one namespace (Role + RoleBinding). */
export async function grantInNamespace(client: SeedClient, user: string, ns: string, rules: Rule[]): Promise<void> {
  const name = `cnpg-disk-test:${user}`;
  await client.must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace: ns },
    rules,
  });
  await client.must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  });
}

/**
 * Waits until the API server's RBAC authorizer sees a permission (it reads
 * roles from an informer cache). Asks as the admin with a SubjectAccessReview
 * about the user, so the user's own audit trail stays empty.
 */
export async function waitForPermission(
  api: ApiServerHandle,
  user: string,
  attrs: { verb: string; resource: string; subresource?: string; group?: string; namespace?: string },
  allowed = true,
  groups: string[] = [],
): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await api.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, groups: [...groups, 'system:authenticated'], resourceAttributes: attrs },
      },
    });
    const ok = r.status === 201 && r.json<{ status?: { allowed?: boolean } }>().status?.allowed === true;
    if (ok === allowed) return;
    if (i > 100) throw new Error(`permission ${JSON.stringify(attrs)} for ${user} never became ${allowed}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
