/**
 * Prometheus: the text exposition format (what an instance serves on :9187,
 * read through the pod proxy) and the HTTP query API (`--prometheus-url`).
 * Both end up as a flat list of samples, which the mappers below turn into
 * the core model's WAL health and filesystem facts.
 *
 * The text parser is our own, deliberately: the npm parser we looked at
 * (parse-prometheus-text-format 1.1.1) silently drops lines it cannot read
 * and returns values as strings without types. We need the opposite: every
 * malformed line reported, and byte counts read exactly (Go writes large
 * gauges as e.g. `1.073741824e+09`, which we turn into a BigInt only when it
 * is a whole number — never rounded).
 *
 * Metric names (CloudNativePG 1.29, facts from its sources):
 *   cnpg_pg_stat_archiver_{archived_count,failed_count}           counters
 *   cnpg_pg_stat_archiver_{last_archived_time,last_failed_time}   epoch s, -1 = never
 *   cnpg_collector_pg_wal_archive_status{value="ready"|"done"}    archive_status files
 *   cnpg_collector_pg_wal{value="size"}                            bytes of WAL segments in pg_wal
 *   cnpg_pg_replication_slots_active{slot_name,slot_type,database} 1/0
 *   cnpg_pg_replication_slots_pg_wal_lsn_diff{slot_name,...}       bytes retained
 *   cnpg_pg_replication_in_recovery                                1 on a replica
 * and, from builds that publish disk metrics (this project's probe, or an
 * operator build with the autoresize proposal), labels volume_type/tablespace:
 *   cnpg_disk_{total,used,available}_bytes, cnpg_disk_inodes_{total,used,free},
 *   cnpg_wal_pending_archive_files, cnpg_wal_dir_bytes,
 *   cnpg_wal_slot_retention_bytes{slot_name}, cnpg_wal_slot_active{slot_name}.
 * Kubelet metrics (Prometheus only): kubelet_volume_stats_{capacity,used,
 * available}_bytes and kubelet_volume_stats_inodes{,_free,_used} with labels
 * namespace and persistentvolumeclaim.
 */
import { METRICS } from '@cnpg-disk/core';
import type { FilesystemFacts, ReplicationSlot, VolumeType, WalHealth } from '@cnpg-disk/core';
import { filesystemFacts } from './parse.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  /** The value as written (Go float syntax: 12, 1.5e+09, NaN, +Inf). */
  value: string;
  /** Milliseconds since the epoch, when the sample carries a timestamp. */
  timestampMs?: number;
}

export interface ParsedMetrics {
  samples: Sample[];
  /** One sentence per malformed line (at most 5, then a count). */
  problems: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;

/** Parses one sample line; returns a reason string when it is malformed. */
function parseLine(line: string): Sample | string {
  const m = NAME.exec(line);
  if (!m) return 'no metric name';
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const ln = LABEL_NAME.exec(line.slice(i));
      if (!ln) return 'bad label name';
      i += ln[0].length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') return `label ${ln[0]} has no "="`;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return `label ${ln[0]} value is not quoted`;
      i++;
      let v = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return `label ${ln[0]} value is not terminated`;
        if (c === '\\') {
          const n = line[i + 1];
          if (n === 'n') v += '\n';
          else if (n === '\\' || n === '"') v += n;
          else return `label ${ln[0]} has a bad escape`;
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          break;
        }
        v += c;
        i++;
      }
      labels[ln[0]] = v;
      while (line[i] === ' ') i++;
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      return 'labels are not separated by ","';
    }
  }
  const rest = line.slice(i);
  if (rest.length > 0 && !/^[ \t]/.test(rest)) return 'no space after the name';
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length < 1 || parts.length > 2 || parts[0] === '') return 'expected a value and an optional timestamp';
  const value = parts[0] as string;
  if (!VALUE.test(value)) return `value ${JSON.stringify(value.slice(0, 30))} is not a number`;
  const sample: Sample = { name, labels, value };
  if (parts.length === 2) {
    if (!/^-?\d{1,16}$/.test(parts[1] as string)) return 'timestamp is not an integer';
    sample.timestampMs = Number(parts[1]);
  }
  return sample;
}

