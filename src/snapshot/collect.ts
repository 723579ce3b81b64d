/**
 * Live collection: gathers a Snapshot from the Kubernetes API.
 *
 * Requests grow with namespaces and nodes, not with PVCs: Clusters, pods,
 * PVCs and events are listed per namespace (or once across all namespaces),
 * the kubelet summary is read once per node; only exec is per pod. Work runs
 * concurrently with a bound (--concurrency).
 */
import pLimit from 'p-limit';
import { mountPathFor, type FilesystemFacts, type WalHealth } from '@cnpg-disk/core';
import { cannotEvaluate } from '../cli/errors.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { execInPod } from '../kube/exec.js';
import {
  clusterShape,
  labels,
  nameOf,
  namespaceOf,
  slim,
  str,
  volumeRefOf,
  CLUSTER_LABEL,
} from '../analysis/kube-objects.js';
import { checkAccess, ruleText, type Access } from '../sources/permissions.js';
import { parseKubeletSummary, parseStatF, parseWalHealthJson, WAL_HEALTH_SQL } from '../sources/parse.js';
import type { ClusterSnapshot, InstanceMeasurement, KubeObject, Snapshot, SourceAttempt, SourceName } from './types.js';

export const CNPG_GROUP = 'postgresql.cnpg.io';
export const CNPG_VERSION = 'v1';

export interface CollectOptions {
  /** Namespaces to look in, or 'all'. */
  namespaces: string[] | 'all';
  /** Only this Cluster (by name). */
  cluster?: string | undefined;
  /** Label selector on Clusters. */
  selector?: string | undefined;
  /** Force one source for filesystem and WAL facts, or 'auto'. */
  source: SourceName | 'auto';
  /** Measure filesystems and WAL at all (policy validate does not need to). */
  measure: boolean;
  concurrency: number;
  execTimeoutMs: number;
  context: string;
  now: () => Date;
  onProgress?: (text: string) => void;
}

function items(list: unknown): KubeObject[] {
  const i = (list as { items?: unknown })?.items;
  return Array.isArray(i) ? (i as KubeObject[]) : [];
}

/** Converts client-node model objects (Date fields) into plain API JSON. */
function plain(o: unknown): KubeObject {
  return slim(JSON.parse(JSON.stringify(o)) as KubeObject);
}

function describeApiError(e: unknown): string {
  return e instanceof KubeApiError ? `${e.status ?? e.reason ?? 'error'}: ${e.message}` : String(e);
}

/** Lists Clusters; an API error here means the command cannot evaluate anything. */
async function listClusters(client: KubeClient, opts: CollectOptions): Promise<KubeObject[]> {
  const labelSelector = opts.selector;
  const fieldSelector = opts.cluster ? `metadata.name=${opts.cluster}` : undefined;
  const common = { group: CNPG_GROUP, version: CNPG_VERSION, plural: 'clusters', labelSelector, fieldSelector };
  try {
    if (opts.namespaces === 'all') {
      return items(
        await client.call('list clusters.postgresql.cnpg.io', () => client.custom.listClusterCustomObject(common)),
      );
    }
    const lists = await Promise.all(
      opts.namespaces.map((namespace) =>
        client.call(`list clusters.postgresql.cnpg.io in ${namespace}`, () =>
          client.custom.listNamespacedCustomObject({ ...common, namespace }),
        ),
      ),
    );
    return lists.flatMap(items);
  } catch (e) {
    if (e instanceof KubeApiError) {
      if (e.isForbidden) {
        throw cannotEvaluate(
          `not allowed to list CloudNativePG Clusters (${e.message})`,
          'FORBIDDEN',
          `grant: list clusters.postgresql.cnpg.io${opts.namespaces === 'all' ? ' cluster-wide' : ` in ${opts.namespaces.join(', ')}`}`,
        );
      }
      if (e.isNotFound) {
        throw cannotEvaluate(
          'the CloudNativePG Cluster resource is not installed on this API server (clusters.postgresql.cnpg.io not found)',
          'CRD_MISSING',
          'install CloudNativePG, or check --context',
        );
      }
      if (e.status === 401) {
        throw cannotEvaluate(
          `the API server rejected our credentials (${e.message})`,
          'UNAUTHORIZED',
          'refresh the kubeconfig credentials',
        );
      }
      if (e.isUnreachable) {
        throw cannotEvaluate(
          `cannot reach the API server at ${client.server}: ${e.message}`,
          'UNREACHABLE',
          'check the network and --context, or raise --request-timeout',
        );
      }
      throw cannotEvaluate(`listing Clusters failed: ${describeApiError(e)}`, 'API_ERROR');
    }
    throw e;
  }
}

