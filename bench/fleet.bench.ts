/**
 * Fleet benchmark: the built CLI against a real kube-apiserver holding a
 * fleet — by default 300 CloudNativePG Clusters (3 instances each: 900 pods,
 * 1,800 PVCs with a separate WAL volume) in 30 namespaces over 30 simulated
 * nodes. It prints, for `disk status -A` and `diagnose -A`:
 *   - wall time of the child process (`node bin/run.js ...`),
 *   - the API requests it made, from the API server's audit log (by user),
 *     broken down by kind, next to the fleet's namespaces, nodes, pods and PVCs,
 * and the cold start of `node bin/run.js --help` (mean of several runs).
 *
 *   npm run bench:fleet      (tsc -b src && node --import tsx bench/fleet.bench.ts)
 *   FLEET_CLUSTERS=60 FLEET_NODES=10 FLEET_NAMESPACES=6 npm run bench:fleet   (smaller)
 *
 * It asserts nothing about time. It exits 1 only when the figures would be
 * meaningless (a command could not evaluate, or measured nothing).
 *
 * Real: etcd, kube-apiserver, RBAC, audit, the node proxy, tmpfs statfs.
 * Simulated: the kubelets (a handler answering /stats/summary from statfs of
 * a few shared tmpfs mounts; it cannot exec), pods and their statuses (no pod
 * IPs: the pod proxy answers 400 at once, so auto mode moves on).
 * Needs root (network namespace, tmpfs) and test/infra/build-k8s.sh.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import { startApiServer, type ApiServerHandle } from '../test/infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../test/infra/testhost.js';
import { auditOf, countByKind } from '../test/api/harness.js';
import { BIN, REPO, requireBuiltCli } from '../test/helpers/cli.js';
import {
  grantClusterWide,
  MiB,
  READ_ONLY_RULES,
  Seeder,
  waitForPermission,
  type TmpfsMount,
} from '../test/api/seed.js';

const CLUSTERS = Number(process.env['FLEET_CLUSTERS'] ?? 300);
const NODES = Number(process.env['FLEET_NODES'] ?? 30);
const NAMESPACES = Number(process.env['FLEET_NAMESPACES'] ?? 30);
const INSTANCES = 3;
const COLD_START_RUNS = Number(process.env['FLEET_COLD_RUNS'] ?? 5);

interface Run {
  label: string;
  user: string;
  args: string[];
  code: number;
  ms: number;
  stdoutBytes: number;
  stderr: string;
  stdout: string;
  kinds: Record<string, number>;
  total: number;
}

function runCli(
  args: string[],
  kubeconfig?: string,
): Promise<{ code: number; ms: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, ...(kubeconfig ? ['--kubeconfig', kubeconfig] : [])], {
      cwd: REPO,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: os.tmpdir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        ms: performance.now() - t0,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

async function main(): Promise<void> {
  requireBuiltCli();
  if (process.getuid?.() !== 0) throw new Error('the fleet benchmark needs root (network namespace, tmpfs mounts)');
  const pods = CLUSTERS * INSTANCES;
  const pvcs = pods * 2;
  console.log(
    `fleet benchmark: ${CLUSTERS} clusters, ${pods} pods, ${pvcs} PVCs, ${NAMESPACES} namespaces, ${NODES} nodes`,
  );
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, node ${process.version}`,
  );

  const tStart = performance.now();
  let api: ApiServerHandle | undefined;
  let net: TestNetwork | undefined;
  let seed: Seeder | undefined;
  try {
    [api, net] = await Promise.all([startApiServer(), createTestNetwork()]);
    const tApi = performance.now();
    seed = await Seeder.create(api, net, { concurrency: 32 });
    const s = seed;
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
    await Promise.all(
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
    const tSeed = performance.now();
    console.log(
      `seeding: API server ${fmt(tApi - tStart)}, ${NODES} nodes ${fmt(tNodes - tApi)}, ` +
        `${CLUSTERS} clusters ${fmt(tSeed - tNodes)} (${s.client.count} requests, ${Math.round((s.client.count * 1000) / (tSeed - tNodes))}/s, 32 at a time)`,
    );

    // Identities: a full-permission one (auto mode tries every source) and a read-only one (kubelet summary only).
    await grantClusterWide(s.client, 'bench-readonly', READ_ONLY_RULES);
    await waitForPermission(api, 'bench-readonly', { verb: 'get', resource: 'nodes', subresource: 'proxy' });
    const kc = {
      admin: (u: string) => api!.kubeconfigFor(u, ['system:masters']),
      readonly: () => api!.kubeconfigFor('bench-readonly'),
    };
    const plan: { label: string; user: string; args: string[]; kubeconfig: () => Promise<string> }[] = [
      {
        label: 'disk status -A (every permission)',
        user: 'bench-status',
        args: ['disk', 'status', '-A', '-o', 'json'],
        kubeconfig: () => kc.admin('bench-status'),
      },
      {
        label: 'disk status -A (read-only: kubelet summary)',
        user: 'bench-readonly',
        args: ['disk', 'status', '-A', '-o', 'json'],
        kubeconfig: kc.readonly,
      },
      {
        label: 'diagnose -A (every permission)',
        user: 'bench-diagnose',
        args: ['diagnose', '-A', '-o', 'json'],
        kubeconfig: () => kc.admin('bench-diagnose'),
      },
      {
        label: 'disk status -n fleet-00 (every permission)',
        user: 'bench-one-ns',
        args: ['disk', 'status', '-n', 'fleet-00', '-o', 'json'],
        kubeconfig: () => kc.admin('bench-one-ns'),
      },
    ];
    const runs: Run[] = [];
    for (const p of plan) {
      const r = await runCli(p.args, await p.kubeconfig());
      const events = await auditOf(api, p.user);
      const kinds = countByKind(events);
      runs.push({
        ...p,
        code: r.code,
        ms: r.ms,
        stdoutBytes: r.stdout.length,
        stderr: r.stderr,
        stdout: r.stdout,
        kinds,
        total: events.length,
      });
    }

    // Cold start of --help (no API server involved).
    const cold: number[] = [];
    for (let i = 0; i < COLD_START_RUNS; i++) cold.push((await runCli(['--help'])).ms);

    // ---- report
    console.log('\ncommand                                        exit  wall       requests  stdout');
    for (const r of runs) {
      console.log(
        `${r.label.padEnd(46)} ${String(r.code).padStart(4)}  ${fmt(r.ms).padEnd(9)}  ${String(r.total).padStart(8)}  ${(r.stdoutBytes / 1024).toFixed(0)} KiB`,
      );
    }
    const kinds = [...new Set(runs.flatMap((r) => Object.keys(r.kinds)))].sort();
    console.log(
      `\n${'requests by kind (audit log, one per request)'.padEnd(56)}${runs.map((_, i) => `run ${i + 1}`.padStart(7)).join('')}`,
    );
    for (const k of kinds) {
      console.log(`  ${k.padEnd(54)}${runs.map((r) => String(r.kinds[k] ?? 0).padStart(7)).join('')}`);
    }
    const ro = runs[1]!;
    console.log(
      `\nscaling (run 2, read-only): ${ro.total} requests for ${NAMESPACES} namespaces, ${NODES} nodes, ${pods} pods, ${pvcs} PVCs` +
        ` — get nodes/proxy ${ro.kinds['get nodes/proxy'] ?? 0} (one per node), lists ${Object.entries(ro.kinds)
          .filter(([k]) => k.startsWith('list '))
          .map(([, v]) => v)
          .reduce(
            (a, b) => a + b,
            0,
          )} (one per kind), access reviews ${ro.kinds['create selfsubjectaccessreviews.authorization.k8s.io'] ?? 0} (per rule and namespace)`,
    );
    const st = runs[0]!;
    const perPod = Object.entries(st.kinds)
      .filter(([k]) => k.endsWith('pods/proxy') || k.endsWith('pods/portforward') || k.endsWith('pods/exec'))
      .reduce((a, [, v]) => a + v, 0);
    console.log(
      `scaling (run 1, every permission): ${st.total} requests, of which ${perPod} per pod (pod proxy, its port-forward fallback and exec are per-instance sources: ${(perPod / pods).toFixed(2)} per pod), ${st.total - perPod} for lists, access reviews and node summaries; per PVC: 0`,
    );
    const mean = cold.reduce((a, b) => a + b, 0) / cold.length;
    console.log(
      `\ncold start: node bin/run.js --help, mean ${fmt(mean)} over ${cold.length} runs (min ${fmt(Math.min(...cold))}, max ${fmt(Math.max(...cold))})`,
    );
    console.log(
      `total benchmark time ${fmt(performance.now() - tStart)}; load now ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );

    // Meaningless figures are a failure of the benchmark, not a speed judgement.
    let bad = false;
    for (const r of runs) {
      if (![0, 1, 2].includes(r.code)) {
        console.error(`\n${r.label}: exit ${r.code}\n${r.stderr.slice(0, 2000)}`);
        bad = true;
        continue;
      }
      if (!r.label.startsWith('disk status -A')) continue;
      const doc = JSON.parse(r.stdout) as {
        summary?: { clusters?: number; volumes?: number };
        clusters?: { volumes?: { filesystem?: unknown }[] }[];
      };
      const measured = (doc.clusters ?? []).flatMap((c) => c.volumes ?? []).filter((v) => v.filesystem).length;
      if (doc.summary?.clusters !== CLUSTERS || doc.summary.volumes !== pvcs || measured !== pvcs) {
        console.error(
          `${r.label}: expected ${CLUSTERS} clusters and ${pvcs} measured volumes, got ${JSON.stringify(doc.summary)}, ${measured} measured`,
        );
        bad = true;
      }
    }
    if (bad) process.exitCode = 1;
  } finally {
    await seed?.close();
    await Promise.all([api?.stop(), net?.close()]);
  }
}

await main();
