// Scenarios on a REAL kube-apiserver (test/infra): the objects a CloudNativePG
// cluster has, seeded through the API, plus simulated node-side endpoints.
// Used by scripts/make-examples.ts (the sample bundles in examples/) and by
// the tests under test/unit, test/app and test/api.
//
// Real: kube-apiserver + etcd, the CNPG CRDs, RBAC, audit, its node proxy
// (kubelet summary, container logs) and pod proxy (/pg/status, /metrics),
// and the filesystem numbers: every volume is a tmpfs mounted here with the
// PVC's size and filled with real bytes; the kubelet summary reports statfs
// of it at request time.
// Simulated (no kubelet, no operator, no PostgreSQL run here): the kubelet's
// HTTP handlers, the instance manager's /pg/status and /metrics (payloads in
// CloudNativePG 1.29's shapes), container logs, and every status field
// (pods, PVCs, Cluster) that a controller or kubelet would write.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServerHandle } from '../test/infra/apiserver.js';
import { addSimulatedNode, addSimulatedPod, ensureNamespace } from '../test/infra/simulated.js';
import { createTestNetwork, type TestNetwork } from '../test/infra/testhost.js';

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Real filesystems: tmpfs mounts of a given size, filled with real bytes.

export interface Mount {
  path: string;
  close(): void;
}