interface NamespaceObjects {
  pods: KubeObject[];
  pvcs: KubeObject[];
  events: KubeObject[];
}

async function listNamespaceObjects(
  client: KubeClient,
  namespaces: string[],
  all: boolean,
  problems: string[],
): Promise<Map<string, NamespaceObjects>> {
  const byNs = new Map<string, NamespaceObjects>(namespaces.map((n) => [n, { pods: [], pvcs: [], events: [] }]));
  const labelSelector = CLUSTER_LABEL;
  const put = (kind: keyof NamespaceObjects, list: KubeObject[]) => {
    for (const o of list) byNs.get(namespaceOf(o))?.[kind].push(plain(o));
  };
  const safe = async (what: string, fn: () => Promise<unknown>): Promise<KubeObject[]> => {
    try {
      return items(await client.call(what, fn as () => Promise<unknown>));
    } catch (e) {
      problems.push(`${what} failed (${describeApiError(e)})`);
      return [];
    }
  };
  if (all) {
    const [pods, pvcs, events] = await Promise.all([
      safe('list pods', () => client.core.listPodForAllNamespaces({ labelSelector })),
      safe('list persistentvolumeclaims', () =>
        client.core.listPersistentVolumeClaimForAllNamespaces({ labelSelector }),
      ),
      safe('list events', () => client.core.listEventForAllNamespaces({ fieldSelector: 'type=Warning' })),
    ]);
    put('pods', pods);
    put('pvcs', pvcs);
    put('events', events);
  } else {
    await Promise.all(
      namespaces.map(async (namespace) => {
        const [pods, pvcs, events] = await Promise.all([
          safe(`list pods in ${namespace}`, () => client.core.listNamespacedPod({ namespace, labelSelector })),
          safe(`list persistentvolumeclaims in ${namespace}`, () =>
            client.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
          ),
          safe(`list events in ${namespace}`, () =>
            client.core.listNamespacedEvent({ namespace, fieldSelector: 'type=Warning' }),
          ),
        ]);
        put('pods', pods);
        put('pvcs', pvcs);
        put('events', events);
      }),
    );
  }
  return byNs;
}

/** A shell script that prints `stat -f` lines for each mount. Only reads. */
function statScript(paths: string[]): string[] {
  return ['stat', '-f', '-c', 'fs %n %S %b %f %a %c %d', ...paths];
}

async function execMeasure(
  client: KubeClient,
  ns: string,
  pod: string,
  mounts: Map<string, string>,
  opts: CollectOptions,
): Promise<{ filesystems: Record<string, FilesystemFacts>; wal?: WalHealth; errors: string[] }> {
  const observedAt = opts.now().toISOString();
  const errors: string[] = [];
  const filesystems: Record<string, FilesystemFacts> = {};
  const fsRun = await execInPod(client, ns, pod, 'postgres', statScript([...mounts.keys()]), opts.execTimeoutMs);
  const parsed = parseStatF(fsRun.stdout, 'exec', observedAt);
  errors.push(...parsed.problems);
  if (fsRun.exitCode !== 0)
    errors.push(`stat -f in ${pod} exited ${fsRun.exitCode}: ${fsRun.stderr.trim().slice(0, 200)}`);
  for (const [path, pvc] of mounts) {
    const f = parsed.facts.get(path);
    if (f) filesystems[pvc] = f;
  }
  let wal: WalHealth | undefined;
  const sql = await execInPod(
    client,
    ns,
    pod,
    'postgres',
    ['psql', '-XAtq', '-d', 'postgres', '-c', WAL_HEALTH_SQL],
    opts.execTimeoutMs,
  );
  if (sql.exitCode === 0) {
    const r = parseWalHealthJson(sql.stdout, pod, 'exec', observedAt);
    if (r.health) wal = r.health;
    if (r.problem) errors.push(r.problem);
  } else {
    errors.push(`psql in ${pod} exited ${sql.exitCode}: ${sql.stderr.trim().split('\n')[0]?.slice(0, 200) ?? ''}`);
  }
  return { filesystems, ...(wal ? { wal } : {}), errors };
}

