// disk resize against a REAL kube-apiserver + etcd (test/infra): the one PVC
// write (request + ledger + resourceVersion precondition), 409 retries from a
// fresh read, two CLI processes racing, --update-spec, --wait, --events, the
// API server's own admission refusing a non-expandable class, and the audit
// log proving that a preview writes nothing.
//
// Real: kube-apiserver and etcd, their validation, admission
// (PersistentVolumeClaimResize), optimistic concurrency (409), RBAC, audit
// log, the node proxy; the filesystems (tmpfs mounts made here, measured with
// statfs, grown online with `mount -o remount,size=`); the CLI (in-process
// run functions, and the built `node bin/run.js` for the race).
// Simulated (nothing else can run here): the kubelet (a test host serving
// /stats/summary with the statfs numbers of the tmpfs mounts, reached through
// the API server's node proxy), and the storage driver / resize controller
// (the test writes the PVC status conditions and capacity a real resizer
// would write). Needs root (mounts, network namespace) and the binaries from
// test/infra/build-k8s.sh; `npm test` builds dist/ before vitest runs.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { LEDGER_ANNOTATION, MiB, parseLedger, serializeLedger } from '@cnpg-disk/core';
import { startApiServer, type ApiResponse, type ApiServerHandle, type AuditEvent } from '../infra/apiserver.js';
import { addSimulatedNode, ensureNamespace } from '../infra/simulated.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { runDiskResize } from '../../src/app/disk-resize.js';
import { applyResize } from '../../src/actions/resize-apply.js';
import { buildPlan, type DiskResizeOptions } from '../../src/actions/resize-plan.js';
import { evaluateCluster } from '../../src/analysis/evaluate.js';
import { gatherSnapshot } from '../../src/app/gather.js';
import type { Deps } from '../../src/cli/deps.js';
import { bufferIO } from '../../src/cli/io.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const POLICY_ANNOTATION = 'disk.cnpg-plugin.dev/resize-policy';
const MUTATING = ['create', 'update', 'patch', 'delete', 'deletecollection'];
/** Every volume here is a 32 MiB tmpfs holding a 28 MiB file: 87.5% used, above the default 80%. */
const SIZE_MIB = 32;
const USED_MIB = 28;
/** 32Mi + the default minStep 2Gi. */
const GROWN = `${SIZE_MIB + 2048}Mi`;
const GROWN_BYTES = BigInt(SIZE_MIB + 2048) * MiB;

let api: ApiServerHandle;
let network: TestNetwork;
const mountRoot = mkdtempSync(join(tmpdir(), 'cnpg-disk-resize-mounts-'));
const mounts: string[] = [];

// ------------------------------------------------------------- simulated kubelet

interface Vol {
  namespace: string;
  pod: string;
  pvc: string;
  dir: string;
}
const volumes: Vol[] = [];
/** When set, summary requests wait until `count` of them have arrived (both racers have read the PVC). */
let barrier: { count: number; waiting: (() => void)[]; timer?: NodeJS.Timeout } | undefined;

function summary(): unknown {
  const pods = new Map<string, { podRef: { name: string; namespace: string }; volume: unknown[] }>();
  for (const v of volumes) {
    const key = `${v.namespace}/${v.pod}`;
    if (!pods.has(key)) pods.set(key, { podRef: { name: v.pod, namespace: v.namespace }, volume: [] });
    // Real statfs of the mounted tmpfs, as a kubelet reports it.
    const s = statfsSync(v.dir, { bigint: true });
    pods.get(key)?.volume.push({
      time: new Date().toISOString(),
      name: v.pvc,
      pvcRef: { name: v.pvc, namespace: v.namespace },
      capacityBytes: Number(s.blocks * s.bsize),
      availableBytes: Number(s.bavail * s.bsize),
      usedBytes: Number((s.blocks - s.bfree) * s.bsize),
      inodes: Number(s.files),
      inodesFree: Number(s.ffree),
      inodesUsed: Number(s.files - s.ffree),
    });
  }
  return { node: { nodeName: 'node-1' }, pods: [...pods.values()] };
}

function kubelet(req: IncomingMessage, res: ServerResponse): void {
  if (!req.url?.startsWith('/stats/summary')) {
    res.writeHead(404).end();
    return;
  }
  const send = () => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(summary()));
  const b = barrier;
  if (!b) return send();
  b.waiting.push(send);
  const release = () => {
    clearTimeout(b.timer);
    for (const w of b.waiting.splice(0)) w();
  };
  if (b.waiting.length >= b.count) release();
  else b.timer ??= setTimeout(release, 30_000);
}

// ------------------------------------------------------------- seeding

async function must(p: Promise<ApiResponse>, ok: number[], what: string): Promise<ApiResponse> {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return r;
}

