/**
 * The Cluster's own status, when the operator build publishes disk and WAL
 * health there. Released CloudNativePG (up to 1.30) has no such fields; the
 * autoresize proposal (cloudnative-pg#9928) and its prototype builds add them.
 * The shape is not standardised, so we read one documented, plausible shape
 * (docs/sources.md) defensively: a field we cannot read exactly is skipped
 * with a problem sentence, never guessed.
 *
 *   status.diskStatus.instances[]:
 *     podName, lastUpdated (RFC 3339),
 *     data | dataVolume, wal | walVolume: { totalBytes, usedBytes, availableBytes,
 *                              inodesTotal?, inodesUsed?, inodesFree?, atLimit? }
 *     tablespaces: { <name>: { same } }
 *     walHealth: { archiveHealthy, pendingArchiveFiles, inactiveReplicationSlots[] }
 *   status.autoResizeEvents[]:
 *     time, podName, pvcName, volumeType, oldSize, newSize, reason, result
 *
 * Byte counts may be JSON integers (exact up to 2^53) or decimal strings;
 * percentUsed is ignored (we compute it from the bytes, like df).
 */
import { parseBytes, type FilesystemFacts, type VolumeType, type WalHealth } from '@cnpg-disk/core';
import { arr, get, isObj, str } from '../model/kube-objects.js';
import type { KubeObject } from '../model/snapshot.js';
import { filesystemFacts } from './parse.js';

export interface StatusVolume {
  type: VolumeType;
  tablespace?: string;
  facts: FilesystemFacts;
  atLimit?: boolean;
}

export interface StatusInstance {
  pod: string;
  volumes: StatusVolume[];
  /** readyFiles only: the status has no archiver times or slot details. */
  wal?: WalHealth;
  /** walHealth.archiveHealthy as the operator judged it. */
  archiveHealthy?: boolean;
  inactiveSlots?: string[];
  lastUpdated?: string;
}

export interface ClusterDiskStatus {
  /** status.diskStatus exists at all. */
  present: boolean;
  instances: StatusInstance[];
  problems: string[];
}

function exactBytes(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === 'string' && /^\d{1,24}$/.test(v)) return BigInt(v);
  return undefined;
}

function time(v: unknown): string | undefined {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function volume(
  raw: unknown,
  where: string,
  observedAt: string,
  problems: string[],
): { facts: FilesystemFacts; atLimit?: boolean } | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) {
    problems.push(`${where} is not an object`);
    return undefined;
  }
  const total = exactBytes(raw['totalBytes']);
  const used = exactBytes(raw['usedBytes']);
  const avail = exactBytes(raw['availableBytes']);
  if (total === undefined || used === undefined || avail === undefined) {
    problems.push(`${where}: totalBytes, usedBytes or availableBytes missing or not an exact byte count`);
    return undefined;
  }
  if (used > total || avail > total) {
    problems.push(`${where}: usedBytes or availableBytes exceed totalBytes`);
    return undefined;
  }
  const atLimit = raw['atLimit'];
  return {
    facts: filesystemFacts({
      totalBytes: total,
      usedBytes: used,
      availableBytes: avail,
      inodesTotal: exactBytes(raw['inodesTotal']),
      inodesUsed: exactBytes(raw['inodesUsed']),
      inodesFree: exactBytes(raw['inodesFree']),
      source: 'cluster-status',
      observedAt,
    }),
    ...(typeof atLimit === 'boolean' ? { atLimit } : {}),
  };
}