/** Permission each source needs, per namespace (or cluster-wide for nodes). */
function accessFor(source: SourceName, ns: string): Access | undefined {
  switch (source) {
    case 'exec':
      return { verb: 'create', resource: 'pods', subresource: 'exec', namespace: ns };
    case 'pod-proxy':
      return { verb: 'get', resource: 'pods', subresource: 'proxy', namespace: ns };
    case 'kubelet-summary':
      return { verb: 'get', resource: 'nodes', subresource: 'proxy', namespace: '' };
    default:
      return undefined;
  }
}

export async function collectSnapshot(client: KubeClient, opts: CollectOptions): Promise<Snapshot> {
  const problems: string[] = [];
  const sources: SourceAttempt[] = [];
  opts.onProgress?.('listing CloudNativePG clusters');
  const clusters = (await listClusters(client, opts)).map(plain);
  const namespaces = [...new Set(clusters.map(namespaceOf))].sort();
  opts.onProgress?.(`reading ${clusters.length} cluster(s) in ${namespaces.length} namespace(s)`);
  const [byNs, storageClasses] = await Promise.all([
    listNamespaceObjects(client, namespaces, opts.namespaces === 'all', problems),
    client
      .call('list storageclasses', () => client.storage.listStorageClass())
      .then((l) => items(l).map(plain))
      .catch((e: unknown) => {
        problems.push(`list storageclasses failed (${describeApiError(e)}): expandability unknown`);
        return [] as KubeObject[];
      }),
  ]);

  const snaps: ClusterSnapshot[] = clusters.map((c) => {
    const ns = namespaceOf(c);
    const name = nameOf(c);
    const objs = byNs.get(ns) ?? { pods: [], pvcs: [], events: [] };
    const mine = (o: KubeObject) => labels(o)[CLUSTER_LABEL] === name;
    const pods = objs.pods.filter(mine);
    const pvcs = objs.pvcs.filter(mine);
    const names = new Set([name, ...pods.map(nameOf), ...pvcs.map(nameOf)]);
    const events = objs.events.filter((e) => names.has(str(e, 'involvedObject', 'name') ?? ''));
    return { namespace: ns, name, cluster: c, pods, pvcs, events, measurements: [] };
  });

  if (opts.measure && snaps.length > 0) {
    await measure(client, snaps, opts, sources, problems);
  }
  return {
    collectedAt: opts.now().toISOString(),
    origin: { kind: 'live', server: client.server, context: opts.context },
    namespaces: opts.namespaces,
    clusters: snaps,
    storageClasses,
    sources,
    problems,
  };
}

