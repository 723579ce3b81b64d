/**
 * Reading what the CLI did from the API server's audit log, df of the
 * filesystems behind the PVCs, and the one-growing-volume set-up the watch
 * tests share. Running the CLI: test/helpers/cli.ts.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startApiServer, type ApiServerHandle, type AuditEvent } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { requireBuiltCli } from '../helpers/cli.js';
import { Seeder, type SeededCluster } from './seed.js';
import YAML from 'yaml';

// ---------------------------------------------------------------------------
// Audit log

/** The verbs that change something. */
export const MUTATING_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/**
 * Audit events of one user, one per request (proxy and exec requests also
 * log a ResponseStarted stage: keep the last stage per auditID). Polls until
 * the count is stable, because events are written as requests complete.
 */
export async function auditOf(api: ApiServerHandle, user: string): Promise<AuditEvent[]> {
  let last = -1;
  let stable = 0;
  for (let i = 0; i < 100; i++) {
    const byId = new Map<string, AuditEvent>();
    for (const e of await api.readAudit()) if (e.user.username === user) byId.set(e.auditID, e);
    const events = [...byId.values()];
    if (events.length === last) {
      if (++stable >= 2) return events;
    } else {
      stable = 0;
      last = events.length;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`audit events of ${user} never settled`);
}

/** "verb resource[/subresource]" of an audit event, for counting and readable failures. */
export function kindOf(e: AuditEvent): string {
  const r = e.objectRef;
  if (!r?.resource) return `${e.verb} ${e.requestURI.split('?')[0]}`;
  return `${e.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.apiGroup ? `.${r.apiGroup}` : ''}`;
}

/** Counts events by kindOf. */
export function countByKind(events: AuditEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[kindOf(e)] = (out[kindOf(e)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Requests that would change state. Two kinds of request are not: a
 * SelfSubjectAccessReview is a `create` that stores nothing (it only asks
 * "may I?"), and pods/exec runs only read-only commands (stat -f, a psql
 * SELECT) — the API server logs it as get (WebSocket) or create (SPDY).
 */
export function mutatingRequests(events: AuditEvent[]): AuditEvent[] {
  return events.filter(
    (e) =>
      MUTATING_VERBS.has(e.verb) &&
      e.objectRef?.resource !== 'selfsubjectaccessreviews' &&
      !(e.objectRef?.resource === 'pods' && e.objectRef.subresource === 'exec'),
  );
}

// ---------------------------------------------------------------------------
// df, independently of the simulated kubelet

const execFileP = promisify(execFile);

export interface DfFacts {
  totalBytes: string;
  usedBytes: string;
  availableBytes: string;
  inodesTotal: string;
  inodesFree: string;
}

/** `df -B1` of a mount point, as decimal strings (the CLI's JSON form of byte counts). */
export async function df(path: string): Promise<DfFacts> {
  const { stdout } = await execFileP('df', ['-B1', '--output=size,used,avail,itotal,iavail', path]);
  const [size, used, avail, itotal, iavail] = (stdout.trim().split('\n')[1] ?? '').trim().split(/\s+/);
  return {
    totalBytes: size ?? '',
    usedBytes: used ?? '',
    availableBytes: avail ?? '',
    inodesTotal: itotal ?? '',
    inodesFree: iavail ?? '',
  };
}

// ---------------------------------------------------------------------------
// One cluster with one growing volume (disk status --watch, disk simulate --trace)

export interface GrowingVolume {
  api: ApiServerHandle;
  net: TestNetwork;
  seed: Seeder;
  /** A kubeconfig of `user` (system:masters). */
  kubeconfig: string;
  /** `namespace`/growing: one instance on node-1, its data volume a quarter full. */
  cluster: SeededCluster;
  close(): Promise<void>;
}

/**
 * A real kube-apiserver + etcd and an instance host (a simulated kubelet
 * over a real tmpfs), seeded with one CloudNativePG cluster `growing` in
 * `namespace`; the built CLI is required. Starting etcd and the API server
 * on a loaded machine takes longer than vitest's default hook timeout.
 */
export async function startGrowingVolume(user: string, namespace: string): Promise<GrowingVolume> {
  requireBuiltCli();
  const [api, net] = await Promise.all([startApiServer(), createTestNetwork()]);
  const seed = await Seeder.create(api, net);
  const kubeconfig = await api.kubeconfigFor(user, ['system:masters']);
  await seed.storageClasses();
  await seed.node('node-1');
  const cluster = await seed.cluster({ namespace, name: 'growing', nodes: ['node-1'], usage: { data: 0.25 } });
  return {
    api,
    net,
    seed,
    kubeconfig,
    cluster,
    async close() {
      await seed.close();
      await net.close();
      await api.stop();
    },
  };
}

// ---------------------------------------------------------------------------
// Kubeconfigs with several contexts

/** A context of a merged kubeconfig: the (only) context of a kubeconfig file, or a bare server. */
export type ContextEntry = { name: string; kubeconfig: string } | { name: string; server: string };

/**
 * Writes one kubeconfig holding every entry as a context of that name (the
 * harness's kubeconfigs each have one cluster, user and context, all named
 * alike, so they are renamed per entry). A `server` entry gets a token user
 * and no CA: for an address where nothing answers. The first entry is the
 * current context.
 */
export async function mergeKubeconfigs(file: string, entries: ContextEntry[]): Promise<string> {
  const clusters: unknown[] = [];
  const users: unknown[] = [];
  const contexts: unknown[] = [];
  for (const [i, e] of entries.entries()) {
    const cluster = `cluster-${i}`;
    const user = `user-${i}`;
    if ('server' in e) {
      clusters.push({ name: cluster, cluster: { server: e.server, 'insecure-skip-tls-verify': true } });
      users.push({ name: user, user: { token: 'nothing-answers-here' } });
    } else {
      const kc = YAML.parse(await readFile(e.kubeconfig, 'utf8')) as {
        clusters: { cluster: unknown }[];
        users: { user: unknown }[];
        contexts: { context: { namespace?: string } }[];
      };
      clusters.push({ name: cluster, cluster: kc.clusters[0]!.cluster });
      users.push({ name: user, user: kc.users[0]!.user });
    }
    contexts.push({ name: e.name, context: { cluster, user, namespace: 'default' } });
  }
  await writeFile(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters,
      users,
      contexts,
      'current-context': entries[0]?.name ?? '',
    }),
    { mode: 0o600 },
  );
  return file;
}
