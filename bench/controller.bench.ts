/**
 * Controller benchmark: `kubectl-cnpg disk autoresize --controller` against a
 * real kube-apiserver holding the fleet of bench:fleet — by default 300
 * CloudNativePG Clusters (3 instances each: 900 pods, 1,800 PVCs with a
 * separate WAL volume) in 30 namespaces over 30 simulated nodes — next to
 * topolvm's pvc-autoresizer on the same fleet, in the same run.
 *
 *   npm run bench:controller   (tsc -b src && node --import tsx bench/controller.bench.ts)
 *   PVC_AUTORESIZER_BIN=/path/to/pvc-autoresizer npm run bench:controller     (with the reference)
 *   FLEET_CLUSTERS=60 FLEET_NODES=10 FLEET_NAMESPACES=6 CONTROLLER_LOOPS=3 CONTROLLER_INTERVAL=10 …  (smaller)
 *   CONTROLLER_PROMETHEUS=0 …   (phase 1 only)
 *
 * Programs (each a long-running child process, one at a time):
 *   ours node        `node bin/run.js disk autoresize --controller --all-namespaces`
 *   ours binary      dist/release/build/linux-x64/kubectl-cnpg, the same flags, when built
 *   pvc-autoresizer  $PVC_AUTORESIZER_BIN, topolvm's controller built from its public source
 *                    with `go build` (docs/testing.md); without it: "reference not available"
 *
 * Phase 1, the kubelets through the API server: ours with --source kubelet-summary (each
 * node's /stats/summary through the node proxy, as bench:fleet's read-only runs), theirs with
 * --use-k8s-metrics-api (a node list, then each node's kubelet /metrics through the node
 * proxy). Phase 2, a real Prometheus (Debian's) scraping every simulated kubelet's /metrics:
 * ours with --source prometheus, theirs with --prometheus-url, each through a counting
 * pass-through relay. In both phases the numbers come from the same statfs of the same
 * tmpfs mounts, and both decide over all 1,800 PVCs per loop: ours by a default policy
 * that enables every volume (resize above 90 % used), theirs by its StorageClass
 * annotation and a storage limit on every PVC (resize below 10 % available, its default).
 * The fullest volume is 78 % used, so neither resizes: a steady-state loop is measure +
 * decide.
 *
 * Each program runs with the same --interval (CONTROLLER_INTERVAL seconds, default 15)
 * and its own API user, so the audit log gives its requests. Loops are counted outside
 * the programs (phase 1: each kubelet answers one request per loop per program; phase 2:
 * the relay counts queries, 2 per loop for ours, 4 for theirs). After CONTROLLER_WARMUP
 * loops (default 2: start, lists, first loop) the benchmark samples the process half an
 * interval after a loop began, then again CONTROLLER_LOOPS loops later (default 4), and
 * reports per loop: API requests by verb and resource (audit events received between the
 * samples), CPU (user + system from /proc/PID/stat, everything the process did in the
 * window: loops, Lease renewals, watches, GC), loop wall (each program's own loop metric),
 * steady RSS (VmRSS at the second sample; VmHWM the peak). It asserts nothing about time;
 * it exits 1 when a figure would be meaningless (a program did not start, did not decide
 * over every PVC, resized, or counted a failure).
 *
 * pvc-autoresizer has no flag for its leader-election namespace, and its kubelet client
 * always uses the in-cluster configuration: it reads the service-account files. The
 * benchmark gives it them in a private mount namespace (`unshare --mount`, a tmpfs over
 * /run holding /run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}) with
 * KUBERNETES_SERVICE_HOST/PORT pointing at the test API server; the token is a static
 * token user of that API server. Nothing outside that process sees those files.
 *
 * Real: etcd, kube-apiserver, RBAC, audit, node proxy, Prometheus, tmpfs statfs, both
 * controllers. Simulated: the kubelets (statfs summaries and kubelet_volume_stats_*
 * gauges, test/api/seed.ts). Needs root.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import type { AuditEvent } from '../test/infra/apiserver.js';
import { startApiServer, type ApiServerHandle } from '../test/infra/apiserver.js';
import { createTestNetwork, type TestHost, type TestNetwork } from '../test/infra/testhost.js';
import { auditOf, kindOf } from '../test/api/harness.js';
import { BIN, REPO, requireBuiltCli } from '../test/helpers/cli.js';
import { MiB, Seeder, pvcNameFor, type PvcState, type TmpfsMount } from '../test/api/seed.js';
import { load } from './stats.js';

const CLUSTERS = Number(process.env['FLEET_CLUSTERS'] ?? 300);
const NODES = Number(process.env['FLEET_NODES'] ?? 30);
const NAMESPACES = Number(process.env['FLEET_NAMESPACES'] ?? 30);
const INTERVAL_S = Number(process.env['CONTROLLER_INTERVAL'] ?? 15);
const LOOPS = Number(process.env['CONTROLLER_LOOPS'] ?? 4);
const WARMUP = Number(process.env['CONTROLLER_WARMUP'] ?? 2);
const INSTANCES = 3;
const VOLUME_LIMIT = '1Gi';
/** Start-up + the first loops may be slow on a loaded machine; beyond this the run is a failure. */
const START_TIMEOUT_MS = 8 * 60_000;
const TOPOLVM_USER = 'bench-pvc-autoresizer';
/** Phase 2 (a real Prometheus); CONTROLLER_PROMETHEUS=0 skips it. */
const PROMETHEUS = process.env['CONTROLLER_PROMETHEUS'] !== '0';
const SCRAPE_S = 5;
const TOPOLVM_NS = 'bench-pvc-autoresizer';
const OURS_LEASE_NS = 'bench-cnpg-disk';