export function mountTmpfs(sizeBytes: number, fillBytes: number): Mount {
  const path = mkdtempSync(join(tmpdir(), 'cnpg-vol-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', path]);
  try {
    if (fillBytes > 0) {
      const chunk = Buffer.alloc(MiB, 0x5a);
      const fd = `${path}/fill`;
      let written = 0;
      mkdirSync(path, { recursive: true });
      writeFileSync(fd, '');
      while (written < fillBytes) {
        const n = Math.min(MiB, fillBytes - written);
        try {
          writeFileSync(fd, n === MiB ? chunk : chunk.subarray(0, n), { flag: 'a' });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break; // "full" means full
          throw e;
        }
        written += n;
      }
    }
  } catch (e) {
    execFileSync('umount', [path]);
    rmSync(path, { recursive: true, force: true });
    throw e;
  }
  return {
    path,
    close: () => {
      try {
        execFileSync('umount', [path]);
      } catch {
        // already unmounted
      }
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** What a kubelet reports for a mounted volume (pkg/volume/util/fs semantics). */
function volumeStats(path: string): Record<string, number> {
  const s = statfsSync(path, { bigint: true });
  const n = (b: bigint) => Number(b);
  return {
    capacityBytes: n(s.blocks * s.bsize),
    availableBytes: n(s.bavail * s.bsize),
    usedBytes: n((s.blocks - s.bfree) * s.bsize),
    inodes: n(s.files),
    inodesFree: n(s.ffree),
    inodesUsed: n(s.files - s.ffree),
  };
}

// ---------------------------------------------------------------------------
// A second port on a pod's address (the test host serves one port): a relay
// inside the test network namespace to a unix socket served here.

const RELAY = `
const net = require('net');
const [ip, port, sock] = process.argv.slice(1);
const s = net.createServer((c) => { const u = net.connect(sock); c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); c.pipe(u).pipe(c); });
s.on('error', (e) => { console.error(e.message); process.exit(2); });
s.listen(Number(port), ip, () => console.log('listening'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

export interface ExtraPort {
  close(): Promise<void>;
}

export async function addPort(
  network: TestNetwork,
  ip: string,
  port: number,
  handler: http.RequestListener,
): Promise<ExtraPort> {
  const dir = mkdtempSync(join(tmpdir(), 'cnpg-port-'));
  const sock = join(dir, 's.sock');
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  const relay: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', network.name, process.execPath, '-e', RELAY, ip, String(port), sock],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    relay.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    relay.stdout?.on('data', (d: Buffer) => (/listening/.test(d.toString()) ? resolve() : undefined));
    relay.on('exit', (code) => reject(new Error(`relay ${ip}:${port} exited ${code}: ${err}`)));
  });
  return {
    close: async () => {
      relay.stdin?.end();
      relay.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// The world: API server, test network, one simulated node.

interface PodSide {
  volumes: { pvc: string; mount: Mount }[];
  logs: string;
  previousLogs?: string;
}

export interface World {
  api: ApiServerHandle;
  network: TestNetwork;
  nodeName: string;
  /** Pod-side state the simulated kubelet serves, by namespace/pod. */
  pods: Map<string, PodSide>;
  /** Requests the simulated kubelet received (path + query). */
  kubeletRequests: string[];
  closers: (() => Promise<void> | void)[];
  stop(): Promise<void>;
}

function kubeletHandler(world: () => World): http.RequestListener {
  return (req, res) => {
    const w = world();
    const url = new URL(req.url ?? '/', 'https://kubelet');
    w.kubeletRequests.push(url.pathname + url.search);
    if (url.pathname === '/stats/summary') {
      const pods = [...w.pods.entries()].map(([key, side]) => {
        const [namespace, name] = key.split('/');
        return {
          podRef: { name, namespace, uid: `uid-${name}` },
          volume: side.volumes.map((v) => ({
            time: new Date().toISOString(),
            ...volumeStats(v.mount.path),
            name: v.pvc,
            pvcRef: { name: v.pvc, namespace },
          })),
        };
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ node: { nodeName: w.nodeName }, pods }));
      return;
    }
    const logs = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (logs) {
      const side = w.pods.get(`${logs[1]}/${logs[2]}`);
      const previous = url.searchParams.get('previous') === 'true';
      const text = side ? (previous ? side.previousLogs : side.logs) : undefined;
      if (text === undefined) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`previous terminated container "${logs[3]}" in pod "${logs[2]}" not found`);
        return;
      }
      const tail = Number(url.searchParams.get('tailLines') ?? '0');
      const limit = Number(url.searchParams.get('limitBytes') ?? '0');
      let out = text;
      if (tail > 0) out = out.split('\n').filter(Boolean).slice(-tail).join('\n') + '\n';
      if (limit > 0) out = Buffer.from(out).subarray(0, limit).toString('utf8');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(out);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not simulated');
  };
}

export async function startWorld(opts: { tokenUsers?: { user: string; groups?: string[] }[] } = {}): Promise<World> {
  const [api, network] = await Promise.all([
    startApiServer({ ...(opts.tokenUsers ? { tokenUsers: opts.tokenUsers } : {}) }),
    createTestNetwork(),
  ]);
  const nodeName = 'node-a';
  const world: World = {
    api,
    network,
    nodeName,
    pods: new Map(),
    kubeletRequests: [],
    closers: [],
    stop: async () => {
      for (const c of world.closers.reverse()) await c();
      await Promise.all([network.close(), api.stop()]);
    },
  };
  await addSimulatedNode(api, network, { name: nodeName, handler: kubeletHandler(() => world) });
  await seedCommon(world);
  return world;
}

async function must(what: string, p: Promise<{ status: number; body: string }>, ok = [200, 201]): Promise<void> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
}

async function create(api: ApiServerHandle, path: string, body: Record<string, unknown>): Promise<void> {
  await must(`create ${path}`, api.request('POST', path, { body }), [201, 409]);
}

async function patchStatus(api: ApiServerHandle, path: string, status: Record<string, unknown>): Promise<void> {
  await must(
    `status of ${path}`,
    api.request('PATCH', `${path}/status`, { contentType: 'application/merge-patch+json', body: { status } }),
  );
}

/** Storage classes and the operator Deployment (for the versions in bundles). */
async function seedCommon(w: World): Promise<void> {
  const { api } = w;
  await create(api, '/apis/storage.k8s.io/v1/storageclasses', {
    metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'ebs.csi.aws.com',
    allowVolumeExpansion: true,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    parameters: { type: 'gp3' },
  });
  await create(api, '/apis/storage.k8s.io/v1/storageclasses', {
    metadata: { name: 'legacy-hdd' },
    provisioner: 'kubernetes.io/no-provisioner',
    allowVolumeExpansion: false,
    reclaimPolicy: 'Retain',
    volumeBindingMode: 'WaitForFirstConsumer',
  });
  await ensureNamespace(api, 'cnpg-system');
  await create(api, '/apis/apps/v1/namespaces/cnpg-system/deployments', {
    metadata: { name: 'cnpg-controller-manager', labels: { 'app.kubernetes.io/name': 'cloudnative-pg' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'cloudnative-pg' } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'cloudnative-pg' } },
        spec: { containers: [{ name: 'manager', image: 'ghcr.io/cloudnative-pg/cloudnative-pg:1.29.1' }] },
      },
    },
  });
}

// ---------------------------------------------------------------------------
// Scenario description → objects.

export interface VolumeSpec {
  type: 'data' | 'wal';
  sizeMi: number;
  fillMi: number;
  storageClass?: string;
}

export interface ArchiverState {
  archivedCount: number;
  failedCount: number;
  lastArchivedWal?: string;
  lastArchivedAgoS?: number;
  lastFailedWal?: string;
  lastFailedAgoS?: number;
}

export interface SlotState {
  name: string;
  active: boolean;
  retainedBytes: number;
  walStatus: string;
}

export interface InstanceSpec {
  /** Suffix n of `<cluster>-<n>`. */
  n: number;
  primary: boolean;
  volumes: VolumeSpec[];
  /** running: instance manager answers; crashloop-exit4: postgres container restarting after exit code 4. */
  state: 'running' | 'crashloop-exit4';
  archiver?: ArchiverState;
  readyFiles?: number;
  doneFiles?: number;
  walDirBytes?: number;
  slots?: SlotState[];
  /** Extra env on the postgres container (e.g. a planted credential for redaction tests). */
  env?: { name: string; value: string }[];
  logs: string[];
  previousLogs?: string[];
  /** Serve the status port with TLS (CNPG ≥ 1.24 does). */
  tls?: boolean;
}

export interface ClusterSpec {
  namespace: string;
  name: string;
  archiving: boolean;
  instances: InstanceSpec[];
  phase: string;
  phaseReason?: string;
  annotations?: Record<string, string>;
  events?: {
    reason: string;
    type: 'Normal' | 'Warning';
    kind: string;
    name: string;
    message: string;
    count?: number;
  }[];
  pvcConditions?: Record<string, Record<string, unknown>[]>;
}

const LSN_BASE = 0x5a000000n;

function lsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}

function iso(agoS: number | undefined, now: number): string | undefined {
  return agoS === undefined ? undefined : new Date(now - agoS * 1000).toISOString();
}

/** /pg/status as CloudNativePG 1.29's instance manager serves it. */
export function pgStatusJson(c: ClusterSpec, i: InstanceSpec, now: number): Record<string, unknown> {
  const current = LSN_BASE + 0x60n;
  const a = i.archiver;
  return {
    currentLsn: i.primary ? lsn(current) : undefined,
    receivedLsn: i.primary ? undefined : lsn(current),
    replayLsn: i.primary ? undefined : lsn(current),
    systemID: '7451923741208911893',
    isPrimary: i.primary,
    replayPaused: false,
    pendingRestart: false,
    pendingRestartForDecrease: false,
    isWalReceiverActive: !i.primary,
    isPgRewindRunning: false,
    mightBeUnavailable: false,
    isArchivingWAL: a ? (a.lastFailedAgoS ?? Infinity) > (a.lastArchivedAgoS ?? Infinity) : undefined,
    node: 'node-a',
    pod: null,
    ...(i.primary && a
      ? {
          lastArchivedWAL: a.lastArchivedWal ?? '',
          lastArchivedWALTime: iso(a.lastArchivedAgoS, now) ?? '-infinity',
          lastFailedWAL: a.lastFailedWal ?? '',
          lastFailedWALTime: iso(a.lastFailedAgoS, now) ?? '-infinity',
        }
      : {}),
    currentWAL: i.primary ? '00000001000000000000005A' : undefined,
    ...(i.primary && i.readyFiles ? { readyWalFiles: i.readyFiles } : {}),
    timeLineID: 1,
    ...(i.primary && i.slots
      ? {
          replicationSlotsInfo: i.slots.map((s) => ({
            slotName: s.name,
            slotType: 'physical',
            active: s.active,
            restartLsn: lsn(current - BigInt(s.retainedBytes)),
            walStatus: s.walStatus,
          })),
        }
      : {}),
    executableHash: 'f1c1c9e0e2a4d5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0',
    instanceManagerVersion: '1.29.1',
    instanceArch: 'amd64',
    isInstanceManagerUpgrading: false,
    sessionID: `session-${c.name}-${i.n}`,
    isPodReady: false,
  };
}

/** /metrics as CloudNativePG 1.29 serves it (the series this project reads, with HELP/TYPE). */
export function metricsText(c: ClusterSpec, i: InstanceSpec, now: number): string {
  const lines: string[] = [];
  const fam = (name: string, type: string, help: string, samples: [string, string | number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${typeof v === 'number' ? goFloat(v) : v}`);
  };
  fam('cnpg_collector_up', 'gauge', '1 if PostgreSQL is up, 0 otherwise.', [[`{cluster="${c.name}"}`, 1]]);
  fam(
    'cnpg_collector_pg_wal_archive_status',
    'gauge',
    "Number of WAL segments in the 'pg_wal/archive_status' directory (ready, done)",
    [
      ['{value="done"}', i.doneFiles ?? 0],
      ['{value="ready"}', i.readyFiles ?? 0],
    ],
  );
  fam(
    'cnpg_collector_pg_wal',
    'gauge',
    "Total size in bytes of WAL segments in the 'pg_wal' directory  computed as (wal_segment_size * count)",
    [
      ['{value="count"}', Math.round((i.walDirBytes ?? 0) / (16 * MiB))],
      ['{value="keep"}', 32],
      ['{value="max"}', 64],
      ['{value="min"}', 5],
      ['{value="size"}', i.walDirBytes ?? 0],
      ['{value="slots_max"}', 'NaN'],
      ['{value="volume_max"}', 8],
      ['{value="volume_size"}', 134217728],
    ],
  );
  fam('cnpg_pg_replication_in_recovery', 'gauge', 'Whether the instance is in recovery', [['', i.primary ? 0 : 1]]);
  const a = i.archiver;
  if (a && i.primary) {
    const t = (ago: number | undefined) => (ago === undefined ? -1 : (now - ago * 1000) / 1000);
    fam('cnpg_pg_stat_archiver_archived_count', 'counter', 'Number of WAL files that have been successfully archived', [
      ['', a.archivedCount],
    ]);
    fam('cnpg_pg_stat_archiver_failed_count', 'counter', 'Number of failed attempts for archiving WAL files', [
      ['', a.failedCount],
    ]);
    fam('cnpg_pg_stat_archiver_last_archived_time', 'gauge', 'Epoch of the last time WAL archiving succeeded', [
      ['', t(a.lastArchivedAgoS)],
    ]);
    fam('cnpg_pg_stat_archiver_last_failed_time', 'gauge', 'Epoch of the last time WAL archiving failed', [
      ['', t(a.lastFailedAgoS)],
    ]);
    fam(
      'cnpg_pg_stat_archiver_seconds_since_last_archival',
      'gauge',
      'Seconds since the last successful archival operation',
      [['', a.lastArchivedAgoS ?? -1]],
    );
  }
  if (i.slots && i.slots.length > 0) {
    fam(
      'cnpg_pg_replication_slots_active',
      'gauge',
      'Flag indicating whether the slot is active',
      i.slots.map((s) => [`{database="",slot_name="${s.name}",slot_type="physical"}`, s.active ? 1 : 0]),
    );
    fam(
      'cnpg_pg_replication_slots_pg_wal_lsn_diff',
      'gauge',
      'Replication lag in bytes',
      i.slots.map((s) => [`{database="",slot_name="${s.name}",slot_type="physical"}`, s.retainedBytes]),
    );
  }
  return lines.join('\n') + '\n';
}