/** Parses the Prometheus text exposition format (0.0.4; OpenMetrics' `# EOF` is a comment). */
export function parsePrometheusText(text: string): ParsedMetrics {
  const samples: Sample[] = [];
  const problems: string[] = [];
  let bad = 0;
  const lines = text.split('\n');
  lines.forEach((raw, n) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const r = parseLine(line);
    if (typeof r === 'string') {
      bad++;
      if (problems.length < 5) problems.push(`line ${n + 1}: ${r}: ${JSON.stringify(line.slice(0, 80))}`);
    } else samples.push(r);
  });
  if (bad > problems.length) problems.push(`${bad - problems.length} more malformed line(s)`);
  return { samples, problems };
}

/**
 * A Go float written as text → the exact integer it denotes, or undefined
 * when it is not a whole number (fraction, NaN, Inf) or is absurdly large.
 */
export function exactInteger(text: string): bigint | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const sign = m[1] === '-' ? -1n : 1n;
  const intPart = m[2] ?? '';
  const frac = m[3] ?? '';
  const exp = Number(m[4] ?? '0');
  if (!Number.isSafeInteger(exp) || exp > 40 || exp < -400) return undefined;
  let digits = (intPart + frac).replace(/^0+(?=\d)/, '');
  let scale = frac.length - exp; // value = digits × 10^-scale
  if (scale <= 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  } else {
    const tail = digits.slice(Math.max(0, digits.length - scale));
    if (/[^0]/.test(tail)) return undefined;
    digits = digits.slice(0, Math.max(0, digits.length - scale)) || '0';
  }
  if (digits.length > 30) return undefined;
  return sign * BigInt(digits || '0');
}

