/**
 * The instance manager's endpoints through the API server's pod proxy
 * (`get pods/proxy`): `/pg/status` on port 8000 and `/metrics` on 9187.
 *
 *   GET /api/v1/namespaces/NS/pods/[https:]POD:8000/proxy/pg/status
 *   GET /api/v1/namespaces/NS/pods/[https:]POD:9187/proxy/metrics
 *
 * TLS: CloudNativePG ≥ 1.24 serves the status port with TLS and then sets the
 * postgres container's probes to scheme HTTPS; we follow the readiness probe
 * and try https then http when the pod spec does not say. The metrics port
 * uses TLS only when the Cluster sets spec.monitoring.tls.enabled.
 *
 * /pg/status fields we read (CloudNativePG PostgresqlStatus JSON):
 * isPrimary, currentLsn, lastArchivedWAL, lastArchivedWALTime, lastFailedWAL,
 * lastFailedWALTime, readyWalFiles (omitted when 0; filled on primaries
 * only), replicationSlotsInfo[] {slotName, slotType, active, restartLsn,
 * walStatus, safeWalSize} (primaries only), instanceManagerVersion.
 *
 * We make these requests ourselves (not with client-node's generated
 * connectGetNamespacedPodProxyWithPath) to bound the body size and to see
 * the raw text whatever the content type: the generated call JSON-parses or
 * rejects bodies by content type.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { DEFAULT_METRICS_QUERIES_TTL_MS, parseGoDuration, type ReplicationSlot, type WalHealth } from '@cnpg-disk/core';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { arr, get, isObj, str } from '../model/kube-objects.js';
import type { KubeObject } from '../model/snapshot.js';
import {
  filesystemsFromSamples,
  parsePrometheusText,
  walHealthFromSamples,
  type MetricsVolume,
  type ParsedMetrics,
} from './prometheus.js';

export const STATUS_PORT = 8000;
/**
 * WalHealth.source when only /pg/status answered: the archiver counters
 * (archived/failed count) are then unknown and shown as such, not as 0.
 */
export const STATUS_ONLY_SOURCE = 'pod-proxy:pg-status';
export const METRICS_PORT = 9187;
/** Largest body we read from an instance (a metrics page is usually < 200 KiB). */
export const MAX_PROXY_BODY = 8 * 1024 * 1024;

export interface ProxyResponse {
  status: number;
  body: string;
  contentType?: string;
}

/** GET through the pod proxy. HTTP errors are returned, network errors thrown as KubeApiError. */
export async function proxyGet(
  client: KubeClient,
  namespace: string,
  target: string,
  path: string,
  timeoutMs: number,
  maxBytes = MAX_PROXY_BODY,
): Promise<ProxyResponse> {
  const apiPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${target
    .split(':')
    .map(encodeURIComponent)
    .join(':')}/proxy/${path.replace(/^\//, '')}`;
  return apiGet(client, apiPath, `get pods/proxy ${namespace}/${target}`, timeoutMs, maxBytes);
}

/**
 * A raw GET to the API server with the kubeconfig's credentials (counted
 * like every other request). HTTP errors are returned; network errors,
 * timeouts and oversized bodies are thrown as KubeApiError.
 */
export async function apiGet(
  client: KubeClient,
  apiPath: string,
  action: string,
  timeoutMs: number,
  maxBytes = MAX_PROXY_BODY,
): Promise<ProxyResponse> {
  const base = new URL(client.server);
  const url = new URL(`${base.pathname.replace(/\/$/, '')}${apiPath}`, base);
  client.requests.push({ method: 'GET', url: url.toString() });
  // The client's shared keep-alive agent: one TLS context per API server, not one per request.
  const auth = await client.requestAuth();
  const opts: https.RequestOptions = { method: 'GET', ...auth, headers: { ...auth.headers, accept: '*/*' } };
  return httpGet(url, opts, action, apiPath, timeoutMs, maxBytes);
}

/**
 * One GET with the given options (also used over a port-forward): HTTP
 * errors are returned; network errors, timeouts and bodies larger than
 * maxBytes are thrown as KubeApiError naming `what`.
 */
export function httpGet(
  url: URL,
  opts: https.RequestOptions,
  action: string,
  what: string,
  timeoutMs: number,
  maxBytes = MAX_PROXY_BODY,
  retried = false,
): Promise<ProxyResponse> {
  return new Promise<ProxyResponse>((resolve, reject) => {
    const mod = url.protocol === 'http:' ? http : https;
    const req = mod.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooBig = false;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          tooBig = true;
          res.destroy();
        } else chunks.push(c);
      });
      res.on('error', (e) => reject(new KubeApiError(action, undefined, 'Closed', e.message)));
      res.on('close', () => {
        if (tooBig) {
          reject(new KubeApiError(action, undefined, 'TooLarge', `${what} is larger than ${maxBytes} bytes`));
          return;
        }
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(res.headers['content-type'] ? { contentType: res.headers['content-type'] } : {}),
        });
      });
    });
    req.setTimeout(timeoutMs > 0 ? timeoutMs : 15_000, () =>
      req.destroy(new KubeApiError(action, undefined, 'Timeout', `${what} timed out`)),
    );
    req.on('error', (e) => {
      // A kept-alive connection the server closed just as we reused it: the
      // GET never reached it, so ask once more on a new connection.
      if (!retried && req.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET') {
        resolve(httpGet(url, opts, action, what, timeoutMs, maxBytes, true));
        return;
      }
      reject(
        e instanceof KubeApiError
          ? e
          : new KubeApiError(action, undefined, (e as NodeJS.ErrnoException).code, e.message),
      );
    });
    req.end();
  });
}