/** Every volume of every Cluster under one rule: resize above 90 % used (topolvm's default: below 10 % free). */
const DEFAULT_POLICY = `apiVersion: disk.cnpg-plugin.dev/v1alpha1
kind: DefaultPolicy
rules:
  - policy:
      storage:
        resize:
          enabled: true
          triggers: { usageThreshold: 90 }
          expansion: { step: '10%', minStep: 1Mi, limit: ${VOLUME_LIMIT} }
      walStorage:
        resize:
          enabled: true
          triggers: { usageThreshold: 90 }
          expansion: { step: '10%', minStep: 1Mi, limit: ${VOLUME_LIMIT} }
`;

interface Program {
  name: string;
  kind: 'ours' | 'topolvm';
  /** 1: the kubelets through the node proxy; 2: a real Prometheus. */
  phase: 1 | 2;
  /** Its API user (the audit log's key). */
  user: string;
  /** Loops it has run so far, counted outside the program (kubelet hits, Prometheus queries). */
  loops: () => number;
}

interface Sample {
  at: number;
  cpuTicks: number;
  rssKiB: number;
  hwmKiB: number;
  metrics: string;
}

interface Result {
  program: Program;
  startMs: number;
  startCpuS: number;
  startRequests: number;
  loops: number;
  cpuPerLoopMs: number;
  wallPerLoopMs: number;
  rssKiB: number;
  hwmKiB: number;
  requests: Record<string, number>;
  totalPerLoop: number;
  problems: string[];
}

const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const fmtMiB = (kib: number) => `${Math.round(kib / 1024)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process (all its threads), in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function memKiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(Buffer.concat(chunks).toString('utf8'))
          : reject(new Error(`${url}: HTTP ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/**
 * Sum of a metric's samples in a Prometheus text page, optionally only the
 * samples whose label text contains `labelPart`. (Both programs' own pages;
 * a few lines of a format we only read here.)
 */
function metricSum(page: string, name: string, labelPart = ''): number {
  let sum = 0;
  for (const line of page.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name || !(m[2] ?? '').includes(labelPart)) continue;
    sum += Number(m[3]);
  }
  return sum;
}

function metricSeries(page: string, name: string): number {
  return page.split('\n').filter((l) => l.startsWith(`${name}{`)).length;
}

interface Prometheus {
  url: string;
  version: string;
  stop(): Promise<void>;
}

/**
 * Debian's prometheus scraping every simulated kubelet's /metrics over HTTPS
 * (the cluster CA, a client certificate it signed) every SCRAPE_S seconds;
 * resolves when every PVC's kubelet_volume_stats_available_bytes is in.
 */
