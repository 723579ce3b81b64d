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
 */
import pLimit from 'p-limit';
import { mountPathFor, type FilesystemFacts, type WalHealth } from '@cnpg-disk/core';
import { cannotEvaluate } from '../cli/errors.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { execInPod } from '../kube/exec.js';
import { get, labels, nameOf, namespaceOf, slim, str, volumeRefOf, CLUSTER_LABEL } from '../analysis/kube-objects.js';
import { checkAccess, missingRules, rulesText, streamingAccess, type Access } from '../sources/permissions.js';
import { parseKubeletSummary, parseStatF, parseWalHealthJson, WAL_HEALTH_SQL } from '../sources/parse.js';
import { parseClusterDiskStatus } from '../sources/cluster-status.js';
import { readInstance, STATUS_ONLY_SOURCE, type InstanceGet } from '../sources/pod-proxy.js';
import { portForwardAccess, portForwardGet, readWithFallback } from '../sources/port-forward.js';
import {
  filesystemsFromSamples,
  kubeletVolumeStats,
  prometheusQueries,
  PrometheusError,
  queryPrometheus,
  walHealthFromSamples,
} from '../sources/prometheus.js';
import {
  SOURCE_FACTS,
  type ClusterSnapshot,
  type FactKind,
  type InstanceMeasurement,
  type KubeObject,
  type Snapshot,
  type SourceAttempt,
  type SourceName,
} from './types.js';

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
  /** Prometheus base URL (--prometheus-url): adds the prometheus source to auto mode. */
  prometheusUrl?: string | undefined;
  /** Raw instance payloads read through the pod proxy (support bundles keep them). */
  onPayload?: (namespace: string, pod: string, kind: 'pg-status' | 'metrics', body: string) => void;
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
  // Plain JSON from the API server (KubeClient.getJson), not client-node's model objects.
  const put = (kind: keyof NamespaceObjects, list: KubeObject[]) => {
    for (const o of list) byNs.get(namespaceOf(o))?.[kind].push(slim(o));
  };
  const safe = async (what: string, path: string, query: Record<string, string>): Promise<KubeObject[]> => {
    try {
      return items(await client.getJson(path, query, what));
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
  want: { filesystem: boolean; wal: boolean },
): Promise<{ filesystems: Record<string, FilesystemFacts>; wal?: WalHealth; errors: string[] }> {
  const observedAt = opts.now().toISOString();
  const errors: string[] = [];
  const filesystems: Record<string, FilesystemFacts> = {};
  if (want.filesystem && mounts.size > 0) {
    const fsRun = await execInPod(client, ns, pod, 'postgres', statScript([...mounts.keys()]), opts.execTimeoutMs);
    const parsed = parseStatF(fsRun.stdout, 'exec', observedAt);
    errors.push(...parsed.problems);
    if (fsRun.exitCode !== 0)
      errors.push(`stat -f in ${pod} exited ${fsRun.exitCode}: ${fsRun.stderr.trim().slice(0, 200)}`);
    for (const [path, pvc] of mounts) {
      const f = parsed.facts.get(path);
      if (f) filesystems[pvc] = f;
    }
  }
  let wal: WalHealth | undefined;
  if (want.wal) {
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
  }
  return { filesystems, ...(wal ? { wal } : {}), errors };
}

/** Permissions each source needs, per namespace (or cluster-wide for nodes); none beyond reading Clusters: []. */
function accessFor(source: SourceName, ns: string): Access[] {
  switch (source) {
    case 'exec':
      return streamingAccess('exec', ns);
    case 'pod-proxy':
      return [{ verb: 'get', resource: 'pods', subresource: 'proxy', namespace: ns }];
    case 'kubelet-summary':
      return [{ verb: 'get', resource: 'nodes', subresource: 'proxy', namespace: '' }];
    default:
      return [];
  }
}

/** The automatic order (spec: least privilege first); Prometheus only when a URL is given. */
export function autoSources(prometheusUrl: string | undefined): SourceName[] {
  return ['cluster-status', 'pod-proxy', 'exec', 'kubelet-summary', ...(prometheusUrl ? ['prometheus' as const] : [])];
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

interface Instance {
  cs: ClusterSnapshot;
  podObj: KubeObject;
  pod: string;
  node: string | undefined;
  running: boolean;
  /** Mount path in the pod → PVC name. */
  mounts: Map<string, string>;
  /** PVC name per volume key (type/tablespace). */
  pvcByVolume: Map<string, string>;
}

/** WAL facts complete enough that a later source would add nothing the engine uses. */
function walComplete(w: WalHealth | undefined): boolean {
  if (!w) return false;
  if (w.source === STATUS_ONLY_SOURCE) return false;
  return w.readyFiles !== undefined && w.slots !== undefined && (w.archiver !== undefined || w.isPrimary === false);
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
  const candidates: SourceName[] = opts.source === 'auto' ? autoSources(opts.prometheusUrl) : [opts.source];
  const checks = candidates.flatMap((s) => namespaces.flatMap((ns) => accessFor(s, ns)));
  opts.onProgress?.('checking permissions');
  const allowed = checks.length > 0 ? await checkAccess(client, checks) : new Map<string, boolean>();
  const may = (s: SourceName, ns: string) => missingRules(allowed, accessFor(s, ns)).length === 0;
  for (const s of candidates) {
    for (const ns of s === 'kubelet-summary' ? [''] : namespaces) {
      const missing = missingRules(allowed, accessFor(s, ns));
      if (missing.length > 0) {
        for (const fact of SOURCE_FACTS[s]) {
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

  for (const source of candidates) {
    const pending = instances.filter((i) => needsFs(i) || needsWal(i));
    if (pending.length === 0) break;
    switch (source) {
      case 'cluster-status': {
        let fsUsed = 0;
        let walUsed = 0;
        let published = 0;
        for (const cs of snaps) {
          const ds = parseClusterDiskStatus(cs.cluster, opts.now().toISOString());
          problems.push(...ds.problems);
          if (!ds.present) continue;
          published++;
          for (const si of ds.instances) {
            const i = pending.find((x) => x.cs === cs && x.pod === si.pod);
            if (!i) continue;
            for (const v of si.volumes) {
              const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
              if (pvc && !m(i).filesystems[pvc]) {
                m(i).filesystems[pvc] = v.facts;
                fsUsed++;
              }
            }
            if (needsWal(i) && setWal(i, si.wal)) walUsed++;
          }
        }
        if (published === 0) {
          record(
            source,
            'filesystem',
            'unavailable',
            'the operator does not publish status.diskStatus (released CloudNativePG does not)',
          );
        } else {
          if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
          if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s), .ready backlog only`);
          if (fsUsed === 0 && walUsed === 0) record(source, 'filesystem', 'unavailable', 'status.diskStatus is empty');
        }
        break;
      }
      case 'pod-proxy': {
        const todo = pending.filter((i) => i.running && may(source, i.cs.namespace));
        let walUsed = 0;
        let fsUsed = 0;
        let failed = 0;
        let forwarded = 0;
        let forwardTried = 0;
        const failures: string[] = [];
        const proxyFailures: string[] = [];
        // Port-forward fallback: asked once per namespace, only when the proxy could not reach a pod.
        const pfAllowed = new Map<string, Promise<boolean>>();
        const pfDenied = new Set<string>();
        const mayForward = (ns: string) => {
          let p = pfAllowed.get(ns);
          if (!p) {
            const needs = portForwardAccess(ns);
            p = checkAccess(client, needs).then((r) => missingRules(r, needs).length === 0);
            pfAllowed.set(ns, p);
          }
          return p;
        };
        await Promise.all(
          todo.map((i) =>
            limit(async () => {
              opts.onProgress?.(`reading /pg/status of ${i.cs.namespace}/${i.pod}`);
              const timeoutMs = Math.max(client.timeoutMs, 10_000);
              const read = (via?: InstanceGet) =>
                readInstance(client, i.cs.namespace, i.podObj, i.cs.cluster, opts.now().toISOString(), timeoutMs, via);
              const fb = await readWithFallback(
                () => read(),
                () => mayForward(i.cs.namespace),
                () => {
                  opts.onProgress?.(`port-forward to ${i.cs.namespace}/${i.pod}`);
                  return read(portForwardGet(client, i.cs.namespace, i.pod, timeoutMs));
                },
              );
              const r = fb.result;
              if (fb.portForward === 'denied') pfDenied.add(i.cs.namespace);
              if (fb.portForward === 'used' || fb.portForward === 'unreachable') forwardTried++;
              if (r.statusBody !== undefined) opts.onPayload?.(i.cs.namespace, i.pod, 'pg-status', r.statusBody);
              if (r.metricsBody !== undefined) opts.onPayload?.(i.cs.namespace, i.pod, 'metrics', r.metricsBody);
              if (r.unreachable) {
                failed++;
                if (failures.length < 3) failures.push(r.errors[r.errors.length - 1] ?? i.pod);
                if (needsWal(i)) m(i).errors.push(...r.errors.slice(-1));
                return;
              }
              if (needsWal(i) && setWal(i, r.wal)) {
                walUsed++;
                if (fb.portForward === 'used') {
                  forwarded++;
                  const why = fb.proxyErrors?.[fb.proxyErrors.length - 1];
                  if (why && proxyFailures.length < 3) proxyFailures.push(why);
                }
              }
              for (const v of r.volumes) {
                const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
                if (pvc && !m(i).filesystems[pvc]) {
                  m(i).filesystems[pvc] = v.facts;
                  fsUsed++;
                }
              }
              if (r.errors.length > 0) problems.push(...r.errors);
            }),
          ),
        );
        if (walUsed > forwarded) record(source, 'wal', 'used', `${walUsed - forwarded} instance(s)`);
        if (forwarded > 0) {
          // say why the proxy was not enough, or nobody can tell (not even with -v)
          const why = proxyFailures.length > 0 ? ` (the pod proxy failed: ${proxyFailures.join('; ')})` : '';
          record(source, 'wal', 'used', `${forwarded} instance(s) via port-forward${why}`);
        }
        if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s) from cnpg_disk metrics`);
        for (const ns of [...pfDenied].sort()) {
          sources.push({
            source,
            fact: 'wal',
            outcome: 'denied',
            permission: rulesText(portForwardAccess(ns)),
            detail: 'port-forward fallback when the pod proxy cannot reach a pod',
            scope: ns,
          });
        }
        if (failed > 0) {
          record(
            source,
            'wal',
            'unreachable',
            `${failed} pod(s) did not answer through the pod proxy${forwardTried > 0 ? ' nor over port-forward' : ''}: ${failures.join('; ')}`,
          );
        }
        break;
      }
      case 'exec': {
        let fsUsed = 0;
        let walUsed = 0;
        let failed = 0;
        await Promise.all(
          pending
            .filter((i) => i.running && may(source, i.cs.namespace))
            .map((i) =>
              limit(async () => {
                opts.onProgress?.(`exec into ${i.cs.namespace}/${i.pod}`);
                try {
                  const want = { filesystem: needsFs(i), wal: needsWal(i) };
                  const r = await execMeasure(client, i.cs.namespace, i.pod, i.mounts, opts, want);
                  for (const [pvc, f] of Object.entries(r.filesystems)) {
                    if (!m(i).filesystems[pvc]) {
                      m(i).filesystems[pvc] = f;
                      fsUsed++;
                    }
                  }
                  if (r.wal && setWal(i, r.wal)) walUsed++;
                  m(i).errors.push(...r.errors);
                } catch (e) {
                  failed++;
                  m(i).errors.push(`exec into ${i.pod} failed: ${execFailure(e, i.cs.namespace)}`);
                }
              }),
            ),
        );
        if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
        if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s)`);
        if (failed > 0) {
          const first = instances.flatMap((i) => m(i).errors.filter((x) => x.startsWith('exec into ')))[0];
          const detail = `${failed} pod(s) failed${first ? `; first: ${first}` : ''}`;
          // exec was asked for both facts: a failure leaves both unanswered
          record(source, 'filesystem', 'unreachable', detail);
          if (walUsed === 0) record(source, 'wal', 'unreachable', detail);
        }
        break;
      }
      case 'kubelet-summary': {
        if (!may(source, '')) break;
        const needed = pending.filter((i) => needsFs(i));
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
                  const res = results.get(key(v.namespace, v.pod));
                  if (res && !res.filesystems[v.pvcName]) res.filesystems[v.pvcName] = v.facts;
                }
                used++;
              } catch (e) {
                problems.push(`kubelet summary of node ${node} unavailable (${describeApiError(e)})`);
                sources.push({
                  source,
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
          record(
            source,
            'filesystem',
            'used',
            `${used} node(s); note: get nodes/proxy is equivalent to exec on the node`,
          );
        }
        break;
      }
      case 'prometheus': {
        if (!opts.prometheusUrl) {
          record(source, 'filesystem', 'unavailable', 'no --prometheus-url given');
          break;
        }
        const nss = [...new Set(pending.map((i) => i.cs.namespace))];
        const q = prometheusQueries(nss);
        const timeout = Math.max(client.timeoutMs, 10_000);
        try {
          opts.onProgress?.('querying Prometheus');
          const [kubelet, cnpg] = await Promise.all([
            queryPrometheus(opts.prometheusUrl, q.kubelet, timeout),
            queryPrometheus(opts.prometheusUrl, q.cnpg, timeout),
          ]);
          const observedAt = opts.now().toISOString();
          const kv = kubeletVolumeStats(kubelet, observedAt);
          problems.push(...kv.problems);
          let fsUsed = 0;
          let walUsed = 0;
          for (const i of pending) {
            for (const pvc of i.mounts.values()) {
              const v = kv.volumes.find((x) => x.namespace === i.cs.namespace && x.pvcName === pvc);
              if (v && !m(i).filesystems[pvc]) {
                m(i).filesystems[pvc] = v.facts;
                fsUsed++;
              }
            }
            const mine = cnpg.filter((s) => s.labels['namespace'] === i.cs.namespace && s.labels['pod'] === i.pod);
            if (mine.length === 0) continue;
            const fs = filesystemsFromSamples(mine, i.pod, 'prometheus', observedAt);
            problems.push(...fs.problems);
            for (const v of fs.volumes) {
              const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
              if (pvc && !m(i).filesystems[pvc]) {
                m(i).filesystems[pvc] = v.facts;
                fsUsed++;
              }
            }
            if (needsWal(i)) {
              const w = walHealthFromSamples(mine, i.pod, 'prometheus', observedAt);
              problems.push(...w.problems);
              if (setWal(i, w.health)) walUsed++;
            }
          }
          if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
          if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s)`);
          if (fsUsed === 0 && walUsed === 0) {
            record(
              source,
              'filesystem',
              'unavailable',
              'Prometheus has no kubelet_volume_stats or cnpg series for these pods',
            );
          }
        } catch (e) {
          const unreachable = e instanceof PrometheusError ? e.unreachable : true;
          record(source, 'filesystem', unreachable ? 'unreachable' : 'failed', (e as Error).message);
        }
        break;
      }
    }
  }
  for (const cs of snaps) {
    cs.measurements = [...results.values()].filter((r) =>
      cs.pods.some((p) => nameOf(p) === r.pod && namespaceOf(p) === cs.namespace),
    );
  }
}

/** Why an exec failed, naming the rule to grant when the API server said 403. */
function execFailure(e: unknown, namespace: string): string {
  const text = e instanceof KubeApiError ? e.message : e instanceof Error ? e.message : String(e);
  const forbidden = (e instanceof KubeApiError && e.isForbidden) || /\b403\b/.test(text);
  return forbidden ? `${text} (grant "${rulesText(streamingAccess('exec', namespace))}")` : text;
}