/** Which schemes to try for the status port, from the pod spec. */
export function statusSchemes(pod: KubeObject): ('https' | 'http')[] {
  const containers = arr(pod, 'spec', 'containers');
  const pg = containers.find((c) => str(c, 'name') === 'postgres') ?? containers[0];
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const scheme = str(pg, probe, 'httpGet', 'scheme');
    const port = get(pg, probe, 'httpGet', 'port');
    if (scheme && (port === undefined || port === STATUS_PORT || port === 'status')) {
      return scheme.toUpperCase() === 'HTTPS' ? ['https'] : ['http'];
    }
  }
  return ['https', 'http'];
}

export function metricsScheme(cluster: KubeObject): 'https' | 'http' {
  return get(cluster, 'spec', 'monitoring', 'tls', 'enabled') === true ? 'https' : 'http';
}

/**
 * How long CloudNativePG caches the results of its monitoring queries for
 * this Cluster (spec.monitoring.metricsQueriesTTL; 30 s when unset; 0 or a
 * negative duration: no cache, the queries run at every scrape). Unreadable
 * text: a problem, and the age of the metrics' figures is unknown.
 */
export function metricsQueriesTtl(cluster: KubeObject): { ms: number } | { problem: string } {
  const raw = get(cluster, 'spec', 'monitoring', 'metricsQueriesTTL');
  if (raw === undefined || raw === null) return { ms: DEFAULT_METRICS_QUERIES_TTL_MS };
  const name = str(cluster, 'metadata', 'name') ?? '';
  if (typeof raw !== 'string') {
    return {
      problem: `Cluster ${name}: spec.monitoring.metricsQueriesTTL is not a duration; the age of its /metrics figures is unknown`,
    };
  }
  const d = parseGoDuration(raw);
  if (!d.ok)
    return {
      problem: `Cluster ${name}: spec.monitoring.metricsQueriesTTL ${d.error}; the age of its /metrics figures is unknown`,
    };
  return { ms: Math.max(0, d.ms) };
}

/** The true time of figures read at `scrapedAt` from a page cached for `ttl` (undefined: unknown). */
export function cachedSince(scrapedAt: string, ttl: { ms: number } | { problem: string }): string | undefined {
  if (!('ms' in ttl)) return undefined;
  return new Date(Date.parse(scrapedAt) - ttl.ms).toISOString();
}