/** How Go's Prometheus client writes a float: shortest round-trip, exponent for large values. */
export function goFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e21 && Math.abs(v) >= 1e6) {
    // Go's 'g' format with shortest precision: e.g. 1.34217728e+08
    const e = Math.floor(Math.log10(Math.abs(v)));
    const m = (v / 10 ** e).toString();
    return `${m}e+${String(e).padStart(2, '0')}`;
  }
  if (!Number.isInteger(v) && Math.abs(v) >= 1e6) {
    const [m, e] = v.toExponential().split('e');
    return `${m}e${(e ?? '+0').replace(/^([+-])(\d)$/, '$10$2')}`;
  }
  return String(v);
}

export function pvcName(c: ClusterSpec, i: InstanceSpec, type: 'data' | 'wal'): string {
  return type === 'data' ? `${c.name}-${i.n}` : `${c.name}-${i.n}-wal`;
}

function clusterObject(c: ClusterSpec): Record<string, unknown> {
  const data = c.instances[0]?.volumes.find((v) => v.type === 'data');
  const wal = c.instances[0]?.volumes.find((v) => v.type === 'wal');
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: {
      name: c.name,
      namespace: c.namespace,
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
          kind: 'Cluster',
          metadata: { name: c.name },
        }),
        ...(c.annotations ?? {}),
      },
    },
    spec: {
      instances: c.instances.length,
      imageName: 'ghcr.io/cloudnative-pg/postgresql:17.6',
      storage: { size: `${data?.sizeMi ?? 256}Mi`, storageClass: data?.storageClass ?? 'standard' },
      ...(wal ? { walStorage: { size: `${wal.sizeMi}Mi`, storageClass: wal.storageClass ?? 'standard' } } : {}),
      ...(c.archiving
        ? {
            backup: {
              barmanObjectStore: {
                destinationPath: `s3://backups/${c.namespace}/${c.name}`,
                s3Credentials: {
                  accessKeyId: { name: `${c.name}-s3`, key: 'ACCESS_KEY_ID' },
                  secretAccessKey: { name: `${c.name}-s3`, key: 'ACCESS_SECRET_KEY' },
                },
                wal: { compression: 'gzip' },
              },
              retentionPolicy: '7d',
            },
          }
        : {}),
    },
  };
}