async function startPrometheus(
  api: ApiServerHandle,
  kubelets: TestHost[],
  tmp: string,
  pvcs: number,
): Promise<Prometheus> {
  const exe = process.env['PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
  const version = execFileSync(exe, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '?';
  const cert = await api.clientCertFor('bench-prometheus');
  const dir = join(tmp, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      `global: { scrape_interval: ${SCRAPE_S}s, scrape_timeout: ${SCRAPE_S - 1}s }`,
      'scrape_configs:',
      '  - job_name: kubelet',
      '    scheme: https',
      `    tls_config: { ca_file: '${api.caCertPath}', cert_file: '${cert.certPath}', key_file: '${cert.keyPath}' }`,
      `    static_configs: [{ targets: [${kubelets.map((h) => `'${h.ip}:${h.port}'`).join(', ')}] }]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let logText = '';
  const child = spawn(
    exe,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (c: Buffer) => (logText = (logText + c.toString()).slice(-4000)));
  child.stderr.on('data', (c: Buffer) => (logText = (logText + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
  };
  const deadline = performance.now() + 180_000;
  for (;;) {
    try {
      const q = encodeURIComponent('count(kubelet_volume_stats_available_bytes{job="kubelet"})');
      const r = JSON.parse(await httpGet(`${url}/api/v1/query?query=${q}`)) as {
        data?: { result?: { value?: [number, string] }[] };
      };
      if (Number(r.data?.result?.[0]?.value?.[1] ?? 0) === pvcs) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || performance.now() > deadline) {
      await stop();
      throw new Error(`Prometheus did not collect the ${pvcs} volumes; its log ends:\n${logText}`);
    }
    await sleep(500);
  }
  return { url, version, stop };
}

interface Relay {
  url: string;
  /** Instant queries passed on so far. */
  queries(): number;
  close(): Promise<void>;
}

/**
 * A pass-through HTTP relay in front of Prometheus that counts the queries of
 * one program (its loops: ours asks 2 queries per loop, pvc-autoresizer 4).
 * Every request goes to the real Prometheus and its answer comes back as is.
 */
async function countingRelay(target: string): Promise<Relay> {
  const to = new URL(target);
  let n = 0;
  const server = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith('/api/v1/query')) n++;
    const up = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    queries: () => n,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function main(): Promise<void> {
  requireBuiltCli();
  if (process.getuid?.() !== 0)
    throw new Error('the controller benchmark needs root (network namespace, tmpfs mounts)');
  const pods = CLUSTERS * INSTANCES;
  const pvcs = pods * 2;
  console.log(
    `controller benchmark: ${CLUSTERS} clusters, ${pods} pods, ${pvcs} PVCs, ${NAMESPACES} namespaces, ${NODES} nodes; ` +
      `interval ${INTERVAL_S} s, ${WARMUP} warm-up loops, ${LOOPS} measured loops per program`,
  );
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${load()}, node ${process.version}`,
  );

  const binary = join(REPO, 'dist/release/build/linux-x64/kubectl-cnpg');
  const hasBinary = existsSync(binary);
  if (!hasBinary)
    console.log(`(no ${binary}: the binary rows are skipped; scripts/release/build.ts --target linux-x64)`);
  const topolvmBin = process.env['PVC_AUTORESIZER_BIN'];
  if (topolvmBin) {
    if (!existsSync(topolvmBin)) throw new Error(`PVC_AUTORESIZER_BIN=${topolvmBin}: no such file`);
  } else
    console.log(
      'reference not available: set PVC_AUTORESIZER_BIN (topolvm pvc-autoresizer built with go build; docs/testing.md)',
    );
  if (PROMETHEUS && !existsSync('/usr/bin/prometheus') && !process.env['PROMETHEUS_BIN'])
    throw new Error('phase 2 needs prometheus (apt-get install prometheus) or CONTROLLER_PROMETHEUS=0');

  const tmp = mkdtempSync(join(os.tmpdir(), 'cnpg-controller-bench-'));
  const tStart = performance.now();
  // pvc-autoresizer authenticates with a bearer token (its in-cluster configuration): one static token user per phase.
  const topolvmTokens = new Map([1, 2].map((n) => [`${TOPOLVM_USER}-${n}`, randomBytes(24).toString('hex')]));
  let prom: Prometheus | undefined;
  const relays: Relay[] = [];
  let api: ApiServerHandle | undefined;
  let netw: TestNetwork | undefined;
  let seed: Seeder | undefined;
  const children = new Set<ChildProcess>();
  try {
    [api, netw] = await Promise.all([
      startApiServer({
        tokenUsers: [...topolvmTokens].map(([user, token]) => ({ user, groups: ['system:masters'], token })),
      }),
      createTestNetwork(),
    ]);
    const tApi = performance.now();
    seed = await Seeder.create(api, netw, { concurrency: 32 });
    const s = seed;
    await s.storageClasses();
    // pvc-autoresizer acts only on PVCs of a StorageClass annotated for it.
    await s.client.must(
      'PATCH',
      '/apis/storage.k8s.io/v1/storageclasses/expandable',
      { metadata: { annotations: { 'resize.topolvm.io/enabled': 'true' } } },
      { contentType: 'application/merge-patch+json' },
    );
    const nodeNames = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(2, '0')}`);
    const nodeLimit = pLimit(6);
    await Promise.all(nodeNames.map((n) => nodeLimit(() => s.node(n))));
    const tNodes = performance.now();
    const mounts: TmpfsMount[] = await Promise.all(
      [0.12, 0.25, 0.38, 0.5, 0.62, 0.7, 0.75, 0.78].map((f, i) =>
        s.pool.mount(64 * MiB, Math.round((f * 64 * MiB) / 4096) * 4096, `ctl-${i}`),
      ),
    );
    let m = 0;
    const clusterLimit = pLimit(12);
    await Promise.all(
      Array.from({ length: CLUSTERS }, (_, c) => {
        const name = `pg-${String(c).padStart(3, '0')}`;
        // pvc-autoresizer's per-PVC opt-in: a storage limit (its other settings keep their defaults).
        const limit: PvcState = { annotations: { 'resize.topolvm.io/storage_limit': VOLUME_LIMIT } };
        const pvcStates: Record<string, PvcState> = {};
        for (let i = 1; i <= INSTANCES; i++)
          for (const key of ['data', 'wal']) pvcStates[pvcNameFor(`${name}-${i}`, key)] = limit;
        return clusterLimit(() =>
          s.cluster({
            namespace: `fleet-${String(c % NAMESPACES).padStart(2, '0')}`,
            name,
            instances: INSTANCES,
            walStorage: true,
            nodes: Array.from({ length: INSTANCES }, (_, i) => nodeNames[(c + i * 7) % NODES]!),
            labels: { tier: c % 2 ? 'gold' : 'silver' },
            mountFor: () => mounts[m++ % mounts.length]!,
            pvcs: pvcStates,
          }),
        );
      }),
    );
    for (const ns of [OURS_LEASE_NS, TOPOLVM_NS])
      await s.client.must('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
      });
    const tSeed = performance.now();
    console.log(
      `seeding: API server ${fmtMs(tApi - tStart)}, ${NODES} nodes ${fmtMs(tNodes - tApi)}, ` +
        `${CLUSTERS} clusters ${fmtMs(tSeed - tNodes)} (${s.client.count} requests, 32 at a time)`,
    );
    const policyFile = join(tmp, 'default-policy.yaml');
    writeFileSync(policyFile, DEFAULT_POLICY);

    const apiUrl = new URL(api.url);

    const kubeletHits = (path: string) => nodeNames.map((n) => s.kubelets.get(n)!.hits.get(path) ?? 0);
    const minHits = (path: string) => Math.min(...kubeletHits(path));

    const results: Result[] = [];
    let seq = 0;
    const runProgram = async (p: Program, promUrl?: string): Promise<void> => {
      const port = await freePort();
      let argv: string[];
      let env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmp };
      if (p.kind === 'ours') {
        const kubeconfig = await api!.kubeconfigFor(p.user, ['system:masters']);
        argv = [
          ...(p.name === 'ours binary' ? [binary] : [process.execPath, BIN]),
          'disk',
          'autoresize',
          '--controller',
          '--all-namespaces',
          ...(promUrl ? ['--source', 'prometheus', '--prometheus-url', promUrl] : ['--source', 'kubelet-summary']),
          '--interval',
          `${INTERVAL_S}s`,
          '--default-policy',
          policyFile,
          '--lease-namespace',
          OURS_LEASE_NS,
          '--lease-name',
          `bench-${++seq}`,
          '--identity',
          p.user,
          '--metrics-address',
          `127.0.0.1:${port}`,
          '--kubeconfig',
          kubeconfig,
        ];
      } else {
        const health = await freePort();
        const sa = join(tmp, `serviceaccount-${p.user}`);
        mkdirSync(sa, { recursive: true });
        writeFileSync(join(sa, 'token'), topolvmTokens.get(p.user)!);
        writeFileSync(join(sa, 'ca.crt'), api!.caCertPem);
        writeFileSync(join(sa, 'namespace'), TOPOLVM_NS);
        const script =
          'set -e; mount -t tmpfs -o size=1m,mode=0755 bench-run /run; ' +
          'mkdir -p /run/secrets/kubernetes.io/serviceaccount; ' +
          'cp "$1"/token "$1"/ca.crt "$1"/namespace /run/secrets/kubernetes.io/serviceaccount/; ' +
          'shift; exec "$@"';
        argv = [
          'unshare',
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          script,
          'sh',
          sa,
          topolvmBin!,
          ...(promUrl ? [`--prometheus-url=${promUrl}`] : ['--use-k8s-metrics-api']),
          `--interval=${INTERVAL_S}s`,
          `--metrics-addr=127.0.0.1:${port}`,
          `--health-addr=127.0.0.1:${health}`,
          '--pvc-mutating-webhook-enabled=false',
        ];
        env = { ...env, KUBERNETES_SERVICE_HOST: apiUrl.hostname, KUBERNETES_SERVICE_PORT: apiUrl.port };
      }
      const logPath = join(tmp, `${p.user}.log`);
      const log = createWriteStream(logPath);
      const base = p.loops();
      const t0 = performance.now();
      const tWall0 = Date.now();
      const [exe, ...args] = argv as [string, ...string[]];
      const child = spawn(exe, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      let exited: number | null | undefined;
      const done = new Promise<void>((r) =>
        child.on('exit', (code, sig) => {
          exited = code ?? (sig ? 128 : -1);
          children.delete(child);
          r();
        }),
      );
      const pid = child.pid!;
      const problems: string[] = [];
      const waitLoops = async (n: number) => {
        const deadline = performance.now() + START_TIMEOUT_MS;
        while (p.loops() < base + n) {
          if (exited !== undefined) throw new Error(`${p.name} exited (${exited})`);
          if (performance.now() > deadline) throw new Error(`${p.name}: no loop ${n} within ${START_TIMEOUT_MS} ms`);
          await sleep(100);
        }
      };
      const sample = async (): Promise<Sample> => {
        const at = Date.now();
        const mem = memKiB(pid);
        return {
          at,
          cpuTicks: cpuTicks(pid),
          rssKiB: mem.rss,
          hwmKiB: mem.hwm,
          metrics: await httpGet(`http://127.0.0.1:${port}/metrics`),
        };
      };
      try {
        await waitLoops(WARMUP);
        await sleep((INTERVAL_S * 1000) / 2);
        const a = await sample();
        const startMs = performance.now() - t0;
        await waitLoops(WARMUP + LOOPS);
        await sleep((INTERVAL_S * 1000) / 2);
        const b = await sample();
        const loops = p.loops() - base - WARMUP;
        if (loops !== LOOPS)
          problems.push(`${loops} loops between the samples, expected ${LOOPS} (loop longer than half an interval?)`);
        const events = await auditOf(api!, p.user);
        const at = (e: AuditEvent) => Date.parse(e.requestReceivedTimestamp);
        const inWindow = events.filter((e) => at(e) > a.at && at(e) <= b.at);
        const before = events.filter((e) => at(e) <= a.at && at(e) >= tWall0 - 1000);
        const requests: Record<string, number> = {};
        for (const e of inWindow) requests[kindOf(e)] = (requests[kindOf(e)] ?? 0) + 1;
        const delta = (name: string, label = '') =>
          metricSum(b.metrics, name, label) - metricSum(a.metrics, name, label);
        let wallPerLoopMs: number;
        if (p.kind === 'ours') {
          const n = delta('cnpg_disk_loop_duration_seconds_count');
          wallPerLoopMs = (delta('cnpg_disk_loop_duration_seconds_sum') / n) * 1000;
          if (n !== loops) problems.push(`its loop metric counted ${n} passes, the benchmark ${loops}`);
          const decisions = delta('cnpg_disk_decisions_total');
          if (decisions !== loops * pvcs)
            problems.push(`${decisions} decisions in ${loops} passes, expected ${loops * pvcs} (every PVC every pass)`);
          const verdicts = b.metrics
            .split('\n')
            .filter((l) => l.startsWith('cnpg_disk_decisions_total{') && !l.endsWith(' 0'));
          if (verdicts.some((l) => !/verdict="none"/.test(l)))
            problems.push(`verdicts other than none: ${verdicts.join('; ')}`);
          const resized = delta('cnpg_disk_resizes_total');
          if (resized !== 0) problems.push(`${resized} resizes in steady state`);
          const errors = delta('cnpg_disk_source_errors_total');
          if (errors !== 0) problems.push(`${errors} source errors`);
        } else {
          wallPerLoopMs = (delta('pvcautoresizer_loop_seconds_total') / loops) * 1000;
          const targets = metricSeries(b.metrics, 'pvcautoresizer_success_resize_total');
          if (targets !== pvcs) problems.push(`${targets} PVCs are its targets, expected ${pvcs}`);
          const resized = metricSum(b.metrics, 'pvcautoresizer_success_resize_total');
          if (resized !== 0) problems.push(`${resized} resizes`);
          const fails =
            metricSum(b.metrics, 'pvcautoresizer_metrics_client_fail_total') +
            metricSum(b.metrics, 'pvcautoresizer_kubernetes_client_fail_total') +
            metricSum(b.metrics, 'pvcautoresizer_failed_resize_total');
          if (fails !== 0) problems.push(`${fails} failures in its metrics`);
          const text = readFileSync(logPath, 'utf8');
          const noStats = (text.match(/failed to get volume stats/g) ?? []).length;
          if (noStats > 0) problems.push(`${noStats} "failed to get volume stats" log lines (a PVC without numbers)`);
        }
        const result: Result = {
          program: p,
          startMs,
          startCpuS: a.cpuTicks / CLK_TCK,
          startRequests: before.length,
          loops,
          cpuPerLoopMs: ((b.cpuTicks - a.cpuTicks) / CLK_TCK / loops) * 1000,
          wallPerLoopMs,
          rssKiB: b.rssKiB,
          hwmKiB: b.hwmKiB,
          requests: Object.fromEntries(Object.entries(requests).map(([k, v]) => [k, v / loops])),
          totalPerLoop: inWindow.length / loops,
          problems,
        };
        results.push(result);
        console.log(
          `  ${p.name.padEnd(16)} start ${fmtMs(startMs).padStart(7)} (${result.startCpuS.toFixed(1)} s CPU, ${before.length} requests)  ` +
            `per loop: CPU ${fmtMs(result.cpuPerLoopMs).padStart(7)}, wall ${fmtMs(wallPerLoopMs).padStart(7)}, ` +
            `requests ${result.totalPerLoop.toFixed(1)}  RSS ${fmtMiB(b.rssKiB)} (peak ${fmtMiB(b.hwmKiB)})  load ${load()}`,
        );
        for (const pr of problems) console.log(`    problem: ${pr}`);
        if (problems.length > 0) console.log(`    its log ends:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
      } catch (e) {
        console.log(
          `  ${p.name}: ${(e as Error).message}; its log ends:\n${readFileSync(logPath, 'utf8').slice(-3000)}`,
        );
        throw e;
      } finally {
        if (exited === undefined) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
          await done;
          clearTimeout(t);
        }
        log.end();
      }
    };

    // ---- phase 1: each program reads every kubelet through the API server's node proxy
    console.log('\nphase 1: every kubelet read through the node proxy once per loop');
    const phase1: Program[] = [
      { name: 'ours node', kind: 'ours', phase: 1, user: 'bench-ours-node-1', loops: () => minHits('/stats/summary') },
    ];
    if (hasBinary)
      phase1.push({
        name: 'ours binary',
        kind: 'ours',
        phase: 1,
        user: 'bench-ours-binary-1',
        loops: () => minHits('/stats/summary'),
      });
    if (topolvmBin)
      phase1.push({
        name: 'pvc-autoresizer',
        kind: 'topolvm',
        phase: 1,
        user: `${TOPOLVM_USER}-1`,
        loops: () => minHits('/metrics'),
      });
    for (const p of phase1) await runProgram(p);

    // ---- phase 2: a real Prometheus scrapes every kubelet's /metrics; each program asks it
    if (PROMETHEUS) {
      console.log('\nphase 2: a real Prometheus scrapes every kubelet; each program queries it once per loop');
      prom = await startPrometheus(
        api,
        nodeNames.map((n) => s.kubelets.get(n)!.node!.host),
        tmp,
        pvcs,
      );
      console.log(`  Prometheus ${prom.version}: ${pvcs} volumes scraped from ${NODES} kubelets every ${SCRAPE_S} s`);
      // Each program asks through its own counting relay: its queries count its loops.
      const mk = async (p: Omit<Program, 'loops'>, perLoop: number) => {
        const r = await countingRelay(prom!.url);
        relays.push(r);
        await runProgram({ ...p, loops: () => Math.floor(r.queries() / perLoop) }, r.url);
      };
      // ours: one query for kubelet_volume_stats_*, one for CloudNativePG's series; theirs: four queries.
      await mk({ name: 'ours node', kind: 'ours', phase: 2, user: 'bench-ours-node-2' }, 2);
      if (hasBinary) await mk({ name: 'ours binary', kind: 'ours', phase: 2, user: 'bench-ours-binary-2' }, 2);
      if (topolvmBin) await mk({ name: 'pvc-autoresizer', kind: 'topolvm', phase: 2, user: `${TOPOLVM_USER}-2` }, 4);
    }

    // ---- report, per phase
    const w = 18;
    const measurement = (k: string) => k.endsWith(' nodes/proxy');
    const nonMeasurement = (r: Result) =>
      Object.entries(r.requests)
        .filter(([k]) => !measurement(k))
        .reduce((a, [, v]) => a + v, 0);
    const ratio = (a: number, b: number | undefined) =>
      b === undefined || !(b > 0) ? 'n/a' : `${(a / b).toFixed(2)}×`;
    for (const phase of [1, 2] as const) {
      const rs = results.filter((r) => r.program.phase === phase);
      if (rs.length === 0) continue;
      console.log(
        `\nphase ${phase} (${phase === 1 ? 'kubelets through the node proxy' : 'a real Prometheus'}): ` +
          `per steady-state loop, requests by verb and resource from the audit log, ${LOOPS} loops`,
      );
      const row = (what: string, f: (r: Result) => string) =>
        console.log(`${what.padEnd(44)} ${rs.map((r) => f(r).padStart(w)).join(' ')}`);
      row('', (r) => r.program.name);
      const kinds = [...new Set(rs.flatMap((r) => Object.keys(r.requests)))].sort();
      for (const k of kinds) row(k, (r) => (r.requests[k] ?? 0).toFixed(1));
      row('total', (r) => r.totalPerLoop.toFixed(1));
      row('  not measurement (all but nodes/proxy)', (r) => nonMeasurement(r).toFixed(1));
      row('CPU per loop', (r) => fmtMs(r.cpuPerLoopMs));
      row('loop wall (its own loop metric)', (r) => fmtMs(r.wallPerLoopMs));
      row('RSS, steady', (r) => fmtMiB(r.rssKiB));
      row('RSS, peak', (r) => fmtMiB(r.hwmKiB));
      row('start to the first sample: requests', (r) => String(r.startRequests));
      row('start to the first sample: CPU', (r) => `${r.startCpuS.toFixed(1)} s`);
      const ref = rs.find((r) => r.program.kind === 'topolvm');
      console.log(`ratios, ours / pvc-autoresizer (phase ${phase}, same fleet, same run)`);
      if (!ref) console.log('  reference not available: set PVC_AUTORESIZER_BIN');
      else
        for (const r of rs.filter((x) => x.program.kind === 'ours')) {
          console.log(
            `  ${r.program.name.padEnd(12)} requests/loop ${ratio(r.totalPerLoop, ref.totalPerLoop)} ` +
              `(not measurement ${nonMeasurement(r).toFixed(1)} vs ${nonMeasurement(ref).toFixed(1)}), ` +
              `CPU/loop ${ratio(r.cpuPerLoopMs, ref.cpuPerLoopMs)}, loop wall ${ratio(r.wallPerLoopMs, ref.wallPerLoopMs)}, ` +
              `steady RSS ${ratio(r.rssKiB, ref.rssKiB)}`,
          );
        }
    }
    console.log(`\ntotal benchmark time ${fmtMs(performance.now() - tStart)}; load now ${load()}`);
    if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(relays.map((r) => r.close()));
    await prom?.stop();
    await seed?.close();
    await Promise.all([api?.stop(), netw?.close()]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