function mountTmpfs(name: string, usedMiB = USED_MIB): string {
  const dir = join(mountRoot, name);
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MIB}M`, 'tmpfs', dir]);
  mounts.push(dir);
  writeFileSync(join(dir, 'filler'), Buffer.alloc(usedMiB * 1024 * 1024, 1));
  return dir;
}

interface SeedVolume {
  role: 'PG_DATA' | 'PG_WAL' | 'PG_TABLESPACE';
  tablespace?: string;
  storageClass?: string;
  instance?: string;
}

interface Seeded {
  ns: string;
  name: string;
  pvcs: Map<string, { dir: string }>;
}

/** A CNPG Cluster, its instance pods (Running on node-1) and PVCs (Bound), each PVC backed by a tmpfs. */
async function seed(
  ns: string,
  name: string,
  opts: { policy: string; walStorage?: boolean; tablespaces?: string[]; vols: SeedVolume[] },
): Promise<Seeded> {
  await ensureNamespace(api, ns);
  await must(
    api.request('POST', `/apis/postgresql.cnpg.io/v1/namespaces/${ns}/clusters`, {
      body: {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Cluster',
        metadata: { name, namespace: ns, annotations: { [POLICY_ANNOTATION]: opts.policy } },
        spec: {
          instances: 1,
          storage: { size: `${SIZE_MIB}Mi`, storageClass: 'expandable' },
          ...(opts.walStorage ? { walStorage: { size: `${SIZE_MIB}Mi`, storageClass: 'expandable' } } : {}),
          ...(opts.tablespaces
            ? { tablespaces: opts.tablespaces.map((t) => ({ name: t, storage: { size: `${SIZE_MIB}Mi` } })) }
            : {}),
        },
      },
    }),
    [201],
    `create cluster ${ns}/${name}`,
  );
  const pvcs = new Map<string, { dir: string }>();
  const instances = [...new Set(opts.vols.map((v) => v.instance ?? `${name}-1`))];
  for (const pod of instances) {
    await must(
      api.request('POST', `/api/v1/namespaces/${ns}/pods`, {
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: pod,
            labels: { 'cnpg.io/cluster': name, 'cnpg.io/instanceName': pod, 'cnpg.io/podRole': 'instance' },
          },
          spec: { nodeName: 'node-1', containers: [{ name: 'postgres', image: 'simulated.invalid/postgres:15' }] },
        },
      }),
      [201],
      `create pod ${pod}`,
    );
    await must(
      api.request('PATCH', `/api/v1/namespaces/${ns}/pods/${pod}/status`, {
        contentType: 'application/merge-patch+json',
        body: { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
      }),
      [200],
      `status of pod ${pod}`,
    );
  }
  for (const v of opts.vols) {
    const instance = v.instance ?? `${name}-1`;
    const pvc =
      v.role === 'PG_DATA' ? instance : v.role === 'PG_WAL' ? `${instance}-wal` : `${instance}-tbs-${v.tablespace}`;
    await must(
      api.request('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: {
            name: pvc,
            labels: {
              'cnpg.io/cluster': name,
              'cnpg.io/instanceName': instance,
              'cnpg.io/pvcRole': v.role,
              ...(v.tablespace ? { 'cnpg.io/tablespaceName': v.tablespace } : {}),
            },
          },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: v.storageClass ?? 'expandable',
            resources: { requests: { storage: `${SIZE_MIB}Mi` } },
          },
        },
      }),
      [201],
      `create pvc ${pvc}`,
    );
    await setPvcStatus(ns, pvc, { phase: 'Bound', capacity: { storage: `${SIZE_MIB}Mi` } });
    const dir = mountTmpfs(`${ns}-${pvc}`);
    volumes.push({ namespace: ns, pod: instance, pvc, dir });
    pvcs.set(pvc, { dir });
  }
  return { ns, name, pvcs };
}

async function setPvcStatus(ns: string, pvc: string, status: Record<string, unknown>): Promise<void> {
  await must(
    api.request('PATCH', `/api/v1/namespaces/${ns}/persistentvolumeclaims/${pvc}/status`, {
      contentType: 'application/merge-patch+json',
      body: { status },
    }),
    [200],
    `status of pvc ${pvc}`,
  );
}

interface PvcJson {
  metadata: { resourceVersion: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: { resources: { requests: { storage: string } } };
  status: { capacity?: { storage: string } };
}

async function readPvc(ns: string, pvc: string): Promise<PvcJson> {
  return (
    await must(api.request('GET', `/api/v1/namespaces/${ns}/persistentvolumeclaims/${pvc}`), [200], 'get')
  ).json<PvcJson>();
}

// ------------------------------------------------------------- running the CLI

async function depsFor(
  user: string,
  ioOpts: Parameters<typeof bufferIO>[0] = {},
): Promise<{ deps: Deps; io: ReturnType<typeof bufferIO>; client: KubeClient }> {
  const kubeconfig = await api.kubeconfigFor(user, ['system:masters']);
  const client = new KubeClient(loadKubeConfig({ kubeconfig }), 30_000);
  const io = bufferIO(ioOpts);
  return { deps: { io, now: () => new Date(), kube: () => client }, io, client };
}

function options(s: Seeded, o: Partial<DiskResizeOptions> = {}): DiskResizeOptions {
  return {
    cluster: s.name,
    namespace: s.ns,
    source: 'kubelet-summary',
    concurrency: 4,
    output: 'table',
    verbose: false,
    apply: false,
    yes: false,
    updateSpec: false,
    wait: false,
    waitTimeoutMs: 60_000,
    pollIntervalMs: 100,
    events: false,
    forceUnknownStorageClass: false,
    ...o,
  };
}

async function auditOf(user: string): Promise<AuditEvent[]> {
  return (await api.readAudit()).filter((e) => e.user.username === user);
}

function writes(events: AuditEvent[]): AuditEvent[] {
  return events.filter((e) => MUTATING.includes(e.verb) && e.objectRef?.resource !== 'selfsubjectaccessreviews');
}

function ledgerOf(p: PvcJson) {
  return parseLedger(p.metadata.annotations?.[LEDGER_ANNOTATION]);
}

// ------------------------------------------------------------- lifecycle

beforeAll(async () => {
  await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (network = n))]);
  await addSimulatedNode(api, network, { name: 'node-1', handler: kubelet });
  for (const [name, expand] of [
    ['expandable', true],
    ['fixed', undefined],
  ] as const) {
    await must(
      api.request('POST', '/apis/storage.k8s.io/v1/storageclasses', {
        body: {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'StorageClass',
          metadata: { name },
          provisioner: 'csi.simulated.invalid',
          ...(expand !== undefined ? { allowVolumeExpansion: expand } : {}),
        },
      }),
      [201],
      `storage class ${name}`,
    );
  }
}, 240_000);

afterAll(async () => {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // already gone
    }
  }
  rmSync(mountRoot, { recursive: true, force: true });
  await Promise.all([api?.stop(), network?.close()]);
}, 60_000);

const WAL_POLICY = `
storage: { resize: { enabled: true } }
walStorage: { resize: { enabled: true } }
`;
const SINGLE_POLICY = `
storage: { resize: { enabled: true, strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } } } }
`;

// ------------------------------------------------------------- tests

describe('disk resize against a real API server', () => {
  it('a preview measures through the node proxy and writes nothing (client log and audit log)', async () => {
    const s = await seed('preview', 'pg', {
      policy: WAL_POLICY,
      walStorage: true,
      vols: [{ role: 'PG_DATA' }, { role: 'PG_WAL', storageClass: 'fixed' }],
    });
    const { deps, io, client } = await depsFor('previewer');
    const code = await runDiskResize(options(s), deps);
    const out = io.out.join('');
    expect(out).toMatch(
      new RegExp(`pg-1\\s+data\\s+32Mi\\s+${GROWN}\\s+2Gi\\s+resize\\s+8\\d(\\.\\d+)?% used is above 80%`),
    );
    expect(out).toMatch(/pg-1\s+wal\s+32Mi\s+2080Mi\s+2Gi\s+refused\s+storage class fixed/);
    expect(code).toBe(2); // a refusal is critical
    expect(io.err.join('')).toMatch(/sources: kubelet-summary/);
    expect(client.mutatingRequests).toEqual([]);
    const audit = await auditOf('previewer');
    expect(audit.some((e) => e.objectRef?.subresource === 'proxy' && e.objectRef.resource === 'nodes')).toBe(true);
    expect(writes(audit)).toEqual([]);
    expect((await readPvc(s.ns, 'pg-1')).spec.resources.requests.storage).toBe(`${SIZE_MIB}Mi`);
  });

  it('--apply: one PATCH sets the request and the ledger entry together; the next run sees the expansion in progress', async () => {
    const s = await seed('apply', 'pg', {
      policy: WAL_POLICY,
      walStorage: true,
      vols: [{ role: 'PG_DATA' }, { role: 'PG_WAL' }],
    });
    const before = await readPvc(s.ns, 'pg-1');
    const { deps, io, client } = await depsFor('applier');
    const code = await runDiskResize(options(s, { apply: true, yes: true, volume: 'data' }), deps);
    expect(io.err.join('')).toMatch(/resized pg-1 \(data\): resized 32Mi → 2080Mi/);
    expect(code).toBe(0);
    const after = await readPvc(s.ns, 'pg-1');
    expect(after.spec.resources.requests.storage).toBe(GROWN);
    const ledger = ledgerOf(after);
    expect(ledger.corrupt).toBeUndefined();
    expect(ledger.entries).toHaveLength(1);
    expect(ledger.entries[0]).toMatchObject({ fromBytes: BigInt(SIZE_MIB) * MiB, toBytes: GROWN_BYTES, by: 'engine' });
    expect(after.metadata.annotations?.[LEDGER_ANNOTATION]).toMatch(
      /^\{"v":1,"entries":\[\{"at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","from":"32Mi","to":"2080Mi","by":"engine"\}\]\}$/,
    );
    // The WAL PVC was filtered out and untouched.
    expect((await readPvc(s.ns, 'pg-1-wal')).spec.resources.requests.storage).toBe(`${SIZE_MIB}Mi`);
    // Exactly one write, a patch of that PVC, accepted.
    const w = writes(await auditOf('applier'));
    expect(w.map((e) => [e.verb, e.objectRef?.resource, e.objectRef?.name, e.responseStatus?.code])).toEqual([
      ['patch', 'persistentvolumeclaims', 'pg-1', 200],
    ]);
    expect(client.mutatingRequests).toHaveLength(1);
    expect(before.metadata.resourceVersion).not.toBe(after.metadata.resourceVersion);

    // A second run: request above capacity means an expansion is in progress, never a second resize.
    const second = await depsFor('applier-2');
    const code2 = await runDiskResize(options(s, { apply: true, yes: true, volume: 'data' }), second.deps);
    expect(code2).toBe(1);
    expect(second.io.err.join('')).toMatch(/nothing to apply/);
    expect(second.io.out.join('')).toMatch(
      /resize-in-progress\s+an expansion has not finished: request 2080Mi is above capacity 32Mi/,
    );
    expect(writes(await auditOf('applier-2'))).toEqual([]);
    expect(ledgerOf(await readPvc(s.ns, 'pg-1')).entries).toHaveLength(1);
  });

  it('on a terminal it asks first: "no" changes nothing (exit 1), "yes" applies', async () => {
    const s = await seed('confirm', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA' }] });
    const no = await depsFor('confirm-no', { isStdinTTY: true, answers: [false] });
    expect(await runDiskResize(options(s, { apply: true }), no.deps)).toBe(1);
    expect(no.io.out.join('')).toMatch(/resize\s+8\d(\.\d+)?% used[^\n]*\n/); // the plan was shown before the question
    expect(no.io.err.join('')).toMatch(/not confirmed: nothing changed/);
    expect(writes(await auditOf('confirm-no'))).toEqual([]);
    const yes = await depsFor('confirm-yes', { isStdinTTY: true, answers: [true] });
    expect(await runDiskResize(options(s, { apply: true }), yes.deps)).toBe(0);
    expect((await readPvc(s.ns, 'pg-1')).spec.resources.requests.storage).toBe(GROWN);
  });

  it('409: a plan made on a stale read is decided again from the fresh PVC (ledger included)', async () => {
    const s = await seed('conflict', 'pg', {
      policy: `storage: { resize: { enabled: true, strategy: { maxActionsPerDay: 2 } } }\nwalStorage: { resize: { enabled: true } }`,
      walStorage: true,
      vols: [{ role: 'PG_DATA' }, { role: 'PG_WAL' }],
    });
    const { deps, client } = await depsFor('conflicted');
    const plan = async () => {
      const snap = await gatherSnapshot(
        {
          namespace: s.ns,
          allNamespaces: false,
          cluster: s.name,
          source: 'kubelet-summary',
          concurrency: 2,
          measure: true,
        },
        deps,
      );
      const cs = snap.clusters[0]!;
      const report = evaluateCluster(cs, snap.storageClasses, { now: Date.now() });
      const p = buildPlan(snap, cs, report, { volume: 'data', forceUnknownStorageClass: false });
      return { p, report, snap };
    };
    const ctx = (report: ReturnType<typeof evaluateCluster>, snap: Awaited<ReturnType<typeof gatherSnapshot>>) => ({
      client,
      now: () => new Date(),
      storageClasses: snap.storageClasses,
      report,
      forceUnknownStorageClass: false,
      maxAttempts: 5,
    });

    // (a) Someone else changes an unrelated label after our read: the decision is the same, the retry lands.
    const a = await plan();
    expect(a.p.items[0]!.action).toBe('resize');
    await must(
      api.request('PATCH', `/api/v1/namespaces/${s.ns}/persistentvolumeclaims/pg-1-wal`, {
        contentType: 'application/merge-patch+json',
        body: { metadata: { labels: { touched: 'yes' } } },
      }),
      [200],
      'touch wal',
    );
    const walItem = buildPlan(a.snap, a.snap.clusters[0]!, a.report, { volume: 'wal', forceUnknownStorageClass: false })
      .items[0]!;
    const r1 = await applyResize(walItem, ctx(a.report, a.snap));
    expect(r1).toMatchObject({ status: 'applied', attempts: 2, conflicts: 1 });
    expect((await readPvc(s.ns, 'pg-1-wal')).metadata.labels?.['touched']).toBe('yes');

    // (b) Another writer spends the whole budget in the ledger after our read: 409, re-read, blocked.
    const b = await plan();
    const other = serializeLedger({
      entries: [1, 2].map((h) => ({
        at: new Date(Date.now() - h * 3_600_000).toISOString(),
        fromBytes: 16n * MiB,
        toBytes: 32n * MiB,
        by: 'engine' as const,
      })),
    });
    await must(
      api.request('PATCH', `/api/v1/namespaces/${s.ns}/persistentvolumeclaims/pg-1`, {
        contentType: 'application/merge-patch+json',
        body: { metadata: { annotations: { [LEDGER_ANNOTATION]: other } } },
      }),
      [200],
      'spend budget',
    );
    const r2 = await applyResize(b.p.items[0]!, ctx(b.report, b.snap));
    expect(r2.status).toBe('not-applied');
    expect(r2.conflicts).toBe(1);
    expect(r2.freshDecision).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
    expect(r2.message).toMatch(/changed while this run was deciding.*blocked: rate limit: 2 of 2 resizes used/);
    const pvc = await readPvc(s.ns, 'pg-1');
    expect(pvc.spec.resources.requests.storage).toBe(`${SIZE_MIB}Mi`);
    expect(pvc.metadata.annotations?.[LEDGER_ANNOTATION]).toBe(other);

    const codes = writes(await auditOf('conflicted')).map((e) => [e.objectRef?.name, e.responseStatus?.code]);
    expect(codes).toEqual([
      ['pg-1-wal', 409],
      ['pg-1-wal', 200],
      ['pg-1', 409],
    ]);
  });

  it('two `disk resize --apply` processes racing on one PVC: one resize, one budget slot, one 409', async () => {
    expect(existsSync(join(ROOT, 'dist/commands/disk/resize.js')), 'run `npm run build` first').toBe(true);
    const s = await seed('race', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA' }] });
    const run = async (user: string) => {
      const kubeconfig = await api.kubeconfigFor(user, ['system:masters']);
      return cli(
        ['disk', 'resize', s.name, '-n', s.ns, '--source', 'kubelet-summary', '--apply', '--yes', '-o', 'json'],
        { kubeconfig, env: { CI: 'true', NO_COLOR: '1' } },
      );
    };
    // The simulated kubelet answers only when both processes have asked: both have listed the PVC
    // (same resourceVersion) before either can write.
    barrier = { count: 2, waiting: [] };
    let results: Awaited<ReturnType<typeof run>>[];
    try {
      results = await Promise.all([run('racer-a'), run('racer-b')]);
    } finally {
      barrier = undefined;
    }
    const docs = results.map(
      (r) => JSON.parse(r.stdout) as { volumes: { result?: { status: string; message: string } }[] },
    );
    const statuses = docs.map((d) => d.volumes[0]?.result?.status).sort();
    expect(statuses, results.map((r) => r.stderr).join('\n')).toEqual(['applied', 'not-applied']);
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    const loser = docs.find((d) => d.volumes[0]?.result?.status === 'not-applied')!;
    expect(loser.volumes[0]!.result!.message).toMatch(/changed while this run was deciding.*resize-in-progress/);
    // the winner's entry is rounded up to the second: that is our own rounding, not clock skew
    expect(results.map((r) => r.stdout + r.stderr).join('\n')).not.toMatch(/clock skew/);

    const pvc = await readPvc(s.ns, 'pg-1');
    expect(pvc.spec.resources.requests.storage).toBe(GROWN); // grown once, not twice
    expect(ledgerOf(pvc).entries).toHaveLength(1); // one budget slot
    const patches = [...(await auditOf('racer-a')), ...(await auditOf('racer-b'))]
      .filter((e) => e.verb === 'patch' && e.objectRef?.name === 'pg-1')
      .map((e) => e.responseStatus?.code)
      .sort();
    expect(patches).toEqual([200, 409]);
  }, 120_000);

  it('--rescue: the WAL volume of an instance down on exit code 4 grows one step under the default (disabled) policy', async () => {
    // The data volume's policy is off and the WAL volume has none (defaults: disabled).
    const s = await seed('rescue', 'pg', {
      policy: 'storage: { resize: { enabled: false } }\n',
      walStorage: true,
      vols: [{ role: 'PG_DATA' }, { role: 'PG_WAL' }],
    });
    // postgres exited with code 4 (CloudNativePG: no room for one more WAL segment) and crash-loops.
    await must(
      api.request('PATCH', `/api/v1/namespaces/${s.ns}/pods/pg-1/status`, {
        contentType: 'application/merge-patch+json',
        body: {
          status: {
            phase: 'Running',
            conditions: [{ type: 'Ready', status: 'False' }],
            containerStatuses: [
              {
                name: 'postgres',
                image: 'simulated.invalid/postgres:15',
                imageID: '',
                ready: false,
                restartCount: 3,
                state: { waiting: { reason: 'CrashLoopBackOff' } },
                lastState: {
                  terminated: { exitCode: 4, reason: 'Error', finishedAt: new Date().toISOString() },
                },
              },
            ],
          },
        },
      }),
      [200],
      'pod pg-1 down on exit 4',
    );
    // The finding's hint names exactly the command that works.
    const d = await depsFor('rescue-diagnose');
    const snap = await gatherSnapshot({ ...options(s), allNamespaces: false, measure: true }, d.deps);
    const report = evaluateCluster(snap.clusters[0]!, snap.storageClasses, { now: Date.now() });
    const hint = report.findings.find((f) => f.code === 'WAL_DISK_FULL_EXIT')?.command;
    expect(hint).toBe('kubectl cnpg disk resize pg -n rescue --instance pg-1 --volume wal --rescue --apply');

    // Without --rescue, the default policy answers "disabled" and nothing is written.
    const plain = await depsFor('rescue-plain');
    expect(
      await runDiskResize(options(s, { instance: 'pg-1', volume: 'wal', apply: true, yes: true }), plain.deps),
    ).toBe(0);
    expect(plain.io.out.join('')).toMatch(/disabled/);
    expect(writes(await auditOf('rescue-plain'))).toEqual([]);

    // --rescue on a volume that is not the one holding pg_wal of a down instance: usage error, nothing written.
    const wrong = await depsFor('rescue-wrong');
    await expect(
      runDiskResize(options(s, { instance: 'pg-1', volume: 'data', apply: true, yes: true, rescue: true }), wrong.deps),
    ).rejects.toMatchObject({ exitCode: 64, suggestions: ['down on exit code 4: pg-1 (wal)'] });
    expect(writes(await auditOf('rescue-wrong'))).toEqual([]);

    // The budget (ledger) still applies: one engine resize an hour ago, and
    // maxActionsPerDay 1 in a --policy file (policy still disabled): held, nothing written.
    await must(
      api.request('PATCH', `/api/v1/namespaces/${s.ns}/persistentvolumeclaims/pg-1-wal`, {
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            annotations: {
              [LEDGER_ANNOTATION]: serializeLedger({
                entries: [
                  {
                    at: new Date(Date.now() - 3_600_000).toISOString(),
                    fromBytes: 16n * MiB,
                    toBytes: BigInt(SIZE_MIB) * MiB,
                    by: 'engine',
                  },
                ],
              }),
            },
          },
        },
      }),
      [200],
      'ledger of pg-1-wal',
    );
    const held = await depsFor('rescue-held');
    const heldCode = await runDiskResize(
      options(s, {
        instance: 'pg-1',
        volume: 'wal',
        rescue: true,
        apply: true,
        yes: true,
        policyFile: { walStorage: { resize: { enabled: false, strategy: { maxActionsPerDay: 1 } } } },
      }),
      held.deps,
    );
    expect(held.io.out.join(''), held.io.err.join('')).toMatch(/blocked\/rate-limit/);
    expect(heldCode).toBe(1);
    expect(writes(await auditOf('rescue-held'))).toEqual([]);

    // The hint's command (as the built CLI): one guarded PATCH, one step (default minStep 2Gi), one ledger entry.
    const kubeconfig = await api.kubeconfigFor('rescue-cli', ['system:masters']);
    const r = await cli(
      ['disk', 'resize', 'pg', '-n', s.ns, '--instance', 'pg-1', '--volume', 'wal', '--rescue', '--apply', '--yes'],
      { kubeconfig, env: { CI: 'true' } },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const pvc = await readPvc(s.ns, 'pg-1-wal');
    expect(pvc.spec.resources.requests.storage).toBe(GROWN);
    expect(ledgerOf(pvc).entries).toHaveLength(2); // the earlier entry and this one (default budget 3)
    expect((await readPvc(s.ns, 'pg-1')).spec.resources.requests.storage).toBe(`${SIZE_MIB}Mi`);
    const patches = writes(await auditOf('rescue-cli'));
    expect(patches.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`)).toEqual([
      'patch persistentvolumeclaims/pg-1-wal',
    ]);
  }, 120_000);

  it('--update-spec raises the Cluster sizes (tablespace list kept whole) and warns about GitOps drift', async () => {
    const s = await seed('spec', 'pg', {
      policy: `${WAL_POLICY}tablespaces: { idx: { resize: { enabled: true } }, big: { resize: { enabled: false } } }\n`,
      walStorage: true,
      tablespaces: ['big', 'idx'],
      vols: [
        { role: 'PG_DATA' },
        { role: 'PG_WAL' },
        { role: 'PG_TABLESPACE', tablespace: 'idx' },
        { role: 'PG_TABLESPACE', tablespace: 'big' },
      ],
    });
    const { deps, io } = await depsFor('spec-updater');
    const code = await runDiskResize(options(s, { apply: true, yes: true, updateSpec: true, instance: 'pg-1' }), deps);
    expect(code).toBe(0);
    const err = io.err.join('');
    expect(err).toMatch(/spec: updated: spec\.storage\.size 32Mi → 2080Mi/);
    expect(err).toMatch(/spec: updated: spec\.walStorage\.size 32Mi → 2080Mi/);
    expect(err).toMatch(/spec: updated: spec\.tablespaces\[1\]\.storage\.size 32Mi → 2080Mi/);
    expect(err).toMatch(/GitOps.*update its manifest in Git too/);
    const c = (
      await must(
        api.request('GET', `/apis/postgresql.cnpg.io/v1/namespaces/${s.ns}/clusters/${s.name}`),
        [200],
        'cluster',
      )
    ).json<{
      spec: {
        storage: { size: string };
        walStorage: { size: string };
        tablespaces: { name: string; storage: { size: string } }[];
      };
    }>();
    expect(c.spec.storage.size).toBe(GROWN);
    expect(c.spec.walStorage.size).toBe(GROWN);
    expect(c.spec.tablespaces.map((t) => [t.name, t.storage.size])).toEqual([
      ['big', '32Mi'],
      ['idx', GROWN],
    ]);
    const w = writes(await auditOf('spec-updater')).map(
      (e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name} ${e.responseStatus?.code}`,
    );
    expect(w).toEqual([
      'patch persistentvolumeclaims/pg-1 200',
      'patch persistentvolumeclaims/pg-1-wal 200',
      'patch persistentvolumeclaims/pg-1-tbs-idx 200',
      'patch clusters/pg 200',
    ]);
  });

  it('without --update-spec it only hints that the spec is now below the PVC', async () => {
    const s = await seed('hint', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA' }] });
    const { deps, io } = await depsFor('hinted');
    expect(await runDiskResize(options(s, { apply: true, yes: true }), deps)).toBe(0);
    expect(io.err.join('')).toMatch(
      /hint: spec\.storage\.size is still 32Mi, below the PVC size 2080Mi.*--update-spec/,
    );
    expect(writes(await auditOf('hinted')).map((e) => e.objectRef?.resource)).toEqual(['persistentvolumeclaims']);
  });

  it('--force-unknown-storage-class: the API server admission still refuses a class that cannot expand', async () => {
    const s = await seed('ghost', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA', storageClass: 'ghost' }] });
    const refused = await depsFor('ghost-1');
    expect(await runDiskResize(options(s, { apply: true, yes: true }), refused.deps)).toBe(2);
    expect(refused.io.out.join('')).toMatch(/refused\s+storage class ghost of pg-1 could not be read/);
    expect(writes(await auditOf('ghost-1'))).toEqual([]);

    const forced = await depsFor('ghost-2');
    const code = await runDiskResize(
      options(s, { apply: true, yes: true, forceUnknownStorageClass: true }),
      forced.deps,
    );
    expect(code).toBe(2);
    expect(forced.io.err.join('')).toMatch(
      /failed pg-1 \(data\): the API server refused the patch \(403: .*storageclass that provisions the pvc must support resize/,
    );
    expect((await readPvc(s.ns, 'pg-1')).spec.resources.requests.storage).toBe(`${SIZE_MIB}Mi`);
  });

  it('--wait follows the expansion to the filesystem (simulated resizer, real tmpfs grown online)', async () => {
    const s = await seed('wait', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA' }] });
    const dir = s.pvcs.get('pg-1')!.dir;
    // The simulated resize controller and kubelet: what a CSI resizer and the node would do.
    const resizer = (async () => {
      for (let i = 0; i < 200 && (await readPvc(s.ns, 'pg-1')).spec.resources.requests.storage !== GROWN; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await setPvcStatus(s.ns, 'pg-1', { conditions: [{ type: 'Resizing', status: 'True' }] });
      await new Promise((r) => setTimeout(r, 400));
      await setPvcStatus(s.ns, 'pg-1', {
        conditions: [
          { type: 'FileSystemResizePending', status: 'True', message: 'Waiting for user to (re-)start a pod' },
        ],
      });
      await new Promise((r) => setTimeout(r, 400));
      execFileSync('mount', ['-o', `remount,size=${SIZE_MIB + 2048}M`, dir]);
      await setPvcStatus(s.ns, 'pg-1', { conditions: null, capacity: { storage: GROWN } });
    })();
    const { deps, io } = await depsFor('waiter');
    const code = await runDiskResize(options(s, { apply: true, yes: true, wait: true, output: 'json' }), deps);
    await resizer;
    const err = io.err.join('');
    expect(err).toMatch(/wait: pg-1: .*Resizing/);
    expect(err).toMatch(/wait: pg-1: waiting for the node to grow the filesystem/);
    expect(err).toMatch(/wait: pg-1: done: filesystem 2080Mi/);
    const doc = JSON.parse(io.out.join('')) as { volumes: { wait: Record<string, unknown> }[] };
    expect(doc.volumes[0]!.wait).toMatchObject({
      status: 'done',
      filesystemVerified: true,
      capacityBytes: String(GROWN_BYTES),
      filesystemTotalBytes: String(GROWN_BYTES),
    });
    expect(code).toBe(0);
  }, 60_000);

  it('--wait reports a failed expansion with the driver message (exit 2) and a stuck one at the timeout (exit 3)', async () => {
    const s = await seed('waitfail', 'pg', {
      policy: WAL_POLICY,
      walStorage: true,
      vols: [{ role: 'PG_DATA' }, { role: 'PG_WAL' }],
    });
    const driver = 'rpc error: code = ResourceExhausted desc = volume quota exceeded in zone a';
    const failer = (async () => {
      for (let i = 0; i < 200 && (await readPvc(s.ns, 'pg-1')).spec.resources.requests.storage !== GROWN; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await must(
        api.request('POST', `/api/v1/namespaces/${s.ns}/events`, {
          body: {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name: 'pg-1.resize-failed' },
            involvedObject: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'pg-1', namespace: s.ns },
            type: 'Warning',
            reason: 'VolumeResizeFailed',
            message: `resize volume "pvc-1" by resizer "csi.simulated.invalid" failed: ${driver}`,
            source: { component: 'external-resizer csi.simulated.invalid' },
            firstTimestamp: new Date().toISOString(),
            lastTimestamp: new Date().toISOString(),
            count: 1,
          },
        }),
        [201],
        'event',
      );
      await setPvcStatus(s.ns, 'pg-1', {
        conditions: [{ type: 'ControllerResizeError', status: 'True', message: driver }],
      });
    })();
    const { deps, io } = await depsFor('wait-failer');
    const code = await runDiskResize(
      options(s, { apply: true, yes: true, wait: true, waitTimeoutMs: 4000, output: 'json' }),
      deps,
    );
    await failer;
    const doc = JSON.parse(io.out.join('')) as {
      volumes: { pvc: string; wait: { status: string; message: string } }[];
    };
    const data = doc.volumes.find((v) => v.pvc === 'pg-1')!;
    const walVol = doc.volumes.find((v) => v.pvc === 'pg-1-wal')!;
    expect(data.wait.status).toBe('failed');
    expect(data.wait.message).toContain(`ControllerResizeError: ${driver}`);
    expect(data.wait.message).toMatch(/last event VolumeResizeFailed: .*volume quota exceeded/);
    // Nobody expands the WAL volume: it times out.
    expect(walVol.wait.status).toBe('timeout');
    expect(walVol.wait.message).toMatch(/timed out after \d+ s: capacity 32Mi of 2080Mi/);
    expect(io.err.join('')).toMatch(/wait: pg-1: FAILED/);
    expect(code).toBe(2); // a failure outranks the timeout

    // Only a timeout: exit 3.
    const t = await seed('waitstuck', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA' }] });
    const stuck = await depsFor('wait-stuck');
    expect(
      await runDiskResize(options(t, { apply: true, yes: true, wait: true, waitTimeoutMs: 1000 }), stuck.deps),
    ).toBe(3);
    expect(stuck.io.out.join('')).toMatch(/applied \(wait: timeout\)/);
  }, 60_000);

  it('--events creates the events on the PVC, and does not announce the same condition twice', async () => {
    const s = await seed('events', 'pg', { policy: SINGLE_POLICY, vols: [{ role: 'PG_DATA' }] });
    const eventsOf = async () =>
      (
        await must(
          api.request('GET', `/api/v1/namespaces/${s.ns}/events?fieldSelector=involvedObject.name%3Dpg-1`),
          [200],
          'events',
        )
      )
        .json<{ items: { reason: string; type: string; message: string; source?: { component?: string } }[] }>()
        .items.map((e) => `${e.type} ${e.reason}`)
        .sort();
    const first = await depsFor('eventer');
    expect(await runDiskResize(options(s, { apply: true, yes: true, events: true }), first.deps)).toBe(0);
    expect(first.io.err.join('')).toMatch(
      /event: Normal AutoResizeSuccess events\/pg-1: pg-1 \(data\) resized 32Mi → 2080Mi/,
    );
    // Data on a single-volume cluster holds WAL: the WAL risk alert (alertOnResize defaults to true).
    expect(await eventsOf()).toEqual(['Normal AutoResizeSuccess', 'Warning AutoResizeWALRisk']);
    // Next passes: the expansion is in progress (request > capacity), announced once.
    for (const user of ['eventer-2', 'eventer-3']) {
      const again = await depsFor(user);
      expect(await runDiskResize(options(s, { apply: true, yes: true, events: true }), again.deps)).toBe(1);
    }
    expect(await eventsOf()).toEqual([
      'Normal AutoResizeInProgress',
      'Normal AutoResizeSuccess',
      'Warning AutoResizeWALRisk',
    ]);
    // Without --events nothing is created (least privilege), only printed.
    const quiet = await depsFor('eventer-quiet');
    await runDiskResize(options(s, { apply: true, yes: true }), quiet.deps);
    expect(quiet.io.err.join('')).toMatch(/event: Normal AutoResizeInProgress/);
    expect(writes(await auditOf('eventer-quiet'))).toEqual([]);
  });
});
