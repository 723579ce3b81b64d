/**
 * Live collection: gathers a Snapshot from the Kubernetes API.
 *
 * Requests grow with namespaces and nodes, not with PVCs: Clusters, pods,
 * PVCs and events are listed per namespace (or once across all namespaces),
 * the kubelet summary is read once per node, Prometheus is asked twice in
 * all; only the pod proxy and exec are per pod (two requests each). Work runs
 * concurrently with a bound (--concurrency).
 *
 * Sources are tried in the spec's order (auto mode): cluster-status,
 * pod-proxy, exec, kubelet-summary, prometheus (with --prometheus-url). Each
 * fills only what the earlier ones left unmeasured, and every attempt is
 * recorded (used / denied with the permission / unreachable / unavailable).
 * This file is the fallback chain only; each source is one object in
 * src/sources (name, facts, access, measure).
 */
import pLimit from 'p-limit';
import { mountPathFor, type WalHealth } from '@cnpg-disk/core';
import { cannotEvaluate } from '../model/errors.js';
import { CNPG_GROUP, CNPG_VERSION } from '../model/cnpg.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { get, label, nameOf, namespaceOf, slim, str, volumeRefOf, CLUSTER_LABEL } from '../model/kube-objects.js';
import { checkAccess, missingRules, rulesText } from '../sources/permissions.js';
import { probeSidecarOf } from '../sources/probe.js';
import { autoSources, SOURCES } from '../sources/registry.js';
import {
  describeApiError,
  walComplete,
  type Instance,
  type MeasureOptions,
  type MeasureRun,
} from '../sources/source.js';
import type {
  ClusterSnapshot,
  FactKind,
  InstanceMeasurement,
  KubeObject,
  Snapshot,
  SourceAttempt,
  SourceName,
} from '../model/snapshot.js';

export { autoSources } from '../sources/registry.js';

export interface CollectOptions extends MeasureOptions {
  /** Namespaces to look in, or 'all'. */
  namespaces: string[] | 'all';
  /** Only this Cluster (by name). */
  cluster?: string | undefined;
  /**
   * The namespace was asked for (-n), not taken from the context: a namespace
   * without Clusters is then an answer the user must hear, not an empty fleet.
   */
  explicitNamespace?: boolean | undefined;
  /** Label selector on Clusters. */
  selector?: string | undefined;
  /** Force one source for filesystem and WAL facts, or 'auto'. */
  source: SourceName | 'auto';
  /** Measure filesystems and WAL at all (policy validate does not need to). */
  measure: boolean;
  concurrency: number;
  context: string;
}

function items(list: unknown): KubeObject[] {
  const i = (list as { items?: unknown })?.items;
  return Array.isArray(i) ? (i as KubeObject[]) : [];
}

/** Objects per page of a list, as kubectl's default --chunk-size. */
export const LIST_PAGE_SIZE = 500;

/**
 * Every object of a list, read in pages of LIST_PAGE_SIZE (limit/continue,
 * as kubectl does) and slimmed page by page: the whole list never sits in
 * memory as one JSON text nor with its managedFields (on 1,800 PVCs and 900
 * pods that is most of a read-only run's peak memory).
 */
export async function listAll(
  client: KubeClient,
  path: string,
  query: Record<string, string | undefined>,
  what: string,
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  let token: string | undefined;
  do {
    const page = await client.getJson(path, { ...query, limit: String(LIST_PAGE_SIZE), continue: token }, what);
    for (const o of items(page)) out.push(slim(o));
    const next = (page as { metadata?: { continue?: unknown } } | null)?.metadata?.continue;
    const more = typeof next === 'string' && next !== '' ? next : undefined;
    if (more !== undefined && more === token) {
      // An API server (or something posing as one) that hands back the same page forever.
      throw new KubeApiError(
        what,
        200,
        'BadResponse',
        `the API server answered ${what} with the same continue token twice`,
      );
    }
    token = more;
  } while (token);
  return out;
}