function target(scheme: 'https' | 'http', pod: string, port: number): string {
  return scheme === 'https' ? `https:${pod}:${port}` : `${pod}:${port}`;
}

/** "16/B374D848" → bytes; undefined when malformed. */
export function parseLsn(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/**
 * The instance manager's archiver times: RFC 3339 (Go's database/sql turns a
 * timestamptz into RFC3339Nano), PostgreSQL text ("2024-05-05 12:00:00+00"),
 * or "-infinity"/"" for never.
 */
export function parseStatusTime(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (t === '' || /^[+-]?infinity$/i.test(t)) return undefined;
  let iso = t.replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  iso = iso.replace(/([+-]\d{2})$/, '$1:00');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso)) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export interface PgStatus {
  health: WalHealth;
  instanceManagerVersion?: string;
  problems: string[];
}

/** Parses /pg/status (CloudNativePG PostgresqlStatus). */
export function parsePgStatus(body: string, instance: string, observedAt: string): PgStatus | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { problem: `/pg/status of ${instance} is not JSON: ${JSON.stringify(body.slice(0, 80))}` };
  }
  if (!isObj(doc) || typeof doc['isPrimary'] !== 'boolean') {
    return { problem: `/pg/status of ${instance} is not an instance status (no isPrimary)` };
  }
  const problems: string[] = [];
  const isPrimary = doc['isPrimary'];
  const current = parseLsn(doc['currentLsn']);
  const slots: ReplicationSlot[] = [];
  const rawSlots = doc['replicationSlotsInfo'];
  if (rawSlots !== undefined && rawSlots !== null && !Array.isArray(rawSlots)) {
    problems.push(`/pg/status of ${instance}: replicationSlotsInfo is not a list`);
  }
  for (const s of Array.isArray(rawSlots) ? rawSlots : []) {
    const name = str(s, 'slotName');
    if (!name) {
      problems.push(`/pg/status of ${instance}: a replication slot has no name`);
      continue;
    }
    const restart = parseLsn(get(s, 'restartLsn'));
    const safe = get(s, 'safeWalSize');
    const walStatus = str(s, 'walStatus');
    slots.push({
      name,
      type: str(s, 'slotType') === 'logical' ? 'logical' : 'physical',
      active: get(s, 'active') === true,
      ...(current !== undefined && restart !== undefined
        ? { retainedBytes: current > restart ? current - restart : 0n }
        : {}),
      ...(walStatus ? { walStatus } : {}),
      ...(typeof safe === 'number' && Number.isSafeInteger(safe) ? { safeWalSizeBytes: BigInt(safe) } : {}),
    });
  }
  const lat = parseStatusTime(doc['lastArchivedWALTime']);
  const lft = parseStatusTime(doc['lastFailedWALTime']);
  const law = str(doc, 'lastArchivedWAL');
  const lfw = str(doc, 'lastFailedWAL');
  const ready = doc['readyWalFiles'];
  const health: WalHealth = { instance, isPrimary, source: 'pod-proxy', observedAt };
  // A WAL name without a readable time cannot be compared: the archiver is
  // unknown (the engine then skips the check with a warning), never "never archived".
  const timesMissing = (law !== undefined && lat === undefined) || (lfw !== undefined && lft === undefined);
  if (isPrimary && timesMissing) {
    problems.push(
      `/pg/status of ${instance}: an archived or failed WAL without a readable time; archive health unknown`,
    );
  }
  if (isPrimary) {
    // The instance manager reads the archiver and slots on primaries only;
    // readyWalFiles is omitted from the JSON when it is 0.
    if (!timesMissing)
      health.archiver = {
        archivedCount: 0,
        failedCount: 0,
        ...(law ? { lastArchivedWal: law } : {}),
        ...(lat ? { lastArchivedTime: lat } : {}),
        ...(lfw ? { lastFailedWal: lfw } : {}),
        ...(lft ? { lastFailedTime: lft } : {}),
      };
    if (ready === undefined) health.readyFiles = 0;
    health.slots = slots.sort((a, b) => a.name.localeCompare(b.name));
  }
  if (ready !== undefined) {
    if (typeof ready === 'number' && Number.isSafeInteger(ready) && ready >= 0) health.readyFiles = ready;
    else problems.push(`/pg/status of ${instance}: readyWalFiles ${JSON.stringify(ready)} is not a count`);
  }
  const version = str(doc, 'instanceManagerVersion');
  return { health, ...(version ? { instanceManagerVersion: version } : {}), problems };
}

