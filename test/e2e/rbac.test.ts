// Least privilege, for real: the CLI runs as users that hold only the RBAC
// rules a test grants them (client certificates minted by
// test/cluster/kubeconfig-for.sh, Roles and ClusterRoles made here). Auto mode
// must ask SelfSubjectAccessReview what it may do, use what works, and say
// which rule was missing (docs/sources.md); with nothing permitted it exits 3
// with one sentence and its hints, no stack trace (docs/cli.md). A resize
// --apply the API server refuses leaves the PVC untouched (docs/resize.md).
// Local cluster only: minting a user needs the cluster's CA key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SourceAttempt } from '../../src/model/snapshot.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, dfInPod, type DfRow } from './lib/cnpg.js';
import { Kube, exec, waitFor, type ExecResult } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const CLUSTER = 'pgrbac';
const POD = `${CLUSTER}-1`;

let ns = '';
let suffix = '';
let tmp = '';
/** Cluster-scoped objects this file made (deleted in afterAll). */
const clusterScoped: string[] = [];
/** Minted users' kubeconfig paths (their key and certificate sit beside them). */
const kubeconfigs = new Map<User, string>();
const clis = new Map<User, Cli>();

/**
 * Every user reads Clusters, pods, PVCs and events in the namespace and
 * storage classes cluster-wide; none holds pods/exec, pods/proxy,
 * pods/portforward or nodes/proxy unless named here.
 *   none:    nothing more
 *   kubelet: + get nodes/proxy
 *   exec:    + get, create pods/exec (the rules docs/sources.md names for the exec source:
 *            client-node's exec is a WebSocket GET, authorized as get up to
 *            Kubernetes 1.34; 1.35+ checks create as well)
 *   execcreate: + create pods/exec only (what SPDY clients used to need)
 * Nobody may patch anything.
 */
type User = 'none' | 'kubelet' | 'exec' | 'execcreate';
const USERS: readonly User[] = ['none', 'kubelet', 'exec', 'execcreate'];
const userName = (u: User) => `cnpg-e2e-rbac-${suffix}-${u}`;
const cliOf = (u: User) => clis.get(u) as Cli;

interface VolumeJson {
  instance: string;
  pvc: string;
  type: string;
  filesystem?: { totalBytes: string; usedBytes: string; source: string };
}
interface DiskStatusDoc {
  kind: string;
  sources: SourceAttempt[];
  clusters: { name: string; volumes: VolumeJson[] }[];
}
interface WalHealthDoc {
  kind: string;
  sources: SourceAttempt[];
  clusters: {
    name: string;
    instances: { pod: string; source?: string; verdict: string; walDirBytes?: string; slots?: unknown[] }[];
  }[];
}
interface ResizePlanDoc {
  kind: string;
  mode: string;
  summary: { exitCode: number };
  volumes: {
    pvc: string;
    type: string;
    action: string;
    resourceVersion?: string;
    decision?: { verdict: string; newBytes?: string };
    result?: { status: string; message: string; attempts: number };
  }[];
}
interface PvcJson {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  spec: { resources: { requests: { storage: string } } };
  status?: { capacity?: { storage?: string } };
}