/** A finite float value, or undefined. */
export function finiteNumber(text: string): number | undefined {
  if (!VALUE.test(text.trim()) || /Inf|NaN/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function nonNegativeBytes(s: Sample | undefined, what: string, problems: string[]): bigint | undefined {
  if (!s) return undefined;
  const v = exactInteger(s.value);
  if (v === undefined || v < 0n) {
    problems.push(`${what}: ${s.name} = ${JSON.stringify(s.value)} is not a whole, non-negative byte count`);
    return undefined;
  }
  return v;
}

function count(s: Sample | undefined, what: string, problems: string[]): number | undefined {
  const v = nonNegativeBytes(s, what, problems);
  if (v === undefined) return undefined;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    problems.push(`${what}: ${s?.name} is too large to be a count`);
    return undefined;
  }
  return Number(v);
}

/** Epoch seconds → RFC 3339; -1 or 0 (CloudNativePG's "never") → undefined. */
function epochTime(s: Sample | undefined): string | undefined {
  if (!s) return undefined;
  const n = finiteNumber(s.value);
  if (n === undefined || n <= 0) return undefined;
  const d = new Date(Math.round(n * 1000));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

export interface MetricsWal {
  health?: WalHealth;
  problems: string[];
  /** Whether pg_stat_archiver counters were present (they are not on replicas without archive_mode=always). */
  archiverCounts: boolean;
}

/**
 * WAL health of one instance from its samples (already narrowed to that
 * instance). Only what the metrics say: fields without a metric stay unset.
 */
export function walHealthFromSamples(
  samples: Sample[],
  instance: string,
  source: string,
  observedAt: string,
): MetricsWal {
  const problems: string[] = [];
  const where = `metrics of ${instance}`;
  const archived = find(samples, 'cnpg_pg_stat_archiver_archived_count');
  const failed = find(samples, 'cnpg_pg_stat_archiver_failed_count');
  const lastArchived = find(samples, 'cnpg_pg_stat_archiver_last_archived_time');
  const lastFailed = find(samples, 'cnpg_pg_stat_archiver_last_failed_time');
  const inRecovery = find(samples, 'cnpg_pg_replication_in_recovery');
  const ready =
    find(samples, 'cnpg_collector_pg_wal_archive_status', { value: 'ready' }) ??
    find(samples, METRICS.walPendingArchiveFiles.name);
  const done = find(samples, 'cnpg_collector_pg_wal_archive_status', { value: 'done' });
  const walSize = find(samples, 'cnpg_collector_pg_wal', { value: 'size' }) ?? find(samples, METRICS.walDirBytes.name);

  // Slots: CloudNativePG's default query, else the probe's metrics.
  const slots = new Map<string, ReplicationSlot>();
  for (const s of samples) {
    const name = s.labels['slot_name'];
    if (!name) continue;
    if (s.name === 'cnpg_pg_replication_slots_active' || s.name === METRICS.walSlotActive.name) {
      const cur = slots.get(name) ?? { name, type: 'physical', active: false };
      cur.active = finiteNumber(s.value) === 1;
      if (s.labels['slot_type'] === 'logical') cur.type = 'logical';
      slots.set(name, cur);
    }
  }
  for (const s of samples) {
    const name = s.labels['slot_name'];
    if (!name) continue;
    if (s.name === 'cnpg_pg_replication_slots_pg_wal_lsn_diff' || s.name === METRICS.walSlotRetentionBytes.name) {
      const cur = slots.get(name);
      if (!cur) continue;
      const v = exactInteger(s.value);
      // NaN: the slot has no restart_lsn yet; negative: a replica ahead of the slot. Neither retains WAL.
      if (v !== undefined) cur.retainedBytes = v < 0n ? 0n : v;
    }
  }
  const slotMetricsPresent = samples.some(
    (s) => s.name.startsWith('cnpg_pg_replication_slots_') || s.name.startsWith('cnpg_wal_slot_'),
  );
  const knowsSlots =
    slotMetricsPresent ||
    // CloudNativePG exports no series when there is no slot; the collector's own
    // series prove the query ran.
    samples.some((s) => s.name === 'cnpg_collector_up') ||
    samples.some((s) => s.name === METRICS.walInactiveSlots.name);

  const anything =
    archived || failed || lastArchived || lastFailed || ready || done || walSize || slotMetricsPresent || inRecovery;
  if (!anything) return { problems, archiverCounts: false };

  const health: WalHealth = { instance, source, observedAt };
  if (inRecovery) {
    const v = finiteNumber(inRecovery.value);
    if (v === 0 || v === 1) health.isPrimary = v === 0;
  }
  const archivedCount = count(archived, where, problems);
  const failedCount = count(failed, where, problems);
  const lat = epochTime(lastArchived);
  const lft = epochTime(lastFailed);
  if (archivedCount !== undefined || failedCount !== undefined || lat || lft) {
    health.archiver = {
      archivedCount: archivedCount ?? 0,
      failedCount: failedCount ?? 0,
      ...(lat ? { lastArchivedTime: lat } : {}),
      ...(lft ? { lastFailedTime: lft } : {}),
    };
  }
  const readyFiles = count(ready, where, problems);
  if (readyFiles !== undefined) health.readyFiles = readyFiles;
  const doneFiles = count(done, where, problems);
  if (doneFiles !== undefined) health.doneFiles = doneFiles;
  const walDirBytes = nonNegativeBytes(walSize, where, problems);
  if (walDirBytes !== undefined) health.walDirBytes = walDirBytes;
  if (knowsSlots) health.slots = [...slots.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { health, problems, archiverCounts: archivedCount !== undefined && failedCount !== undefined };
}

export interface MetricsVolume {
  type: VolumeType;
  tablespace?: string;
  facts: FilesystemFacts;
}

/** Filesystem facts per volume from cnpg_disk_* samples (one instance). */
export function filesystemsFromSamples(
  samples: Sample[],
  instance: string,
  source: string,
  observedAt: string,
): { volumes: MetricsVolume[]; problems: string[] } {
  const problems: string[] = [];
  const keys = new Map<string, { type: VolumeType; tablespace?: string }>();
  for (const s of samples) {
    if (s.name !== METRICS.diskTotalBytes.name) continue;
    const t = s.labels['volume_type'];
    if (t !== 'data' && t !== 'wal' && t !== 'tablespace') continue;
    const ts = s.labels['tablespace'] || undefined;
    if (t === 'tablespace' && !ts) continue;
    keys.set(`${t}/${ts ?? ''}`, { type: t, ...(ts ? { tablespace: ts } : {}) });
  }
  const volumes: MetricsVolume[] = [];
  for (const k of keys.values()) {
    const sel = { volume_type: k.type, tablespace: k.tablespace ?? '' };
    const pick = (name: string) =>
      samples.find(
        (s) =>
          s.name === name &&
          s.labels['volume_type'] === sel.volume_type &&
          (s.labels['tablespace'] ?? '') === sel.tablespace,
      );
    const where = `disk metrics of ${instance} (${k.type}${k.tablespace ? ` ${k.tablespace}` : ''})`;
    const total = nonNegativeBytes(pick(METRICS.diskTotalBytes.name), where, problems);
    const used = nonNegativeBytes(pick(METRICS.diskUsedBytes.name), where, problems);
    const avail = nonNegativeBytes(pick(METRICS.diskAvailableBytes.name), where, problems);
    if (total === undefined || used === undefined || avail === undefined) {
      problems.push(`${where}: total, used or available bytes missing`);
      continue;
    }
    if (used > total || avail > total) {
      problems.push(`${where}: used or available bytes exceed the total`);
      continue;
    }
    volumes.push({
      ...k,
      facts: filesystemFacts({
        totalBytes: total,
        usedBytes: used,
        availableBytes: avail,
        inodesTotal: nonNegativeBytes(pick(METRICS.diskInodesTotal.name), where, problems),
        inodesUsed: nonNegativeBytes(pick(METRICS.diskInodesUsed.name), where, problems),
        inodesFree: nonNegativeBytes(pick(METRICS.diskInodesFree.name), where, problems),
        source,
        observedAt,
      }),
    });
  }
  return { volumes, problems };
}

export interface KubeletVolumeStat {
  namespace: string;
  pvcName: string;
  facts: FilesystemFacts;
}

/** kubelet_volume_stats_* samples (any number of PVCs) → facts per PVC. */
export function kubeletVolumeStats(
  samples: Sample[],
  observedAt: string,
): { volumes: KubeletVolumeStat[]; problems: string[] } {
  const problems: string[] = [];
  const byPvc = new Map<string, Map<string, Sample>>();
  for (const s of samples) {
    if (!s.name.startsWith('kubelet_volume_stats_')) continue;
    const ns = s.labels['namespace'];
    const pvc = s.labels['persistentvolumeclaim'];
    if (!ns || !pvc) continue;
    const key = `${ns}/${pvc}`;
    const m = byPvc.get(key) ?? new Map<string, Sample>();
    // Several series for one PVC (e.g. scraped from two kubelets after a move): keep the newest.
    const prev = m.get(s.name);
    if (!prev || (s.timestampMs ?? 0) >= (prev.timestampMs ?? 0)) m.set(s.name, s);
    byPvc.set(key, m);
  }
  const volumes: KubeletVolumeStat[] = [];
  for (const [key, m] of byPvc) {
    const [namespace = '', pvcName = ''] = key.split('/');
    const where = `kubelet_volume_stats of ${key}`;
    const total = nonNegativeBytes(m.get('kubelet_volume_stats_capacity_bytes'), where, problems);
    const used = nonNegativeBytes(m.get('kubelet_volume_stats_used_bytes'), where, problems);
    const avail = nonNegativeBytes(m.get('kubelet_volume_stats_available_bytes'), where, problems);
    if (total === undefined || used === undefined || avail === undefined) {
      problems.push(`${where}: capacity, used or available bytes missing`);
      continue;
    }
    if (used > total || avail > total) {
      problems.push(`${where}: used or available bytes exceed the capacity`);
      continue;
    }
    const ts = m.get('kubelet_volume_stats_used_bytes')?.timestampMs;
    volumes.push({
      namespace,
      pvcName,
      facts: filesystemFacts({
        totalBytes: total,
        usedBytes: used,
        availableBytes: avail,
        inodesTotal: nonNegativeBytes(m.get('kubelet_volume_stats_inodes'), where, problems),
        inodesFree: nonNegativeBytes(m.get('kubelet_volume_stats_inodes_free'), where, problems),
        inodesUsed: nonNegativeBytes(m.get('kubelet_volume_stats_inodes_used'), where, problems),
        source: 'prometheus',
        observedAt: ts !== undefined ? new Date(ts).toISOString() : observedAt,
      }),
    });
  }
  return { volumes, problems };
}

// ---------------------------------------------------------------------------
// The Prometheus HTTP API (instant queries).

export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly unreachable: boolean,
  ) {
    super(message);
    this.name = 'PrometheusError';
  }
}

/** Parses an /api/v1/query response (instant vector) into samples. */
export function parseQueryResponse(doc: unknown): Sample[] {
  const d = doc as { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (typeof d !== 'object' || d === null) throw new PrometheusError('the response is not a JSON object', false);
  if (d.status !== 'success') {
    throw new PrometheusError(
      `the query failed: ${typeof d.error === 'string' ? d.error : 'status ' + String(d.status)}`,
      false,
    );
  }
  if (d.data?.resultType !== 'vector' || !Array.isArray(d.data.result)) {
    throw new PrometheusError('the response has no instant vector (data.resultType vector)', false);
  }
  const out: Sample[] = [];
  for (const r of d.data.result as unknown[]) {
    const metric = (r as { metric?: unknown }).metric;
    const value = (r as { value?: unknown }).value;
    if (typeof metric !== 'object' || metric === null || !Array.isArray(value) || value.length !== 2) {
      throw new PrometheusError('a result has no metric/value pair', false);
    }
    const [ts, v] = value as [unknown, unknown];
    if (typeof ts !== 'number' || typeof v !== 'string')
      throw new PrometheusError('a result value is malformed', false);
    const labels: Record<string, string> = {};
    for (const [k, lv] of Object.entries(metric as Record<string, unknown>)) if (typeof lv === 'string') labels[k] = lv;
    const { __name__: name = '', ...rest } = labels;
    out.push({ name, labels: rest, value: v, timestampMs: Math.round(ts * 1000) });
  }
  return out;
}

/** Escapes a string for a PromQL regex matcher inside double quotes. */
function promRegexLiteral(s: string): string {
  return s
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"');
}

/** The two queries we send: one for kubelet volume stats, one for cnpg_* — per set of namespaces, not per PVC. */
export function prometheusQueries(namespaces: string[]): { kubelet: string; cnpg: string } {
  const ns = namespaces.map(promRegexLiteral).join('|');
  return {
    kubelet: `{__name__=~"kubelet_volume_stats_(capacity_bytes|used_bytes|available_bytes|inodes|inodes_free|inodes_used)",namespace=~"${ns}"}`,
    cnpg: `{__name__=~"cnpg_(pg_stat_archiver_.*|collector_pg_wal.*|pg_replication_slots_.*|pg_replication_in_recovery|disk_.*|wal_.*)",namespace=~"${ns}"}`,
  };
}

/** Runs one instant query. Errors say whether Prometheus was unreachable or answered badly. */
export async function queryPrometheus(baseUrl: string, query: string, timeoutMs: number): Promise<Sample[]> {
  let url: URL;
  try {
    url = new URL('api/v1/query', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch {
    throw new PrometheusError(`--prometheus-url ${JSON.stringify(baseUrl)} is not a URL`, false);
  }
  url.searchParams.set('query', query);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs > 0 ? timeoutMs : 30_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    const name = (e as Error).name;
    throw new PrometheusError(
      name === 'TimeoutError' || name === 'AbortError'
        ? `Prometheus at ${url.origin} did not answer in time`
        : `cannot reach Prometheus at ${url.origin}${cause ? ` (${cause})` : ''}`,
      true,
    );
  }
  const text = await res.text();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PrometheusError(`Prometheus answered HTTP ${res.status} with a body that is not JSON`, res.status >= 500);
  }
  if (!res.ok && (doc as { status?: unknown })?.status !== 'error') {
    throw new PrometheusError(`Prometheus answered HTTP ${res.status}`, res.status >= 500);
  }
  return parseQueryResponse(doc);
}