/** Lists Clusters; an API error here means the command cannot evaluate anything. */
async function listClusters(client: KubeClient, opts: CollectOptions): Promise<KubeObject[]> {
  const labelSelector = opts.selector;
  const fieldSelector = opts.cluster ? `metadata.name=${opts.cluster}` : undefined;
  const query = { labelSelector, fieldSelector };
  const api = `/apis/${CNPG_GROUP}/${CNPG_VERSION}`;
  try {
    if (opts.namespaces === 'all') {
      return await listAll(client, `${api}/clusters`, query, 'list clusters.postgresql.cnpg.io');
    }
    const lists = await Promise.all(
      opts.namespaces.map((namespace) =>
        listAll(
          client,
          `${api}/namespaces/${encodeURIComponent(namespace)}/clusters`,
          query,
          `list clusters.postgresql.cnpg.io in ${namespace}`,
        ),
      ),
    );
    return lists.flat();
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

/**
 * A named Cluster that does not exist, or an explicitly asked-for namespace
 * with no Cluster at all, is "could not evaluate" (exit 3) with what does
 * exist there; an empty -A fleet, the context's namespace, and a label
 * selector that matches nothing stay an empty answer (exit 0).
 */
async function requireScopeMatched(client: KubeClient, opts: CollectOptions): Promise<void> {
  if (opts.namespaces === 'all' && !opts.cluster) return;
  if (!opts.cluster && (!opts.explicitNamespace || opts.selector)) return;
  const where = opts.namespaces === 'all' ? 'any namespace' : `namespace ${opts.namespaces.join(', ')}`;
  // What exists: one more list without the name and selector (best effort: a
  // failure here only loses the hint).
  let existing: string[] | undefined;
  try {
    existing = (await listClusters(client, { ...opts, cluster: undefined, selector: undefined }))
      .map((c) => (opts.namespaces === 'all' ? `${namespaceOf(c)}/${nameOf(c)}` : nameOf(c)))
      .sort();
  } catch {
    existing = undefined;
  }
  const hint =
    existing === undefined
      ? 'list them with: kubectl get clusters.postgresql.cnpg.io -A'
      : existing.length === 0
        ? `there is no CloudNativePG Cluster in ${where}; look in every namespace with -A`
        : `Clusters in ${where}: ${existing.join(', ')}`;
  const what = opts.cluster
    ? `there is no CloudNativePG Cluster ${JSON.stringify(opts.cluster)}${opts.selector ? ` matching -l ${opts.selector}` : ''} in ${where}`
    : `there is no CloudNativePG Cluster in ${where}`;
  throw cannotEvaluate(what, 'CLUSTER_NOT_FOUND', hint);
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
  // Plain JSON from the API server (KubeClient.getJson), not client-node's model objects.
  const put = (kind: keyof NamespaceObjects, list: KubeObject[]) => {
    for (const o of list) byNs.get(namespaceOf(o))?.[kind].push(o);
  };
  const safe = async (what: string, path: string, query: Record<string, string>): Promise<KubeObject[]> => {
    try {
      return await listAll(client, path, query, what);
    } catch (e) {
      problems.push(`${what} failed (${describeApiError(e)})`);
      return [];
    }
  };
  const warnings = { fieldSelector: 'type=Warning' };
  if (all) {
    const [pods, pvcs, events] = await Promise.all([
      safe('list pods', '/api/v1/pods', { labelSelector }),
      safe('list persistentvolumeclaims', '/api/v1/persistentvolumeclaims', { labelSelector }),
      safe('list events', '/api/v1/events', warnings),
    ]);
    put('pods', pods);
    put('pvcs', pvcs);
    put('events', events);
  } else {
    await Promise.all(
      namespaces.map(async (namespace) => {
        const ns = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
        const [pods, pvcs, events] = await Promise.all([
          safe(`list pods in ${namespace}`, `${ns}/pods`, { labelSelector }),
          safe(`list persistentvolumeclaims in ${namespace}`, `${ns}/persistentvolumeclaims`, { labelSelector }),
          safe(`list events in ${namespace}`, `${ns}/events`, warnings),
        ]);
        put('pods', pods);
        put('pvcs', pvcs);
        put('events', events);
      }),
    );
  }
  return byNs;
}

/** Pods and PVCs by their cluster label, events by the name of the object they are about (with their place in the list). */
function groupByCluster(objs: { pods: KubeObject[]; pvcs: KubeObject[]; events: KubeObject[] }): {
  pods: Map<string, KubeObject[]>;
  pvcs: Map<string, KubeObject[]>;
  events: Map<string, { o: KubeObject; at: number }[]>;
} {
  const by = (list: KubeObject[], keyOf: (o: KubeObject) => string | undefined) => {
    const out = new Map<string, KubeObject[]>();
    for (const o of list) {
      const k = keyOf(o);
      if (k === undefined) continue;
      const l = out.get(k);
      if (l) l.push(o);
      else out.set(k, [o]);
    }
    return out;
  };
  const cluster = (o: KubeObject) => label(o, CLUSTER_LABEL);
  const events = new Map<string, { o: KubeObject; at: number }[]>();
  objs.events.forEach((o, at) => {
    const k = str(o, 'involvedObject', 'name') ?? '';
    const l = events.get(k);
    if (l) l.push({ o, at });
    else events.set(k, [{ o, at }]);
  });
  return { pods: by(objs.pods, cluster), pvcs: by(objs.pvcs, cluster), events };
}

export async function collectSnapshot(client: KubeClient, opts: CollectOptions): Promise<Snapshot> {
  const problems: string[] = [];
  const sources: SourceAttempt[] = [];
  opts.onProgress?.('listing CloudNativePG clusters');
  const clusters = await listClusters(client, opts);
  if (clusters.length === 0) await requireScopeMatched(client, opts);
  const namespaces = [...new Set(clusters.map(namespaceOf))].sort();
  opts.onProgress?.(`reading ${clusters.length} cluster(s) in ${namespaces.length} namespace(s)`);
  const [byNs, storageClasses] = await Promise.all([
    listNamespaceObjects(client, namespaces, opts.namespaces === 'all', problems),
    listAll(client, '/apis/storage.k8s.io/v1/storageclasses', {}, 'list storageclasses').catch((e: unknown) => {
      problems.push(`list storageclasses failed (${describeApiError(e)}): expandability unknown`);
      return [] as KubeObject[];
    }),
  ]);

  // Each namespace's objects grouped once (by cluster label, events by the
  // object they are about), not filtered again for each of its Clusters.
  const grouped = new Map<string, ReturnType<typeof groupByCluster>>();
  const snaps: ClusterSnapshot[] = clusters.map((c) => {
    const ns = namespaceOf(c);
    const name = nameOf(c);
    let g = grouped.get(ns);
    if (!g) grouped.set(ns, (g = groupByCluster(byNs.get(ns) ?? { pods: [], pvcs: [], events: [] })));
    const pods = g.pods.get(name) ?? [];
    const pvcs = g.pvcs.get(name) ?? [];
    const names = new Set([name, ...pods.map(nameOf), ...pvcs.map(nameOf)]);
    // in list order, each event once (a data PVC has its pod's name)
    const events = [...names]
      .flatMap((n) => g.events.get(n) ?? [])
      .sort((a, b) => a.at - b.at)
      .map((e) => e.o);
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

/** Measures the instances of these Clusters (the controller calls it on Clusters from its caches). */
export async function measure(
  client: KubeClient,
  snaps: ClusterSnapshot[],
  opts: CollectOptions,
  sources: SourceAttempt[],
  problems: string[],
): Promise<void> {
  const limit = pLimit(Math.max(1, opts.concurrency));
  const namespaces = [...new Set(snaps.map((s) => s.namespace))];
  const sidecar = snaps.some((cs) => cs.pods.some((p) => probeSidecarOf(p) !== undefined));
  const candidates: SourceName[] = opts.source === 'auto' ? autoSources(opts.prometheusUrl, sidecar) : [opts.source];
  const checks = candidates.flatMap((s) => namespaces.flatMap((ns) => SOURCES[s].access(ns)));
  opts.onProgress?.('checking permissions');
  const allowed = checks.length > 0 ? await checkAccess(client, checks) : new Map<string, boolean>();
  const may = (s: SourceName, ns: string) => missingRules(allowed, SOURCES[s].access(ns)).length === 0;
  for (const s of candidates) {
    for (const ns of SOURCES[s].clusterScoped ? [''] : namespaces) {
      const missing = missingRules(allowed, SOURCES[s].access(ns));
      if (missing.length > 0) {
        for (const fact of SOURCES[s].facts) {
          sources.push({
            source: s,
            fact,
            outcome: 'denied',
            permission: rulesText(missing),
            ...(ns ? { scope: ns } : {}),
          });
        }
      }
    }
  }

  const instances: Instance[] = snaps.flatMap((cs) =>
    cs.pods.map((p) => {
      const pod = nameOf(p);
      const mounts = new Map<string, string>();
      const pvcByVolume = new Map<string, string>();
      for (const pvc of cs.pvcs) {
        const ref = volumeRefOf(pvc, cs.name);
        if (ref?.instance !== pod) continue;
        mounts.set(mountPathFor(ref.type, ref.tablespace), ref.pvcName);
        pvcByVolume.set(`${ref.type}/${ref.tablespace ?? ''}`, ref.pvcName);
      }
      return {
        cs,
        podObj: p,
        pod,
        node: str(p, 'spec', 'nodeName'),
        running: str(p, 'status', 'phase') === 'Running' && get(p, 'metadata', 'deletionTimestamp') === undefined,
        mounts,
        pvcByVolume,
      };
    }),
  );
  const results = new Map<string, InstanceMeasurement>();
  const key = (ns: string, pod: string) => `${ns}/${pod}`;
  for (const i of instances) results.set(key(i.cs.namespace, i.pod), { pod: i.pod, filesystems: {}, errors: [] });
  const m = (i: Instance) => results.get(key(i.cs.namespace, i.pod)) as InstanceMeasurement;
  const needsFs = (i: Instance) => [...i.mounts.values()].some((pvc) => !m(i).filesystems[pvc]);
  const needsWal = (i: Instance) => !walComplete(m(i).wal);
  const setWal = (i: Instance, w: WalHealth | undefined) => {
    if (!w) return false;
    const cur = m(i).wal;
    // A fuller answer replaces a partial one; a partial one never replaces a fuller one.
    if (!cur || walComplete(w) || (!walComplete(cur) && (w.archiver !== undefined || cur.archiver === undefined))) {
      m(i).wal = w;
      return true;
    }
    return false;
  };
  const record = (source: SourceName, fact: FactKind, outcome: SourceAttempt['outcome'], detail?: string) =>
    sources.push({ source, fact, outcome, ...(detail ? { detail } : {}) });

  const run: Omit<MeasureRun, 'pending'> = {
    client,
    opts,
    limit,
    snaps,
    instances,
    problems,
    sources,
    results,
    key,
    may,
    m,
    needsFs,
    needsWal,
    setWal,
    record,
  };
  for (const source of candidates) {
    const pending = instances.filter((i) => needsFs(i) || needsWal(i));
    if (pending.length === 0) break;
    await SOURCES[source].measure({ ...run, pending });
  }
  // By key, not by scanning every result for every Cluster (300 Clusters × 900 results in a fleet).
  for (const cs of snaps) {
    const mine = new Set<InstanceMeasurement>();
    for (const p of cs.pods) {
      if (namespaceOf(p) !== cs.namespace) continue;
      const r = results.get(key(cs.namespace, nameOf(p)));
      if (r) mine.add(r);
    }
    cs.measurements = [...mine];
  }
}