function rbacManifest(): string {
  /** A Role (namespace given) or ClusterRole with these rules, bound to these users under the same name. */
  const grant = (name: string, namespace: string | undefined, rules: readonly string[], users: readonly User[]) => {
    const kind = namespace ? 'Role' : 'ClusterRole';
    const meta = namespace ? `{ name: ${name}, namespace: ${namespace} }` : `{ name: ${name} }`;
    return [
      'apiVersion: rbac.authorization.k8s.io/v1',
      `kind: ${kind}`,
      `metadata: ${meta}`,
      'rules:',
      ...rules.map((r) => `- ${r}`),
      '---',
      'apiVersion: rbac.authorization.k8s.io/v1',
      `kind: ${kind}Binding`,
      `metadata: ${meta}`,
      `roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ${kind}, name: ${name} }`,
      'subjects:',
      ...users.map((u) => `- { apiGroup: rbac.authorization.k8s.io, kind: User, name: ${userName(u)} }`),
    ].join('\n');
  };
  return [
    grant(
      'read',
      ns,
      [
        '{ apiGroups: [postgresql.cnpg.io], resources: [clusters], verbs: [get, list, watch] }',
        "{ apiGroups: [''], resources: [pods, persistentvolumeclaims, events], verbs: [get, list, watch] }",
      ],
      USERS,
    ),
    grant('exec', ns, ["{ apiGroups: [''], resources: [pods/exec], verbs: [get, create] }"], ['exec']),
    grant('execcreate', ns, ["{ apiGroups: [''], resources: [pods/exec], verbs: [create] }"], ['execcreate']),
    grant(
      clusterScoped[0] as string,
      undefined,
      ['{ apiGroups: [storage.k8s.io], resources: [storageclasses], verbs: [get, list, watch] }'],
      USERS,
    ),
    grant(
      clusterScoped[1] as string,
      undefined,
      ["{ apiGroups: [''], resources: [nodes/proxy], verbs: [get] }"],
      ['kubelet'],
    ),
  ].join('\n---\n');
}

/** `kubectl auth can-i` as the user: 'yes' or 'no'. */
async function canI(u: User, args: readonly string[]): Promise<string> {
  const r = await kube.run(['auth', 'can-i', ...args], { env: { KUBECONFIG: kubeconfigs.get(u) ?? '' } });
  return r.stdout.trim();
}

/** Not one line of a JavaScript stack trace, nor an internal error, on stderr. */
function expectNoStackTrace(r: ExecResult): void {
  expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.stderr).not.toMatch(/^[A-Za-z]*Error: /m);
  expect(r.stderr).not.toMatch(/internal error/i);
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Each distinct (source, permission) of the denied attempts, in the order reported. */
function denied(sources: readonly SourceAttempt[]): { source: string; permission: string | undefined }[] {
  const out: { source: string; permission: string | undefined }[] = [];
  for (const s of sources) {
    if (s.outcome !== 'denied') continue;
    if (!out.some((o) => o.source === s.source && o.permission === s.permission)) {
      out.push({ source: s.source, permission: s.permission });
    }
  }
  return out;
}

function used(sources: readonly SourceAttempt[]): string[] {
  return sources.filter((s) => s.outcome === 'used').map((s) => `${s.source}/${s.fact}`);
}

async function dfOf(v: VolumeJson): Promise<DfRow> {
  return dfInPod(kube, ns, v.instance, v.type === 'wal' ? MOUNTS.wal : MOUNTS.data);
}

/** Differences from df beyond 1 % of the filesystem size; empty when the CLI agrees. */
async function disagreements(volumes: readonly VolumeJson[]): Promise<string[]> {
  const out: string[] = [];
  for (const v of volumes) {
    const fs = v.filesystem;
    if (!fs) {
      out.push(`${v.pvc}: no filesystem facts`);
      continue;
    }
    const d = await dfOf(v);
    const dTotal = Math.abs(Number(fs.totalBytes) - d.size) / d.size;
    const dUsed = Math.abs(Number(fs.usedBytes) - d.used) / d.size;
    if (dTotal > 0.01 || dUsed > 0.01) {
      out.push(`${v.pvc}: total ${fs.totalBytes} vs df ${d.size}, used ${fs.usedBytes} vs df ${d.used}`);
    }
  }
  return out;
}

/**
 * disk status -o json as `u`, until its numbers agree with df (the two reads
 * are moments apart, and the kubelet refreshes its volume stats every 10 s).
 */