/** Creates the Cluster, its PVCs, PVs, pods (with /pg/status and /metrics), events, and the node-side state. */
export async function seedCluster(w: World, c: ClusterSpec, now = Date.now()): Promise<void> {
  const { api, network } = w;
  await ensureNamespace(api, c.namespace);
  const cpath = `/apis/postgresql.cnpg.io/v1/namespaces/${c.namespace}/clusters`;
  await create(api, cpath, clusterObject(c));
  const primary = c.instances.find((i) => i.primary);
  await patchStatus(api, `${cpath}/${c.name}`, {
    phase: c.phase,
    ...(c.phaseReason ? { phaseReason: c.phaseReason } : {}),
    instances: c.instances.length,
    readyInstances: c.instances.filter((i) => i.state === 'running').length,
    currentPrimary: primary ? `${c.name}-${primary.n}` : undefined,
    targetPrimary: primary ? `${c.name}-${primary.n}` : undefined,
    instanceNames: c.instances.map((i) => `${c.name}-${i.n}`),
  });

  for (const i of c.instances) {
    const pod = `${c.name}-${i.n}`;
    const side: PodSide = {
      volumes: [],
      logs: i.logs.join('\n') + '\n',
      ...(i.previousLogs ? { previousLogs: i.previousLogs.join('\n') + '\n' } : {}),
    };
    // PVCs, PVs and their real filesystems.
    for (const v of i.volumes) {
      const name = pvcName(c, i, v.type);
      const pv = `pvc-${c.namespace}-${name}`;
      const size = `${v.sizeMi}Mi`;
      const mount = mountTmpfs(v.sizeMi * MiB, v.fillMi * MiB);
      w.closers.push(() => mount.close());
      side.volumes.push({ pvc: name, mount });
      await create(api, '/api/v1/persistentvolumes', {
        metadata: { name: pv },
        spec: {
          capacity: { storage: size },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: v.storageClass ?? 'standard',
          claimRef: { namespace: c.namespace, name },
          csi: {
            driver: 'ebs.csi.aws.com',
            volumeHandle: `vol-0${name.replace(/[^a-z0-9]/g, '')}`.slice(0, 21),
            fsType: 'ext4',
          },
        },
      });
      await create(api, `/api/v1/namespaces/${c.namespace}/persistentvolumeclaims`, {
        metadata: {
          name,
          labels: {
            'cnpg.io/cluster': c.name,
            'cnpg.io/instanceName': pod,
            'cnpg.io/pvcRole': v.type === 'data' ? 'PG_DATA' : 'PG_WAL',
          },
        },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: size } },
          storageClassName: v.storageClass ?? 'standard',
          volumeName: pv,
        },
      });
      await patchStatus(api, `/api/v1/namespaces/${c.namespace}/persistentvolumeclaims/${name}`, {
        phase: 'Bound',
        accessModes: ['ReadWriteOnce'],
        capacity: { storage: size },
        ...(c.pvcConditions?.[name] ? { conditions: c.pvcConditions[name] } : {}),
      });
    }
    w.pods.set(`${c.namespace}/${pod}`, side);

    // The pod: its IP is a test host serving /pg/status on 8000; 9187 relays to /metrics.
    const running = i.state === 'running';
    const handler: http.RequestListener = (req, res) => {
      if (!running) {
        res.writeHead(503);
        res.end('instance manager not running');
        return;
      }
      if (req.url === '/pg/status') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(pgStatusJson(c, i, now)));
        return;
      }
      res.writeHead(404);
      res.end('404 page not found\n');
    };
    const scheme = i.tls === false ? 'HTTP' : 'HTTPS';
    const sp = await addSimulatedPod(api, network, {
      namespace: c.namespace,
      name: pod,
      handler,
      tls: scheme === 'HTTPS',
      nodeName: w.nodeName,
      labels: {
        'cnpg.io/cluster': c.name,
        'cnpg.io/instanceName': pod,
        'cnpg.io/instanceRole': i.primary ? 'primary' : 'replica',
        'cnpg.io/podRole': 'instance',
        role: i.primary ? 'primary' : 'replica',
      },
      spec: {
        containers: [
          {
            name: 'postgres',
            image: 'ghcr.io/cloudnative-pg/postgresql:17.6',
            command: ['/controller/manager', 'instance', 'run', '--status-port-tls', '--log-level=info'],
            env: [
              { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
              { name: 'POD_NAME', value: pod },
              { name: 'CLUSTER_NAME', value: c.name },
              ...(i.env ?? []),
            ],
            ports: [
              { name: 'postgresql', containerPort: 5432, protocol: 'TCP' },
              { name: 'metrics', containerPort: 9187, protocol: 'TCP' },
              { name: 'status', containerPort: 8000, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/readyz', port: 8000, scheme }, periodSeconds: 10 },
            livenessProbe: { httpGet: { path: '/healthz', port: 8000, scheme }, periodSeconds: 10 },
            volumeMounts: i.volumes.map((v) => ({
              name: v.type === 'data' ? 'pgdata' : 'pg-wal',
              mountPath: v.type === 'data' ? '/var/lib/postgresql/data' : '/var/lib/postgresql/wal',
            })),
          },
        ],
        volumes: i.volumes.map((v) => ({
          name: v.type === 'data' ? 'pgdata' : 'pg-wal',
          persistentVolumeClaim: { claimName: pvcName(c, i, v.type) },
        })),
      },
    });
    const metrics = await addPort(network, sp.host.ip, 9187, (req, res) => {
      if (!running || req.url !== '/metrics') {
        res.writeHead(running ? 404 : 503);
        res.end(running ? '404 page not found\n' : 'not running');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(metricsText(c, i, now));
    });
    w.closers.push(() => metrics.close());
    const started = new Date(now - 3 * 86400_000).toISOString();
    await patchStatus(api, `/api/v1/namespaces/${c.namespace}/pods/${pod}`, {
      conditions: [
        { type: 'Ready', status: running ? 'True' : 'False', lastTransitionTime: started },
        { type: 'ContainersReady', status: running ? 'True' : 'False', lastTransitionTime: started },
      ],
      containerStatuses: [
        running
          ? {
              name: 'postgres',
              ready: true,
              restartCount: 0,
              image: 'ghcr.io/cloudnative-pg/postgresql:17.6',
              imageID: 'ghcr.io/cloudnative-pg/postgresql@sha256:0f5e',
              state: { running: { startedAt: started } },
            }
          : {
              name: 'postgres',
              ready: false,
              restartCount: 7,
              image: 'ghcr.io/cloudnative-pg/postgresql:17.6',
              imageID: 'ghcr.io/cloudnative-pg/postgresql@sha256:0f5e',
              state: {
                waiting: {
                  reason: 'CrashLoopBackOff',
                  message: `back-off 5m0s restarting failed container=postgres pod=${pod}_${c.namespace}`,
                },
              },
              lastState: {
                terminated: {
                  exitCode: 4,
                  reason: 'Error',
                  startedAt: new Date(now - 240_000).toISOString(),
                  finishedAt: new Date(now - 235_000).toISOString(),
                },
              },
            },
      ],
    });
  }

  for (const [k, e] of (c.events ?? []).entries()) {
    await create(api, `/api/v1/namespaces/${c.namespace}/events`, {
      metadata: { name: `${e.name}.${k}${Date.now().toString(16)}`, namespace: c.namespace },
      involvedObject: { kind: e.kind, name: e.name, namespace: c.namespace },
      reason: e.reason,
      message: e.message,
      type: e.type,
      count: e.count ?? 1,
      firstTimestamp: new Date(now - 3600_000).toISOString(),
      lastTimestamp: new Date(now - 60_000).toISOString(),
      source: { component: e.kind === 'Cluster' ? 'cloudnative-pg' : 'kubelet' },
    });
  }
}

// ---------------------------------------------------------------------------
// The three sample scenarios.

const jl = (level: string, logger: string, msg: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ level, ts: '2026-11-26T09:00:00.000000000Z', logger, msg, ...extra });

const POLICY = JSON.stringify({
  apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
  kind: 'ResizePolicy',
  walStorage: {
    resize: {
      enabled: true,
      triggers: { usageThreshold: 80 },
      expansion: { step: '20%', minStep: '64Mi', limit: '1Gi' },
      strategy: { maxActionsPerDay: 3, walSafetyPolicy: { requireArchiveHealthy: true, maxPendingWALFiles: 100 } },
    },
  },
});

export function healthyScenario(namespace = 'payments'): ClusterSpec {
  const inst = (n: number, primary: boolean): InstanceSpec => ({
    n,
    primary,
    state: 'running',
    volumes: [
      { type: 'data', sizeMi: 256, fillMi: 92 },
      { type: 'wal', sizeMi: 128, fillMi: 34 },
    ],
    archiver: primary
      ? { archivedCount: 4187, failedCount: 0, lastArchivedWal: '000000010000000000000059', lastArchivedAgoS: 95 }
      : undefined,
    readyFiles: 0,
    doneFiles: 12,
    walDirBytes: 33554432,
    slots: primary
      ? [
          { name: '_cnpg_main_2', active: true, retainedBytes: 4096, walStatus: 'reserved' },
          { name: '_cnpg_main_3', active: true, retainedBytes: 8192, walStatus: 'reserved' },
        ]
      : [],
    logs: [
      jl('info', 'instance-manager', 'Instance is still down, will retry in 1 second', { logging_pod: `main-${n}` }),
      jl('info', 'postgres', 'record', {
        logging_pod: `main-${n}`,
        record: { message: 'database system is ready to accept connections' },
      }),
      jl('info', 'wal-archive', 'Archived WAL file', {
        logging_pod: `main-${n}`,
        walName: 'pg_wal/000000010000000000000059',
      }),
    ],
  });
  return {
    namespace,
    name: 'main',
    archiving: true,
    phase: 'Cluster in healthy state',
    annotations: { 'disk.cnpg-plugin.dev/resize-policy': POLICY },
    instances: [inst(1, true), inst(2, false), inst(3, false)],
    events: [
      {
        reason: 'CreatingInstance',
        type: 'Normal',
        kind: 'Cluster',
        name: 'main',
        message: 'Primary instance (initdb)',
      },
    ],
  };
}

export function walArchiveFailingScenario(namespace = 'orders'): ClusterSpec {
  const failingLogs = (pod: string) => [
    jl('info', 'wal-archive', 'barman-cloud-wal-archive checking the first wal', { logging_pod: pod }),
    jl('error', 'wal-archive', 'Error invoking barman-cloud-wal-archive', {
      logging_pod: pod,
      currentPrimary: pod,
      options: ['--gzip', '-e', 'AES256', 's3://backups/orders/orders-db', 'orders-db'],
      exitCode: -1,
      error: 'exit status 4',
    }),
    jl('info', 'postgres', 'record', {
      logging_pod: pod,
      record: {
        error_severity: 'LOG',
        message: 'archive command failed with exit code 1',
        detail:
          'The failed archive command was: /controller/manager wal-archive --log-destination /controller/log/postgres.json pg_wal/0000000100000000000000B3',
      },
    }),
    jl(
      'error',
      'wal-archive',
      'An error occurred: Could not connect to the endpoint URL: "https://s3.eu-west-1.amazonaws.com/backups"',
      { logging_pod: pod },
    ),
  ];
  return {
    namespace,
    name: 'orders-db',
    archiving: true,
    phase: 'Cluster in healthy state',
    annotations: { 'disk.cnpg-plugin.dev/resize-policy': POLICY },
    instances: [
      {
        n: 1,
        primary: true,
        state: 'running',
        volumes: [
          { type: 'data', sizeMi: 256, fillMi: 120 },
          { type: 'wal', sizeMi: 128, fillMi: 111 },
        ],
        archiver: {
          archivedCount: 2710,
          failedCount: 1534,
          lastArchivedWal: '00000001000000000000005C',
          lastArchivedAgoS: 6 * 3600 + 120,
          lastFailedWal: '00000001000000000000005D',
          lastFailedAgoS: 40,
        },
        readyFiles: 212,
        doneFiles: 0,
        walDirBytes: 111 * MiB,
        slots: [{ name: '_cnpg_orders_db_2', active: true, retainedBytes: 16384, walStatus: 'reserved' }],
        logs: failingLogs('orders-db-1'),
      },
      {
        n: 2,
        primary: false,
        state: 'running',
        volumes: [
          { type: 'data', sizeMi: 256, fillMi: 118 },
          { type: 'wal', sizeMi: 128, fillMi: 18 },
        ],
        readyFiles: 0,
        doneFiles: 0,
        walDirBytes: 16 * MiB,
        slots: [],
        logs: [
          jl('info', 'postgres', 'record', {
            logging_pod: 'orders-db-2',
            record: { message: 'started streaming WAL from primary at 0/5C000000 on timeline 1' },
          }),
        ],
      },
    ],
    events: [
      {
        reason: 'AutoResizeBlocked',
        type: 'Warning',
        kind: 'PersistentVolumeClaim',
        name: 'orders-db-1-wal',
        message: 'archive-unhealthy: WAL archiving is failing; not growing the WAL volume',
        count: 4,
      },
    ],
  };
}

export function instanceDownScenario(namespace = 'billing'): ClusterSpec {
  const pod = 'ledger-1';
  return {
    namespace,
    name: 'ledger',
    archiving: true,
    phase: 'Not enough disk space',
    phaseReason:
      'Insufficient disk space detected in one or more pods is preventing PostgreSQL from running.Please verify your storage settings. Further information inside .status.instancesReportedState',
    instances: [
      {
        n: 1,
        primary: true,
        state: 'crashloop-exit4',
        volumes: [
          { type: 'data', sizeMi: 256, fillMi: 140 },
          { type: 'wal', sizeMi: 128, fillMi: 128 },
        ],
        logs: [
          jl('info', 'instance-manager', 'Checking for free disk space for WALs before starting PostgreSQL', {
            logging_pod: pod,
          }),
          jl('info', 'instance-manager', 'Detected low-disk space condition, avoid starting the instance', {
            logging_pod: pod,
          }),
        ],
        previousLogs: [
          jl('info', 'postgres', 'record', {
            logging_pod: pod,
            record: {
              error_severity: 'PANIC',
              message: 'could not write to file "pg_wal/xlogtemp.2211": No space left on device',
            },
          }),
          jl('info', 'instance-manager', 'Checking for free disk space for WALs after PostgreSQL finished', {
            logging_pod: pod,
          }),
          jl('info', 'instance-manager', 'Detected low-disk space condition', { logging_pod: pod }),
        ],
      },
      {
        n: 2,
        primary: false,
        state: 'running',
        volumes: [
          { type: 'data', sizeMi: 256, fillMi: 139 },
          { type: 'wal', sizeMi: 128, fillMi: 40 },
        ],
        readyFiles: 0,
        doneFiles: 0,
        walDirBytes: 40 * MiB,
        slots: [],
        logs: [
          jl('info', 'postgres', 'record', {
            logging_pod: 'ledger-2',
            record: { message: 'could not receive data from WAL stream: server closed the connection unexpectedly' },
          }),
        ],
      },
    ],
    events: [
      {
        reason: 'BackOff',
        type: 'Warning',
        kind: 'Pod',
        name: pod,
        message: `Back-off restarting failed container postgres in pod ${pod}_${namespace}`,
        count: 31,
      },
    ],
  };
}

// ---------------------------------------------------------------------------
// Identities.

/** The read-only permissions a support engineer needs for every read command and bundles (no exec, no secrets). */
export const SUPPORT_RULES = [
  { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters'], verbs: ['get', 'list'] },
  {
    apiGroups: [''],
    resources: ['pods', 'persistentvolumeclaims', 'events', 'persistentvolumes'],
    verbs: ['get', 'list'],
  },
  { apiGroups: [''], resources: ['pods/log', 'pods/proxy', 'nodes/proxy'], verbs: ['get'] },
  { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get', 'list'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] },
];

/**
 * Creates ClusterRole NAME with `rules`, binds it to group GROUP, and waits
 * until RBAC lets a client-certificate user of that group list pods.
 */
export async function grantClusterRole(
  w: World,
  name: string,
  rules: Record<string, unknown>[],
  group: string,
): Promise<string> {
  const { api } = w;
  await create(api, '/apis/rbac.authorization.k8s.io/v1/clusterroles', { metadata: { name }, rules });
  await create(api, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
  });
  const user = `${name}-user`;
  const kubeconfig = await api.kubeconfigFor(user, [group]);
  const cred = await api.clientCertFor(user, [group]);
  const canListClusters = rules.some((r) => (r['resources'] as string[]).includes('clusters'));
  for (let i = 0; i < 100; i++) {
    const r = await api.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      credentials: cred,
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { verb: 'list', resource: 'clusters', group: 'postgresql.cnpg.io' } },
      },
    });
    if (r.status === 201 && r.json<{ status: { allowed: boolean } }>().status.allowed === canListClusters) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return kubeconfig;
}