/**
 * Merges what /pg/status and /metrics say: status for WAL names, times and
 * slot details; metrics for the archiver counters, .done files, pg_wal size
 * and for replicas (whose status has neither archiver nor slots).
 */
export function mergeWal(
  status: WalHealth | undefined,
  metrics: WalHealth | undefined,
  metricsHaveCounts: boolean,
): WalHealth | undefined {
  if (!status) return metrics;
  if (!metrics) return status;
  const out: WalHealth = { ...status };
  // One time for the merged facts: the oldest (the metrics page's may be cached).
  const older = [status.observedAt, metrics.observedAt].map((t) => (t === undefined ? Number.NaN : Date.parse(t)));
  if (older.some(Number.isNaN)) delete out.observedAt;
  else out.observedAt = new Date(Math.min(...older)).toISOString();
  if (out.isPrimary === undefined && metrics.isPrimary !== undefined) out.isPrimary = metrics.isPrimary;
  if (metrics.archiver) {
    const a = status.archiver;
    out.archiver = {
      ...metrics.archiver,
      ...(a?.lastArchivedWal ? { lastArchivedWal: a.lastArchivedWal } : {}),
      ...(a?.lastFailedWal ? { lastFailedWal: a.lastFailedWal } : {}),
      lastArchivedTime: a?.lastArchivedTime ?? metrics.archiver.lastArchivedTime,
      lastFailedTime: a?.lastFailedTime ?? metrics.archiver.lastFailedTime,
    };
    if (out.archiver.lastArchivedTime === undefined) delete out.archiver.lastArchivedTime;
    if (out.archiver.lastFailedTime === undefined) delete out.archiver.lastFailedTime;
    if (!metricsHaveCounts && a) {
      out.archiver.archivedCount = a.archivedCount;
      out.archiver.failedCount = a.failedCount;
    }
  }
  if (metrics.readyFiles !== undefined) out.readyFiles = metrics.readyFiles;
  if (metrics.doneFiles !== undefined) out.doneFiles = metrics.doneFiles;
  if (metrics.walDirBytes !== undefined) out.walDirBytes = metrics.walDirBytes;
  if (!out.slots && metrics.slots) out.slots = metrics.slots;
  else if (out.slots && metrics.slots) {
    // Status knows wal_status and safe size; metrics may know retention on replicas.
    out.slots = out.slots.map((s) => {
      const m = metrics.slots?.find((x) => x.name === s.name);
      return s.retainedBytes === undefined && m?.retainedBytes !== undefined
        ? { ...s, retainedBytes: m.retainedBytes }
        : s;
    });
  }
  return out;
}

export interface PodProxyResult {
  wal?: WalHealth;
  /** Filesystem facts, when the metrics page carries cnpg_disk_* (a disk-aware build). */
  volumes: MetricsVolume[];
  /** Raw payloads, for support bundles. */
  statusBody?: string;
  metricsBody?: string;
  instanceManagerVersion?: string;
  /** The archiver counters were unknown (only /pg/status answered). */
  countsUnknown: boolean;
  errors: string[];
  /** HTTP 403 from the proxy: the permission is missing after all. */
  forbidden: boolean;
  /** Neither endpoint answered. */
  unreachable: boolean;
}

/** One GET of an instance endpoint (the pod proxy by default; a port-forward as the fallback). */
export type InstanceGet = (scheme: 'https' | 'http', port: number, path: string) => Promise<ProxyResponse>;