/** Reads status.diskStatus of a Cluster. */
export function parseClusterDiskStatus(cluster: KubeObject, fallbackObservedAt: string): ClusterDiskStatus {
  const problems: string[] = [];
  const ds = get(cluster, 'status', 'diskStatus');
  if (ds === undefined || ds === null) return { present: false, instances: [], problems };
  const name = str(cluster, 'metadata', 'name') ?? '';
  if (!isObj(ds) || (ds['instances'] !== undefined && !Array.isArray(ds['instances']))) {
    return { present: true, instances: [], problems: [`status.diskStatus of ${name} is not in a shape we can read`] };
  }
  const instances: StatusInstance[] = [];
  arr(ds, 'instances').forEach((raw, i) => {
    const pod = str(raw, 'podName');
    const where = `status.diskStatus.instances[${i}]${pod ? ` (${pod})` : ''} of ${name}`;
    if (!pod) {
      problems.push(`${where}: no podName`);
      return;
    }
    const lastUpdated = time(get(raw, 'lastUpdated'));
    const observedAt = lastUpdated ?? fallbackObservedAt;
    const volumes: StatusVolume[] = [];
    const data = volume(get(raw, 'data') ?? get(raw, 'dataVolume'), `${where}.data`, observedAt, problems);
    if (data) volumes.push({ type: 'data', ...data });
    const wal = volume(get(raw, 'wal') ?? get(raw, 'walVolume'), `${where}.wal`, observedAt, problems);
    if (wal) volumes.push({ type: 'wal', ...wal });
    const tbs = get(raw, 'tablespaces');
    if (isObj(tbs)) {
      for (const [t, v] of Object.entries(tbs)) {
        const f = volume(v, `${where}.tablespaces.${t}`, observedAt, problems);
        if (f) volumes.push({ type: 'tablespace', tablespace: t, ...f });
      }
    }
    const inst: StatusInstance = { pod, volumes, ...(lastUpdated ? { lastUpdated } : {}) };
    const wh = get(raw, 'walHealth');
    if (isObj(wh)) {
      if (typeof wh['archiveHealthy'] === 'boolean') inst.archiveHealthy = wh['archiveHealthy'];
      const pending = wh['pendingArchiveFiles'];
      const slots = wh['inactiveReplicationSlots'];
      if (Array.isArray(slots)) inst.inactiveSlots = slots.filter((s): s is string => typeof s === 'string');
      if (typeof pending === 'number' && Number.isSafeInteger(pending) && pending >= 0) {
        inst.wal = { instance: pod, readyFiles: pending, source: 'cluster-status', observedAt };
      } else if (pending !== undefined) {
        problems.push(`${where}.walHealth.pendingArchiveFiles is not a count`);
      }
    }
    instances.push(inst);
  });
  return { present: true, instances, problems };
}

export interface AutoResizeEventView {
  time?: string;
  pod?: string;
  pvc?: string;
  volumeType?: string;
  oldBytes?: bigint;
  newBytes?: bigint;
  reason?: string;
  /** success | failed | blocked, when the build records it. */
  result?: string;
}

/** Reads status.autoResizeEvents (newest last, as the operator appends them). */
export function parseAutoResizeEvents(cluster: KubeObject): { events: AutoResizeEventView[]; problems: string[] } {
  const problems: string[] = [];
  const raw = get(cluster, 'status', 'autoResizeEvents');
  if (raw === undefined || raw === null) return { events: [], problems };
  if (!Array.isArray(raw)) return { events: [], problems: ['status.autoResizeEvents is not a list'] };
  const bytes = (v: unknown): bigint | undefined => {
    if (typeof v !== 'string') return undefined;
    try {
      return parseBytes(v);
    } catch {
      return undefined;
    }
  };
  const events = raw.filter(isObj).map((e) => {
    const t = time(e['time']);
    const o = bytes(e['oldSize']);
    const n = bytes(e['newSize']);
    const view: AutoResizeEventView = {
      ...(t ? { time: t } : {}),
      ...(str(e, 'podName') ? { pod: str(e, 'podName') } : {}),
      ...(str(e, 'pvcName') ? { pvc: str(e, 'pvcName') } : {}),
      ...(str(e, 'volumeType') ? { volumeType: str(e, 'volumeType') } : {}),
      ...(o !== undefined ? { oldBytes: o } : {}),
      ...(n !== undefined ? { newBytes: n } : {}),
      ...(str(e, 'reason') ? { reason: str(e, 'reason') } : {}),
      ...(str(e, 'result') ? { result: str(e, 'result') } : {}),
    };
    return view;
  });
  if (events.length < raw.length) problems.push('some status.autoResizeEvents entries are not objects');
  return { events, problems };
}
