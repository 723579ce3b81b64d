/**
 * Fleet benchmark: the CLI against a real kube-apiserver holding a fleet — by
 * default 300 CloudNativePG Clusters (3 instances each: 900 pods, 1,800 PVCs
 * with a separate WAL volume) in 30 namespaces over 30 simulated nodes — old
 * and new builds side by side in one run, next to kubectl df-pv when a df-pv
 * binary is given.
 *
 *   npm run bench:fleet      (tsc -b src && node --import tsx bench/fleet.bench.ts)
 *   FLEET_CLUSTERS=60 FLEET_NODES=10 FLEET_NAMESPACES=6 npm run bench:fleet   (smaller)
 *   DF_PV_BIN=/path/to/df-pv npm run bench:fleet                             (with the reference)
 *
 * Programs (each a child process, timed by GNU time: wall, CPU = user + system,
 * peak RSS):
 *   new node     `node bin/run.js` of this checkout
 *   old node     the same at the reference commit (bench/reference.ts; BENCH_REFERENCE=<commit>,
 *                BENCH_REFERENCE=none to skip)
 *   new binary   dist/release/build/linux-x64/kubectl-cnpg, if `npm run release` (or
 *                scripts/release/build.ts --target linux-x64) built it
 *   old binary   the reference's linux-x64 binary (built once, cached)
 *   df-pv        $DF_PV_BIN: kubectl df-pv built from its public source with `go build`
 *                and client-side throttling off (see docs/testing.md); $DF_PV_STOCK_BIN
 *                optionally a stock build (client-go's default 5 requests/s: minutes here)
 *   node floor   bench/io-floor.mjs: the requests of one read-only `disk status -A` run of
 *                new node (taken from the audit log), made again by plain Node that only
 *                parses the answers — the least CPU any Node program spends on that traffic
 *
 * Phases:
 *   1. pods without an address: the pod proxy fails at once, every read falls back to a
 *      port-forward, which fails at the simulated kubelet too (the failure path);
 *   2. the same pods given real addresses (one relay process for all of them in network
 *      namespaces) where simulated instance managers answer /pg/status (8000) and
 *      /metrics (9187) through the real pod proxy: what a healthy cluster looks like.
 *   3. a second API server (own etcd, test network, nodes) holding a copy of the fleet:
 *      `disk status -A -o json --context a,b` (read-only, new node and binary) against
 *      `--context a` then `--context b`, wall and CPU as ratios of the same run.
 *   Phase 2 also times the read-only run printing its table (1,800 rows) against -o json.
 *   The read-only runs and df-pv's are measured FLEET_ROUNDS times (default 5) in turn and
 *   reported as medians: single runs of under a second swing by a third on a shared machine.
 *   FLEET_PHASES=3 (or 1,2 ...) runs only those phases.
 *   FLEET_HOLD=1 keeps the fleet up once phase 2 has given the pods addresses and prints a
 *   read-only and an admin kubeconfig (for profiling a run by hand); a signal goes on.
 *
 * For each run it prints exit code, wall, CPU, peak RSS and the API requests by kind
 * from the API server's audit log (one user per run), then the ratios the goals of
 * docs/testing.md name. It asserts nothing about time; it exits 1 only when figures
 * would be meaningless (a command could not evaluate or did not measure every volume).
 *
 * Real: etcd, kube-apiserver, RBAC, audit, node and pod proxies, tmpfs statfs.
 * Simulated: kubelets (statfs summaries; they refuse exec and port-forward), instance
 * managers. Needs root (network namespaces, tmpfs), test/infra/build-k8s.sh and GNU time.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { startApiServer, type ApiServerHandle } from '../test/infra/apiserver.js';
import { createTestNetwork, type TestHostGroup, type TestNetwork } from '../test/infra/testhost.js';
import { auditOf, countByKind, mergeKubeconfigs } from '../test/api/harness.js';
import { BIN, REPO, requireBuiltCli } from '../test/helpers/cli.js';
import {
  grantClusterWide,
  metricsExporter,
  MiB,
  READ_ONLY_RULES,
  Seeder,
  waitForPermission,
  type SeededCluster,
  type TmpfsMount,
} from '../test/api/seed.js';
import { referenceBuild, type Reference } from './reference.js';
import { load, median } from './stats.js';

const CLUSTERS = Number(process.env['FLEET_CLUSTERS'] ?? 300);
const NODES = Number(process.env['FLEET_NODES'] ?? 30);
const NAMESPACES = Number(process.env['FLEET_NAMESPACES'] ?? 30);
/** Rounds of the read-only runs (ours and df-pv's), reported as medians. */
const ROUNDS = Math.max(1, Number(process.env['FLEET_ROUNDS'] ?? 5));
const INSTANCES = 3;
/** Which phases run: 1 (no addresses), 2 (addresses), 3 (two API servers, several contexts); default all. */
const PHASES = new Set((process.env['FLEET_PHASES'] ?? '1,2,3').split(',').map((p) => p.trim()));
/** FLEET_HOLD=1: keep the fleet up after phase 2's addresses, print kubeconfigs, wait for a signal (profiling). */
const HOLD = process.env['FLEET_HOLD'] === '1';
const GNU_TIME = '/usr/bin/time';
/** Addresses per test network (a /24, a few kept free). */
const HOSTS_PER_NETWORK = 240;