/** Reads /pg/status and /metrics of one instance through the pod proxy (or through `via`). */
export async function readInstance(
  client: KubeClient,
  namespace: string,
  pod: KubeObject,
  cluster: KubeObject,
  observedAt: string,
  timeoutMs: number,
  via?: InstanceGet,
): Promise<PodProxyResult> {
  const name = str(pod, 'metadata', 'name') ?? '';
  const fetchFrom: InstanceGet =
    via ?? ((scheme, port, path) => proxyGet(client, namespace, target(scheme, name, port), path, timeoutMs));
  const errors: string[] = [];
  let forbidden = false;
  let statusBody: string | undefined;
  let statusWal: WalHealth | undefined;
  let imVersion: string | undefined;
  const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

  for (const scheme of statusSchemes(pod)) {
    try {
      const r = await fetchFrom(scheme, STATUS_PORT, 'pg/status');
      if (r.status === 403) {
        forbidden = true;
        errors.push(`pod proxy to ${name} refused (403): grant get pods/proxy in namespace ${namespace}`);
        break;
      }
      if (r.status !== 200) {
        // 502/503: nothing listens, or the scheme is wrong; 500: the instance manager failed.
        errors.push(`/pg/status of ${name} over ${scheme}: HTTP ${r.status} ${r.body.trim().slice(0, 160)}`);
        continue;
      }
      statusBody = r.body;
      const parsed = parsePgStatus(r.body, name, observedAt);
      if ('problem' in parsed) errors.push(parsed.problem);
      else {
        statusWal = parsed.health;
        imVersion = parsed.instanceManagerVersion;
        errors.push(...parsed.problems);
      }
      errors.splice(0, errors.length, ...errors.filter((e) => !e.startsWith(`/pg/status of ${name} over`)));
      break;
    } catch (e) {
      errors.push(`/pg/status of ${name} over ${scheme}: ${describe(e)}`);
    }
  }

  let metricsBody: string | undefined;
  let metricsWal: WalHealth | undefined;
  let counts = false;
  let volumes: MetricsVolume[] = [];
  if (!forbidden) {
    const scheme = metricsScheme(cluster);
    try {
      const r = await fetchFrom(scheme, METRICS_PORT, 'metrics');
      if (r.status === 403) forbidden = true;
      else if (r.status !== 200) errors.push(`/metrics of ${name}: HTTP ${r.status} ${r.body.trim().slice(0, 160)}`);
      else {
        metricsBody = r.body;
        const parsed: ParsedMetrics = parsePrometheusText(r.body);
        if (parsed.problems.length > 0)
          errors.push(`/metrics of ${name} has malformed lines: ${parsed.problems.join('; ')}`);
        if (parsed.samples.length === 0) errors.push(`/metrics of ${name} has no samples`);
        const w = walHealthFromSamples(parsed.samples, name, 'pod-proxy', observedAt);
        errors.push(...w.problems);
        metricsWal = w.health;
        if (metricsWal) {
          // CloudNativePG caches its query results (archiver, slots) for metricsQueriesTTL.
          const ttl = metricsQueriesTtl(cluster);
          if ('problem' in ttl) errors.push(ttl.problem);
          const since = cachedSince(observedAt, ttl);
          if (since) metricsWal.observedAt = since;
          else delete metricsWal.observedAt;
        }
        counts = w.archiverCounts;
        const fs = filesystemsFromSamples(parsed.samples, name, 'pod-proxy', observedAt);
        errors.push(...fs.problems);
        volumes = fs.volumes;
      }
    } catch (e) {
      errors.push(`/metrics of ${name}: ${describe(e)}`);
    }
  }
  const wal = mergeWal(statusWal, metricsWal, counts);
  const countsUnknown = !!statusWal?.archiver && !counts;
  if (wal && countsUnknown) wal.source = STATUS_ONLY_SOURCE;
  return {
    ...(wal ? { wal } : {}),
    volumes,
    ...(statusBody !== undefined ? { statusBody } : {}),
    ...(metricsBody !== undefined ? { metricsBody } : {}),
    ...(imVersion ? { instanceManagerVersion: imVersion } : {}),
    countsUnknown,
    errors,
    forbidden,
    unreachable: statusBody === undefined && metricsBody === undefined,
  };
}