async function statusAgreeingWithDf(u: User): Promise<{ doc: DiskStatusDoc; code: number; stderr: string }> {
  let last: string[] = [];
  let doc: DiskStatusDoc | undefined;
  let r: ExecResult | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (attempt > 0) await new Promise((res) => setTimeout(res, kube.t(10_000)));
    r = await cliOf(u).run(['disk', 'status', '-n', ns, CLUSTER, '-o', 'json']);
    expect([0, 1, 2], `disk status as ${u}: exit ${r.code}: ${r.stderr}`).toContain(r.code);
    doc = JSON.parse(r.stdout) as DiskStatusDoc;
    expect(doc.kind).toBe('DiskStatus');
    const volumes = doc.clusters[0]?.volumes ?? [];
    expect(volumes.map((v) => v.type).sort()).toEqual(['data', 'wal']);
    last = await disagreements(volumes);
    if (last.length === 0) break;
  }
  expect(last).toEqual([]);
  return { doc: doc as DiskStatusDoc, code: (r as ExecResult).code, stderr: (r as ExecResult).stderr };
}

describe.runIf(cfg.local)('auto mode as users with missing permissions', () => {
  beforeAll(async () => {
    ns = await kube.createNamespace('rbac');
    suffix = ns.slice(-6);
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-rbac-'));
    clusterScoped.push(`cnpg-e2e-rbac-${suffix}-storageclasses`, `cnpg-e2e-rbac-${suffix}-nodes-proxy`);
    // The cluster starts while the users are minted; it is awaited below.
    const created = createCluster(kube, cfg, ns, { name: CLUSTER, instances: 1, dataSize: '256Mi', walSize: '256Mi' });
    created.catch(() => undefined); // awaited (and so reported) below
    for (const u of USERS) {
      const minted = await exec('bash', [join(cfg.repoDir, 'test/cluster/kubeconfig-for.sh'), userName(u)]);
      expect(minted.code, minted.stderr).toBe(0);
      kubeconfigs.set(u, minted.stdout.trim());
      clis.set(u, new Cli(cfg, minted.stdout.trim()));
    }
    await kube.apply(rbacManifest());
    // RBAC is in force once the API server's authorizer has seen the bindings.
    await waitFor('the RBAC of the test users in force', kube.t(60_000), async () => {
      const ok = await Promise.all([
        ...USERS.map(async (u) => (await canI(u, ['list', 'clusters.postgresql.cnpg.io', '-n', ns])) === 'yes'),
        ...USERS.map(async (u) => (await canI(u, ['list', 'storageclasses.storage.k8s.io'])) === 'yes'),
        canI('kubelet', ['get', 'nodes', '--subresource=proxy']).then((a) => a === 'yes'),
        canI('exec', ['get', 'pods', '--subresource=exec', '-n', ns]).then((a) => a === 'yes'),
        canI('execcreate', ['create', 'pods', '--subresource=exec', '-n', ns]).then((a) => a === 'yes'),
      ]);
      return ok.every(Boolean) ? true : undefined;
    });
    await created;
  });

  afterAll(async () => {
    for (const c of clis.values()) c.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (cfg.keepNamespaces) {
      console.error(`[e2e] keeping ${clusterScoped.join(', ')} and the users' kubeconfigs (CNPG_E2E_KEEP=1)`);
    } else {
      for (const name of clusterScoped) {
        await kube.run(['delete', 'clusterrolebinding,clusterrole', name, '--ignore-not-found']);
      }
      for (const [u, path] of kubeconfigs) {
        for (const ext of ['kubeconfig', 'key', 'crt'])
          rmSync(join(dirname(path), `${userName(u)}.${ext}`), { force: true });
      }
    }
    if (ns) await kube.deleteNamespace(ns);
  });

  it('with no source of facts permitted, disk status and wal health exit 3 naming each missing rule, no stack trace', async () => {
    // The users really lack every measuring permission (so the CLI's answer is about RBAC, not luck).
    for (const verb of ['get', 'create']) {
      for (const sub of ['exec', 'proxy', 'portforward']) {
        expect(await canI('none', [verb, 'pods', `--subresource=${sub}`, '-n', ns]), `${verb} pods/${sub}`).toBe('no');
      }
    }
    expect(await canI('none', ['get', 'nodes', '--subresource=proxy'])).toBe('no');

    const r = await cliOf('none').run(['disk', 'status', '-n', ns, CLUSTER, '-o', 'json']);
    expect(r.code, r.stderr).toBe(3);
    expectNoStackTrace(r);
    // No half document on stdout; one sentence and a hint per missing rule on stderr.
    expect(r.stdout.trim()).toBe('');
    expect(lines(r.stderr)).toEqual([
      'error: no source of filesystem facts is permitted, so no volume could be measured',
      `  hint: grant "get pods/proxy in namespace ${ns}" (enables pod-proxy)`,
      `  hint: grant "get, create pods/exec in namespace ${ns}" (enables exec)`,
      '  hint: grant "get nodes/proxy" (enables kubelet-summary)',
    ]);

    const w = await cliOf('none').run(['wal', 'health', '-n', ns, CLUSTER, '-o', 'json']);
    expect(w.code, w.stderr).toBe(3);
    expectNoStackTrace(w);
    expect(w.stdout.trim()).toBe('');
    expect(lines(w.stderr)).toEqual([
      'error: no source of WAL facts is permitted, so no instance could be judged',
      `  hint: grant "get pods/proxy in namespace ${ns}" (enables pod-proxy)`,
      `  hint: grant "get, create pods/exec in namespace ${ns}" (enables exec)`,
    ]);
  });

  it('with get nodes/proxy only, disk status measures through kubelet-summary (df within 1 %), says what was denied and warns', async () => {
    for (const verb of ['get', 'create']) {
      expect(await canI('kubelet', [verb, 'pods', '--subresource=exec', '-n', ns]), `${verb} pods/exec`).toBe('no');
    }
    const { doc, stderr } = await statusAgreeingWithDf('kubelet');
    for (const v of doc.clusters[0]?.volumes ?? []) expect(v.filesystem?.source, v.pvc).toBe('kubelet-summary');
    expect(used(doc.sources)).toEqual(['kubelet-summary/filesystem']);
    const kubelet = doc.sources.find((s) => s.source === 'kubelet-summary' && s.outcome === 'used');
    expect(kubelet?.detail).toContain('get nodes/proxy is equivalent to exec on the node');
    expect(denied(doc.sources)).toEqual([
      { source: 'pod-proxy', permission: `get pods/proxy in namespace ${ns}` },
      { source: 'exec', permission: `get, create pods/exec in namespace ${ns}` },
    ]);
    expect(stderr.trim()).toBe('');

    // The table says the same on stderr, warning included.
    const t = await cliOf('kubelet').run(['disk', 'status', '-n', ns, CLUSTER]);
    expect([0, 1, 2], `exit ${t.code}: ${t.stderr}`).toContain(t.code);
    expectNoStackTrace(t);
    expect(lines(t.stderr)).toEqual([
      'sources: kubelet-summary (filesystem, 1 node(s); note: get nodes/proxy is equivalent to exec on the node)',
      `  denied: pod-proxy — grant "get pods/proxy in namespace ${ns}" to use it`,
      `  denied: exec — grant "get, create pods/exec in namespace ${ns}" to use it`,
    ]);
    expect(t.stdout).toContain(POD);
  });

  it('with get, create pods/exec (no nodes/proxy), disk status measures through exec (df within 1 %)', async () => {
    // Exactly the rules docs/sources.md names for the exec source, nothing more.
    expect(await canI('exec', ['create', 'pods', '--subresource=exec', '-n', ns])).toBe('yes');
    expect(await canI('exec', ['get', 'pods', '--subresource=exec', '-n', ns])).toBe('yes');
    expect(await canI('exec', ['get', 'nodes', '--subresource=proxy'])).toBe('no');
    const { doc } = await statusAgreeingWithDf('exec');
    for (const v of doc.clusters[0]?.volumes ?? []) expect(v.filesystem?.source, v.pvc).toBe('exec');
    expect(used(doc.sources)).toEqual(['exec/filesystem', 'exec/wal']);
    expect(denied(doc.sources)).toEqual([
      { source: 'pod-proxy', permission: `get pods/proxy in namespace ${ns}` },
      { source: 'kubelet-summary', permission: 'get nodes/proxy' },
    ]);
  });

  it('with create pods/exec alone (the SPDY-era rule) exec is not tried: exit 3 naming the missing get', async () => {
    // client-node's exec is a WebSocket GET: this API server would answer 403 (seen in its
    // audit log as "get pods exec 403"), so the permission check must say so up front.
    expect(await canI('execcreate', ['create', 'pods', '--subresource=exec', '-n', ns])).toBe('yes');
    expect(await canI('execcreate', ['get', 'pods', '--subresource=exec', '-n', ns])).toBe('no');
    const r = await cliOf('execcreate').run(['disk', 'status', '-n', ns, CLUSTER, '-o', 'json']);
    expect(r.code, r.stderr).toBe(3);
    expectNoStackTrace(r);
    expect(lines(r.stderr)).toEqual([
      'error: no source of filesystem facts is permitted, so no volume could be measured',
      `  hint: grant "get pods/proxy in namespace ${ns}" (enables pod-proxy)`,
      `  hint: grant "get pods/exec in namespace ${ns}" (enables exec)`,
      '  hint: grant "get nodes/proxy" (enables kubelet-summary)',
    ]);
  });

  it('with get, create pods/exec (no pods/proxy), wal health judges the instance from exec', async () => {
    const w = await cliOf('exec').run(['wal', 'health', '-n', ns, CLUSTER, '-o', 'json']);
    expect([0, 1, 2], `wal health: exit ${w.code}: ${w.stderr}`).toContain(w.code);
    expectNoStackTrace(w);
    const wal = JSON.parse(w.stdout) as WalHealthDoc;
    expect(wal.kind).toBe('WalHealthReport');
    expect(used(wal.sources)).toContain('exec/wal');
    const inst = wal.clusters[0]?.instances ?? [];
    expect(inst.map((i) => i.pod)).toEqual([POD]);
    expect(inst[0]?.source).toBe('exec');
    expect(inst[0]?.verdict).not.toBe('unknown');
    expect(Number(inst[0]?.walDirBytes)).toBeGreaterThan(0);
    expect(Array.isArray(inst[0]?.slots)).toBe(true);
  });

  it('disk resize --apply without patch persistentvolumeclaims: the rule to grant, exit 2, the PVC untouched', async () => {
    // The kubelet user: it can measure the data volume, so the engine plans a
    // resize and the CLI really attempts the write it may not make.
    expect(await canI('kubelet', ['patch', 'persistentvolumeclaims', '-n', ns])).toBe('no');
    const policy = join(tmp, 'policy.yaml');
    writeFileSync(
      policy,
      'storage:\n  resize:\n    enabled: true\n    triggers: { usageThreshold: 1 }\n    expansion: { step: 64Mi, limit: 1Gi }\n',
    );
    const before = await kube.json<PvcJson>(['-n', ns, 'get', 'pvc', POD]);

    const r = await cliOf('kubelet').run([
      'disk',
      'resize',
      '-n',
      ns,
      CLUSTER,
      '--policy',
      policy,
      '--instance',
      POD,
      '--volume',
      'data',
      '--apply',
      '--yes',
      '-o',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(2);
    expectNoStackTrace(r);
    const plan = JSON.parse(r.stdout) as ResizePlanDoc;
    expect(plan.kind).toBe('ResizePlan');
    expect(plan.mode).toBe('apply');
    expect(plan.summary.exitCode).toBe(2);
    expect(plan.volumes).toHaveLength(1);
    const v = plan.volumes[0];
    expect(v?.pvc).toBe(POD);
    expect(v?.decision?.verdict).toBe('resize');
    expect(v?.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(v?.result?.status).toBe('failed');
    expect(v?.result?.attempts).toBe(1);
    expect(v?.result?.message).toMatch(/^the API server refused the patch \(/);
    expect(v?.result?.message).toContain(`grant "patch persistentvolumeclaims" in namespace ${ns}`);

    const after = await kube.json<PvcJson>(['-n', ns, 'get', 'pvc', POD]);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.spec.resources.requests.storage).toBe(before.spec.resources.requests.storage);
    expect(after.metadata.annotations ?? {}).toEqual(before.metadata.annotations ?? {});
  });
});