async function measure(
  client: KubeClient,
  snaps: ClusterSnapshot[],
  opts: CollectOptions,
  sources: SourceAttempt[],
  problems: string[],
): Promise<void> {
  const limit = pLimit(Math.max(1, opts.concurrency));
  const namespaces = [...new Set(snaps.map((s) => s.namespace))];
  const candidates: SourceName[] = opts.source === 'auto' ? ['exec', 'kubelet-summary'] : [opts.source];
  for (const s of candidates) {
    if (s === 'cluster-status' || s === 'pod-proxy' || s === 'prometheus') {
      sources.push({
        source: s,
        fact: 'filesystem',
        outcome: 'unavailable',
        detail: 'this source does not report filesystem usage in this version',
      });
    }
  }
  const checks = candidates.flatMap((s) => namespaces.map((ns) => accessFor(s, ns))).filter((a): a is Access => !!a);
  opts.onProgress?.('checking permissions');
  const allowed = await checkAccess(client, checks);
  const may = (s: SourceName, ns: string) => {
    const a = accessFor(s, ns);
    return a ? allowed.get(ruleText(a)) === true : false;
  };
  for (const s of candidates) {
    for (const ns of s === 'kubelet-summary' ? [''] : namespaces) {
      const a = accessFor(s, ns);
      if (a && !allowed.get(ruleText(a))) {
        sources.push({
          source: s,
          fact: 'filesystem',
          outcome: 'denied',
          permission: ruleText(a),
          ...(ns ? { scope: ns } : {}),
        });
      }
    }
  }

  // Per-instance mounts: path in the pod → PVC name.
  const instances = snaps.flatMap((cs) => {
    const shape = clusterShape(cs.cluster);
    return cs.pods
      .filter((p) => str(p, 'status', 'phase') === 'Running')
      .map((p) => {
        const pod = nameOf(p);
        const mounts = new Map<string, string>();
        for (const pvc of cs.pvcs) {
          const ref = volumeRefOf(pvc, cs.name);
          if (ref?.instance === pod) mounts.set(mountPathFor(ref.type, ref.tablespace), ref.pvcName);
        }
        return { cs, pod, node: str(p, 'spec', 'nodeName'), mounts, shape };
      });
  });
  const results = new Map<string, InstanceMeasurement>();
  const key = (ns: string, pod: string) => `${ns}/${pod}`;
  for (const i of instances) results.set(key(i.cs.namespace, i.pod), { pod: i.pod, filesystems: {}, errors: [] });

  // exec: filesystems and WAL health, one pod at a time per slot.
  if (candidates.includes('exec')) {
    let used = 0;
    let failed = 0;
    await Promise.all(
      instances
        .filter((i) => may('exec', i.cs.namespace))
        .map((i) =>
          limit(async () => {
            opts.onProgress?.(`exec into ${i.cs.namespace}/${i.pod}`);
            const m = results.get(key(i.cs.namespace, i.pod)) as InstanceMeasurement;
            try {
              const r = await execMeasure(client, i.cs.namespace, i.pod, i.mounts, opts);
              Object.assign(m.filesystems, r.filesystems);
              if (r.wal) m.wal = r.wal;
              m.errors.push(...r.errors);
              used++;
            } catch (e) {
              failed++;
              m.errors.push(`exec into ${i.pod} failed: ${e instanceof KubeApiError ? e.message : String(e)}`);
            }
          }),
        ),
    );
    if (used > 0) sources.push({ source: 'exec', fact: 'filesystem', outcome: 'used', detail: `${used} pod(s)` });
    if (failed > 0)
      sources.push({ source: 'exec', fact: 'filesystem', outcome: 'unreachable', detail: `${failed} pod(s) failed` });
  }

  // kubelet summary: one request per node, for whatever exec did not measure.
  if (candidates.includes('kubelet-summary') && may('kubelet-summary', '')) {
    const needed = instances.filter((i) => {
      const m = results.get(key(i.cs.namespace, i.pod)) as InstanceMeasurement;
      return [...i.mounts.values()].some((pvc) => !m.filesystems[pvc]);
    });
    const nodes = [...new Set(needed.map((i) => i.node).filter((n): n is string => !!n))].sort();
    let used = 0;
    await Promise.all(
      nodes.map((node) =>
        limit(async () => {
          opts.onProgress?.(`reading the kubelet summary of node ${node}`);
          try {
            const text = await client.call(`get nodes/proxy ${node}`, () =>
              client.core.connectGetNodeProxyWithPath({ name: node, path: 'stats/summary' }),
            );
            let doc: unknown;
            try {
              doc = typeof text === 'string' ? JSON.parse(text) : text;
            } catch {
              problems.push(`kubelet summary of node ${node} is not JSON`);
              return;
            }
            const r = parseKubeletSummary(doc, node, opts.now().toISOString());
            problems.push(...r.problems);
            for (const v of r.volumes) {
              const m = results.get(key(v.namespace, v.pod));
              if (m && !m.filesystems[v.pvcName]) m.filesystems[v.pvcName] = v.facts;
            }
            used++;
          } catch (e) {
            problems.push(`kubelet summary of node ${node} unavailable (${describeApiError(e)})`);
            sources.push({
              source: 'kubelet-summary',
              fact: 'filesystem',
              outcome: 'unreachable',
              scope: node,
              detail: describeApiError(e),
            });
          }
        }),
      ),
    );
    if (used > 0) {
      sources.push({
        source: 'kubelet-summary',
        fact: 'filesystem',
        outcome: 'used',
        detail: `${used} node(s); note: get nodes/proxy is equivalent to exec on the node`,
      });
    }
  }
  for (const cs of snaps) {
    cs.measurements = [...results.values()].filter((m) =>
      cs.pods.some((p) => nameOf(p) === m.pod && namespaceOf(p) === cs.namespace),
    );
  }
}