interface Program {
  name: string;
  argv: string[];
  kind: 'cli' | 'df-pv' | 'floor';
}

interface Measured {
  code: number;
  wallMs: number;
  cpuMs: number;
  rssKiB: number;
  stdout: string;
  stderr: string;
}

interface Run extends Measured {
  label: string;
  program: string;
  kinds: Record<string, number>;
  total: number;
}

const CATEGORIES: [string, (kind: string) => boolean][] = [
  ['lists', (k) => k.startsWith('list ')],
  ['node summaries', (k) => k === 'get nodes/proxy'],
  ['access reviews', (k) => k.startsWith('create selfsubjectaccessreviews')],
  ['pod proxy', (k) => k.endsWith(' pods/proxy')],
  ['exec', (k) => k.endsWith(' pods/exec')],
  ['port-forward', (k) => k.endsWith(' pods/portforward')],
];
const categoryOf = (k: string): string => CATEGORIES.find(([, f]) => f(k))?.[0] ?? 'other';

function byCategory(kinds: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(kinds)) out[categoryOf(k)] = (out[categoryOf(k)] ?? 0) + v;
  return out;
}

function measure(argv: string[], tmp: string): Promise<Measured> {
  const out = join(tmp, `time-${Math.random().toString(36).slice(2)}.txt`);
  const [exe, ...args] = argv as [string, ...string[]];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(GNU_TIME, ['-f', '%U %S %M', '-o', out, exe, ...args], {
      cwd: REPO,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const o: Buffer[] = [];
    const e: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => o.push(c));
    child.stderr.on('data', (c: Buffer) => e.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const [user, sys, rss] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      resolve({
        code: code ?? -1,
        wallMs,
        cpuMs: ((user ?? NaN) + (sys ?? NaN)) * 1000,
        rssKiB: rss ?? NaN,
        stdout: Buffer.concat(o).toString('utf8'),
        stderr: Buffer.concat(e).toString('utf8'),
      });
    });
  });
}

const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const fmtMiB = (kib: number) => `${Math.round(kib / 1024)} MiB`;

/** /pg/status of a simulated instance (CloudNativePG's PostgresqlStatus fields the CLI reads). */
function pgStatus(isPrimary: boolean): string {
  const at = new Date(Date.now() - 30_000).toISOString();
  return JSON.stringify(
    isPrimary
      ? {
          isPrimary: true,
          currentLsn: '0/5000060',
          lastArchivedWAL: '000000010000000000000004',
          lastArchivedWALTime: at,
          replicationSlotsInfo: [
            {
              slotName: '_cnpg_r1',
              slotType: 'physical',
              active: true,
              restartLsn: '0/5000000',
              walStatus: 'reserved',
            },
          ],
          instanceManagerVersion: '1.29.1',
        }
      : { isPrimary: false, currentLsn: '0/5000060', instanceManagerVersion: '1.29.1' },
  );
}

/** The fleet on one API server: storage classes, NODES simulated nodes, CLUSTERS clusters on shared tmpfs mounts. */
async function seedFleet(s: Seeder): Promise<{ seeded: SeededCluster[]; tNodes: number }> {
  await s.storageClasses();
  const nodeNames = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(2, '0')}`);
  const nodeLimit = pLimit(6);
  await Promise.all(nodeNames.map((n) => nodeLimit(() => s.node(n))));
  const tNodes = performance.now();
  // A few tmpfs mounts at different fill levels, shared by all volumes (statfs is read per volume per request).
  const mounts: TmpfsMount[] = await Promise.all(
    [0.12, 0.25, 0.38, 0.5, 0.62, 0.7, 0.75, 0.78].map((f, i) =>
      s.pool.mount(64 * MiB, Math.round((f * 64 * MiB) / 4096) * 4096, `fleet-${i}`),
    ),
  );
  let m = 0;
  const clusterLimit = pLimit(12);
  const seeded: SeededCluster[] = await Promise.all(
    Array.from({ length: CLUSTERS }, (_, c) =>
      clusterLimit(() =>
        s.cluster({
          namespace: `fleet-${String(c % NAMESPACES).padStart(2, '0')}`,
          name: `pg-${String(c).padStart(3, '0')}`,
          instances: INSTANCES,
          walStorage: true,
          // 3 instances on 3 different nodes
          nodes: Array.from({ length: INSTANCES }, (_, i) => nodeNames[(c + i * 7) % NODES]!),
          labels: { tier: c % 2 ? 'gold' : 'silver' },
          mountFor: () => mounts[m++ % mounts.length]!,
        }),
      ),
    ),
  );
  return { seeded, tNodes };
}

async function main(): Promise<void> {
  requireBuiltCli();
  if (process.getuid?.() !== 0) throw new Error('the fleet benchmark needs root (network namespace, tmpfs mounts)');
  if (!existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} is missing (apt-get install time)`);
  const pods = CLUSTERS * INSTANCES;
  const pvcs = pods * 2;
  console.log(
    `fleet benchmark: ${CLUSTERS} clusters, ${pods} pods, ${pvcs} PVCs, ${NAMESPACES} namespaces, ${NODES} nodes`,
  );
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${load()}, node ${process.version}`,
  );

  // ---- programs
  const programs: Program[] = [{ name: 'new node', argv: [process.execPath, BIN], kind: 'cli' }];
  const newBinary = join(REPO, 'dist/release/build/linux-x64/kubectl-cnpg');
  if (existsSync(newBinary)) programs.push({ name: 'new binary', argv: [newBinary], kind: 'cli' });
  else console.log(`(no ${newBinary}: the binary rows are skipped; scripts/release/build.ts --target linux-x64)`);
  let ref: Reference | undefined;
  if (process.env['BENCH_REFERENCE'] !== 'none') {
    ref = referenceBuild({ binary: existsSync(newBinary), log: (s) => console.log(s) });
    console.log(`reference ("old"): commit ${ref.commit.slice(0, 12)}`);
    programs.push({ name: 'old node', argv: [process.execPath, ref.bin], kind: 'cli' });
    if (ref.binary) programs.push({ name: 'old binary', argv: [ref.binary], kind: 'cli' });
  }
  const dfpv = process.env['DF_PV_BIN'];
  if (dfpv) programs.push({ name: 'df-pv', argv: [dfpv], kind: 'df-pv' });
  else console.log('reference not available: set DF_PV_BIN (kubectl df-pv, client throttling off; docs/testing.md)');
  const dfpvStock = process.env['DF_PV_STOCK_BIN'];
  if (dfpvStock) programs.push({ name: 'df-pv stock', argv: [dfpvStock], kind: 'df-pv' });
  const has = (name: string) => programs.some((p) => p.name === name);
  const prog = (name: string) => programs.find((p) => p.name === name)!;

  const tmp = mkdtempSync(join(os.tmpdir(), 'cnpg-fleet-bench-'));
  const tStart = performance.now();
  let api: ApiServerHandle | undefined;
  let net: TestNetwork | undefined;
  let seed: Seeder | undefined;
  let apiB: ApiServerHandle | undefined;
  let netB: TestNetwork | undefined;
  let seedB: Seeder | undefined;
  const podNets: TestNetwork[] = [];
  const groups: TestHostGroup[] = [];
  try {
    [api, net] = await Promise.all([startApiServer(), createTestNetwork()]);
    const tApi = performance.now();
    seed = await Seeder.create(api, net, { concurrency: 32 });
    const s = seed;
    const { seeded, tNodes } = await seedFleet(s);
    const tSeed = performance.now();
    console.log(
      `seeding: API server ${fmtMs(tApi - tStart)}, ${NODES} nodes ${fmtMs(tNodes - tApi)}, ` +
        `${CLUSTERS} clusters ${fmtMs(tSeed - tNodes)} (${s.client.count} requests, 32 at a time)`,
    );

    await grantClusterWide(s.client, 'bench-readonly', READ_ONLY_RULES);
    await waitForPermission(api, 'bench-readonly', { verb: 'get', resource: 'nodes', subresource: 'proxy' });

    const runs: Run[] = [];
    let seq = 0;
    /** A fresh API user for one run (its own lines in the audit log): the read-only role, or system:masters. */
    const newUser = async (readOnly: boolean): Promise<{ user: string; kubeconfig: string }> => {
      const user = readOnly ? `bench-ro-${++seq}` : `bench-all-${++seq}`;
      if (!readOnly) return { user, kubeconfig: await api!.kubeconfigFor(user, ['system:masters']) };
      await grantClusterWide(s.client, user, READ_ONLY_RULES);
      await waitForPermission(api!, user, { verb: 'get', resource: 'nodes', subresource: 'proxy' });
      return { user, kubeconfig: await api!.kubeconfigFor(user) };
    };
    /**
     * Runs each job `rounds` times in turn (round-robin, so a burst of load
     * from elsewhere falls on all of them alike), one API user per job, and
     * records the medians; requests come from the first round's audit (every
     * round makes the same ones).
     */
    const runRounds = async (
      jobs: { label: string; p: Program; args: string[]; readOnly: boolean }[],
      rounds: number,
    ): Promise<Run[]> => {
      const prepared = [];
      for (const j of jobs) {
        prepared.push({
          ...j,
          ...(await newUser(j.readOnly)),
          samples: [] as Measured[],
          events: [] as Awaited<ReturnType<typeof auditOf>>,
        });
      }
      for (let round = 0; round < rounds; round++) {
        for (const j of prepared) {
          j.samples.push(await measure([...j.p.argv, ...j.args, '--kubeconfig', j.kubeconfig], tmp));
          if (round === 0) j.events = await auditOf(api!, j.user);
        }
      }
      return prepared.map((j) => {
        const first = j.samples[0]!;
        const odd = j.samples.find((x) => x.code !== first.code);
        const r: Measured = {
          ...(odd ?? first),
          wallMs: median(j.samples.map((x) => x.wallMs)),
          cpuMs: median(j.samples.map((x) => x.cpuMs)),
          rssKiB: median(j.samples.map((x) => x.rssKiB)),
        };
        const run: Run = {
          ...r,
          label: j.label,
          program: j.p.name,
          kinds: countByKind(j.events),
          total: j.events.length,
        };
        runs.push(run);
        console.log(
          `  ${j.label.padEnd(34)} ${j.p.name.padEnd(12)} exit ${r.code}  wall ${fmtMs(r.wallMs).padStart(8)}  CPU ${fmtMs(r.cpuMs).padStart(8)}  RSS ${fmtMiB(r.rssKiB).padStart(8)}  requests ${j.events.length}${rounds > 1 ? `  (median of ${rounds})` : ''}`,
        );
        return run;
      });
    };
    /** One run of one program (the slow runs: every permission, the failure path, stock df-pv). */
    const runOne = async (label: string, p: Program, args: string[], readOnly: boolean): Promise<Run> =>
      (await runRounds([{ label, p, args, readOnly }], 1))[0]!;
    const STATUS = ['disk', 'status', '-A', '-o', 'json'];
    const cliNames = ['old node', 'new node', 'old binary', 'new binary'].filter(has);

    if (PHASES.has('1')) {
      console.log('\nphase 1: pods without an address (pod proxy and port-forward fail at once)');
      for (const n of ['old node', 'new node'].filter(has))
        await runOne('status -A, every permission, no addr', prog(n), STATUS, false);
    }

    if (PHASES.has('2')) {
      console.log('\nphase 2: pods with addresses, instance managers answering through the pod proxy');
      const tAddr = performance.now();
      const instances = seeded.flatMap((c) =>
        c.instances.map((name) => ({
          ns: c.namespace,
          name,
          primary: name === c.primary,
          vols: c.volumes.filter((v) => v.instance === name),
        })),
      );
      for (let i = 0; i < instances.length; i += HOSTS_PER_NETWORK) {
        const slice = instances.slice(i, i + HOSTS_PER_NETWORK);
        const pn = await createTestNetwork();
        podNets.push(pn);
        groups.push(
          Object.assign(
            await pn.startHosts(slice.length, [8000, 9187], (j, port) => {
              const it = slice[j]!;
              if (port === 9187) return metricsExporter(it.vols, it.primary);
              const body = pgStatus(it.primary);
              return (req, res) => {
                if ((req.url ?? '').split('?')[0] !== '/pg/status') {
                  res.writeHead(404);
                  res.end();
                  return;
                }
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(body);
              };
            }),
            { slice },
          ),
        );
      }
      const patchLimit = pLimit(32);
      await Promise.all(
        groups.flatMap((g) =>
          (g as TestHostGroup & { slice: typeof instances }).slice.map((it, j) =>
            patchLimit(() =>
              s.client.must(
                'PATCH',
                `/api/v1/namespaces/${it.ns}/pods/${it.name}/status`,
                { status: { podIP: g.ips[j], podIPs: [{ ip: g.ips[j] }] } },
                { contentType: 'application/merge-patch+json' },
              ),
            ),
          ),
        ),
      );
      console.log(
        `  ${instances.length} pods got addresses in ${podNets.length} network namespaces (one relay process each) in ${fmtMs(performance.now() - tAddr)}`,
      );
      if (HOLD) {
        // For profiling by hand: the fleet stays up with a read-only and an admin kubeconfig.
        await grantClusterWide(s.client, 'bench-hold-ro', READ_ONLY_RULES);
        await waitForPermission(api, 'bench-hold-ro', { verb: 'get', resource: 'nodes', subresource: 'proxy' });
        console.log(`  holding (FLEET_HOLD): Ctrl-C or SIGTERM ends the run`);
        console.log(`    read-only kubeconfig: ${await api.kubeconfigFor('bench-hold-ro')}`);
        console.log(`    admin kubeconfig:     ${await api.kubeconfigFor('bench-hold-admin', ['system:masters'])}`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
      }
      for (const n of cliNames) await runOne('status -A, every permission', prog(n), STATUS, false);
      // The node I/O floor replays what one read-only run of ours asked for: take it from the audit log.
      const floorRequests = join(tmp, 'floor-requests.json');
      {
        const { user, kubeconfig } = await newUser(true);
        const r = await measure([...prog('new node').argv, ...STATUS, '--kubeconfig', kubeconfig], tmp);
        if (![0, 1, 2].includes(r.code))
          throw new Error(`the run the floor replays failed: exit ${r.code}\n${r.stderr}`);
        const events = await auditOf(api, user);
        writeFileSync(floorRequests, JSON.stringify(events.map((e) => ({ verb: e.verb, path: e.requestURI }))));
        programs.push({
          name: 'node floor',
          argv: [process.execPath, join(REPO, 'bench/io-floor.mjs'), floorRequests],
          kind: 'floor',
        });
      }
      await runRounds(
        [
          ...cliNames.map((n) => ({ label: 'status -A, read-only', p: prog(n), args: STATUS, readOnly: true })),
          // The table people read: 1,800 rows drawn (and fitted to no width: a pipe).
          ...cliNames.map((n) => ({
            label: 'table: status -A, read-only',
            p: prog(n),
            args: ['disk', 'status', '-A'],
            readOnly: true,
          })),
          { label: 'node I/O floor, read-only', p: prog('node floor'), args: [], readOnly: true },
          // df-pv lists nodes, which the read-only role does not grant: it runs as an admin.
          ...['df-pv']
            .filter(has)
            .map((n) => ({ label: 'df-pv (all namespaces), read-only', p: prog(n), args: [], readOnly: false })),
        ],
        ROUNDS,
      );
      // The stock build waits on its throttle for minutes: once is enough.
      if (has('df-pv stock')) await runOne('df-pv (all namespaces), read-only', prog('df-pv stock'), [], false);
      for (const n of ['old node', 'new node'].filter(has))
        await runOne('wal health -A, every permission', prog(n), ['wal', 'health', '-A', '-o', 'json'], false);
    }

    // Phase 3: a second API server holding a copy of the fleet, read as two
    // contexts of one kubeconfig in one run, against the two single-context
    // runs one after the other (what a platform team did before), read-only.
    const ctx: { label: string; program: string; wallMs: number; cpuMs: number; rssKiB: number; requests: number }[] =
      [];
    if (PHASES.has('3')) {
      console.log('\nphase 3: two API servers (a copy of the fleet each), --context a,b vs two single-context runs');
      const tB = performance.now();
      [apiB, netB] = await Promise.all([startApiServer(), createTestNetwork()]);
      seedB = await Seeder.create(apiB, netB, { concurrency: 32 });
      await seedFleet(seedB);
      console.log(`  second API server and fleet seeded in ${fmtMs(performance.now() - tB)}`);
      const servers: [ApiServerHandle, Seeder][] = [
        [api, s],
        [apiB, seedB],
      ];
      for (const n of ['new node', 'new binary'].filter(has)) {
        const user = `bench-ctx-${++seq}`;
        for (const [a, sd] of servers) {
          await grantClusterWide(sd.client, user, READ_ONLY_RULES);
          await waitForPermission(a, user, { verb: 'get', resource: 'nodes', subresource: 'proxy' });
        }
        const kubeconfig = await mergeKubeconfigs(join(tmp, `${user}.kubeconfig`), [
          { name: 'a', kubeconfig: await api.kubeconfigFor(user) },
          { name: 'b', kubeconfig: await apiB.kubeconfigFor(user) },
        ]);
        const before = (await Promise.all(servers.map(([a]) => auditOf(a, user)))).reduce((x, e) => x + e.length, 0);
        const one = async (label: string, contexts: string) => {
          const r = await measure([...prog(n).argv, ...STATUS, '--context', contexts, '--kubeconfig', kubeconfig], tmp);
          const requests = (await Promise.all(servers.map(([a]) => auditOf(a, user)))).reduce(
            (x, e) => x + e.length,
            0,
          );
          const got = { label, program: n, wallMs: r.wallMs, cpuMs: r.cpuMs, rssKiB: r.rssKiB, requests };
          // Meaningless figures fail the benchmark: every context read, every volume measured.
          let parsed: unknown;
          try {
            parsed = JSON.parse(r.stdout);
          } catch (e) {
            throw new Error(
              `${label} (${n}): exit ${r.code}, stdout not JSON (${(e as Error).message}, ${r.stdout.length} characters): …${r.stdout.slice(-300)}\nstderr: ${r.stderr.slice(0, 2000)}`,
            );
          }
          const docs = contexts.includes(',')
            ? (parsed as { items: { report?: unknown }[] }).items.map((i) => i.report)
            : [parsed];
          for (const d of docs as ({ summary?: { clusters?: number; volumes?: number } } | undefined)[]) {
            if (![0, 1, 2].includes(r.code) || d?.summary?.clusters !== CLUSTERS || d.summary.volumes !== pvcs) {
              console.error(
                `${label} (${n}): exit ${r.code}, ${JSON.stringify(d?.summary)}\n${r.stderr.slice(0, 2000)}`,
              );
              process.exitCode = 1;
            }
          }
          console.log(
            `  ${label.padEnd(34)} ${n.padEnd(12)} exit ${r.code}  wall ${fmtMs(r.wallMs).padStart(8)}  CPU ${fmtMs(r.cpuMs).padStart(8)}  RSS ${fmtMiB(r.rssKiB).padStart(8)}`,
          );
          return got;
        };
        const seqA = await one('contexts: a alone', 'a');
        const seqB = await one('contexts: b alone', 'b');
        const both = await one('contexts: --context a,b', 'a,b');
        const after = (await Promise.all(servers.map(([a]) => auditOf(a, user)))).reduce((x, e) => x + e.length, 0);
        both.requests = after - seqB.requests;
        seqB.requests -= seqA.requests;
        seqA.requests -= before;
        ctx.push(seqA, seqB, both);
      }
    }

    // ---- report
    const cats = [...CATEGORIES.map(([c]) => c), 'other'];
    console.log(`\nrequests by kind (audit log, one per request)`);
    console.log(
      `${'run'.padEnd(36)} ${'program'.padEnd(12)} ${'total'.padStart(6)} ${cats.map((c) => c.padStart(Math.max(7, c.length))).join(' ')}`,
    );
    for (const r of runs) {
      const c = byCategory(r.kinds);
      console.log(
        `${r.label.padEnd(36)} ${r.program.padEnd(12)} ${String(r.total).padStart(6)} ${cats.map((k) => String(c[k] ?? 0).padStart(Math.max(7, k.length))).join(' ')}`,
      );
    }
    const other = [...new Set(runs.flatMap((r) => Object.keys(r.kinds).filter((k) => categoryOf(k) === 'other')))];
    if (other.length > 0) console.log(`  (other: ${other.join(', ')})`);

    const find = (label: string, program: string) => runs.find((r) => r.label === label && r.program === program);
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined || !(b > 0) ? 'n/a' : `${(a / b).toFixed(2)}×`;
    console.log(`\nratios (old = ${ref ? ref.commit.slice(0, 12) : 'not measured'})`);
    const line = (what: string, value: string, goal = '') =>
      console.log(`  ${what.padEnd(72)} ${value.padStart(8)}  ${goal}`);
    for (const n of ['node', 'binary']) {
      const ro = find('status -A, read-only', `new ${n}`);
      const all = find('status -A, every permission', `new ${n}`);
      const oldRo = find('status -A, read-only', `old ${n}`);
      const oldAll = find('status -A, every permission', `old ${n}`);
      if (!ro) continue;
      line(`${n}: every-permission CPU / read-only CPU, new`, ratio(all?.cpuMs, ro.cpuMs), 'goal ≤ 3×');
      line(`${n}: the same, old`, ratio(oldAll?.cpuMs, oldRo?.cpuMs));
      line(`${n}: every permission, new CPU / old CPU`, ratio(all?.cpuMs, oldAll?.cpuMs));
      line(`${n}: every permission, new peak RSS / old`, ratio(all?.rssKiB, oldAll?.rssKiB));
      line(`${n}: read-only, new CPU / old CPU`, ratio(ro.cpuMs, oldRo?.cpuMs));
      const table = find('table: status -A, read-only', `new ${n}`);
      const oldTable = find('table: status -A, read-only', `old ${n}`);
      line(
        `${n}: read-only table CPU / -o json CPU, new (old)`,
        `${ratio(table?.cpuMs, ro.cpuMs)} (${ratio(oldTable?.cpuMs, oldRo?.cpuMs)})`,
      );
      line(
        `${n}: read-only peak RSS ${fmtMiB(ro.rssKiB)} (old ${oldRo ? fmtMiB(oldRo.rssKiB) : 'n/a'})`,
        '',
        'goal < 150 MiB',
      );
      const df = find('df-pv (all namespaces), read-only', 'df-pv');
      if (df) {
        line(
          `${n}: read-only wall / df-pv wall, new (old)`,
          `${ratio(ro.wallMs, df.wallMs)} (${ratio(oldRo?.wallMs, df.wallMs)})`,
          'goal ≤ 1×',
        );
        line(
          `${n}: read-only CPU / df-pv CPU, new (old)`,
          `${ratio(ro.cpuMs, df.cpuMs)} (${ratio(oldRo?.cpuMs, df.cpuMs)})`,
          'goal ≤ 1.5×',
        );
      }
    }
    const df = find('df-pv (all namespaces), read-only', 'df-pv');
    const floor = find('node I/O floor, read-only', 'node floor');
    if (floor) {
      const ro = find('status -A, read-only', 'new node');
      line(
        `node I/O floor (same ${floor.total} requests, parsed only): CPU ${fmtMs(floor.cpuMs)}, peak RSS ${fmtMiB(floor.rssKiB)}`,
        '',
      );
      line('node I/O floor: CPU / df-pv CPU', ratio(floor.cpuMs, df?.cpuMs), 'the least a Node program reaches');
      line('node: read-only CPU, new / node I/O floor', ratio(ro?.cpuMs, floor.cpuMs));
    }
    if (df) {
      const ro = find('status -A, read-only', 'new node');
      line(`requests read-only, ours / df-pv (${ro?.total ?? '?'} / ${df.total})`, ratio(ro?.total, df.total));
      line(`df-pv: wall ${fmtMs(df.wallMs)}, CPU ${fmtMs(df.cpuMs)}, peak RSS ${fmtMiB(df.rssKiB)}`, '');
    } else console.log('  reference not available: set DF_PV_BIN');
    const wal = find('wal health -A, every permission', 'new node');
    if (wal) {
      const c = byCategory(wal.kinds);
      const perPod = (c['pod proxy'] ?? 0) + (c['exec'] ?? 0) + (c['port-forward'] ?? 0);
      line(`wal health -A: per-pod requests / pods (${perPod} / ${pods})`, (perPod / pods).toFixed(2), 'goal ≤ 2');
    }
    const roNew = find('status -A, read-only', 'new node');
    if (roNew) {
      const c = byCategory(roNew.kinds);
      line(
        `read-only: ${roNew.total} requests = ${c['lists'] ?? 0} lists + ${c['node summaries'] ?? 0} node summaries + ${c['access reviews'] ?? 0} access reviews`,
        '',
        `O(namespaces ${NAMESPACES} + nodes ${NODES}), not PVCs ${pvcs}`,
      );
    }
    for (const n of ['new node', 'new binary']) {
      const a = ctx.find((c) => c.program === n && c.label === 'contexts: a alone');
      const b = ctx.find((c) => c.program === n && c.label === 'contexts: b alone');
      const both = ctx.find((c) => c.program === n && c.label === 'contexts: --context a,b');
      if (!a || !b || !both) continue;
      line(
        `${n}: --context a,b / (a then b): wall ${fmtMs(both.wallMs)} / ${fmtMs(a.wallMs + b.wallMs)}`,
        ratio(both.wallMs, a.wallMs + b.wallMs),
        'two API servers, read-only',
      );
      line(
        `${n}: --context a,b / (a then b): CPU ${fmtMs(both.cpuMs)} / ${fmtMs(a.cpuMs + b.cpuMs)}`,
        ratio(both.cpuMs, a.cpuMs + b.cpuMs),
      );
      line(
        `${n}: --context a,b peak RSS ${fmtMiB(both.rssKiB)} (a alone ${fmtMiB(a.rssKiB)}); requests ${both.requests} (${a.requests} + ${b.requests})`,
        '',
      );
    }
    console.log(`\ntotal benchmark time ${fmtMs(performance.now() - tStart)}; load now ${load()}`);

    // Meaningless figures are a failure of the benchmark, not a speed judgement.
    let bad = false;
    for (const r of runs) {
      if (r.program === 'node floor') {
        if (r.code !== 0 || !/^\d+ requests, \d+ bytes parsed$/m.test(r.stdout)) {
          console.error(`\n${r.label}: exit ${r.code}\n${r.stdout}${r.stderr.slice(0, 2000)}`);
          bad = true;
        } else if (r.total !== find('status -A, read-only', 'new node')?.total) {
          console.error(`${r.label}: ${r.total} requests, the run it replays made a different number`);
          bad = true;
        }
        continue;
      }
      const isDfpv = r.program.startsWith('df-pv');
      if (isDfpv ? r.code !== 0 : ![0, 1, 2].includes(r.code)) {
        console.error(`\n${r.label} (${r.program}): exit ${r.code}\n${r.stderr.slice(0, 2000)}`);
        bad = true;
        continue;
      }
      if (isDfpv) {
        const rows = r.stdout.split('\n').filter((l) => /\bfleet-\d+\b/.test(l)).length;
        if (rows < pvcs) {
          console.error(`${r.label} (${r.program}): ${rows} rows for ${pvcs} PVCs`);
          bad = true;
        }
        continue;
      }
      if (r.label.startsWith('table:')) {
        const rows = r.stdout.split('\n').filter((l) => /\bfleet-\d+\b/.test(l)).length;
        if (rows < pvcs) {
          console.error(`${r.label} (${r.program}): ${rows} table rows for ${pvcs} PVCs`);
          bad = true;
        }
        continue;
      }
      if (!r.label.startsWith('status -A')) continue;
      const doc = JSON.parse(r.stdout) as {
        summary?: { clusters?: number; volumes?: number };
        clusters?: { volumes?: { filesystem?: unknown }[] }[];
      };
      const measured = (doc.clusters ?? []).flatMap((c) => c.volumes ?? []).filter((v) => v.filesystem).length;
      if (doc.summary?.clusters !== CLUSTERS || doc.summary.volumes !== pvcs || measured !== pvcs) {
        console.error(
          `${r.label} (${r.program}): expected ${CLUSTERS} clusters and ${pvcs} measured volumes, got ${JSON.stringify(doc.summary)}, ${measured} measured`,
        );
        bad = true;
      }
    }
    if (bad) process.exitCode = 1;
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all([seed?.close(), seedB?.close()]);
    await Promise.all([api?.stop(), net?.close(), apiB?.stop(), netB?.close(), ...podNets.map((n) => n.close())]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
