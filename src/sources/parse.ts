/**
 * Parsers for what the sources return. Pure functions over text/JSON, so
 * each is tested on real payloads without a cluster. Malformed input gives
 * a problem sentence, never a wrong number.
 */
import type { FilesystemFacts, ReplicationSlot, WalHealth } from '@cnpg-disk/core';
import { get, isObj, str, arr } from '../model/kube-objects.js';

/**
 * FilesystemFacts from the counts a source read, leaving out the inode
 * counts it had none of (undefined). The keys keep the order they are given
 * in, so each source's documents stay as they were.
 */
export function filesystemFacts(
  f: Omit<FilesystemFacts, 'inodesTotal' | 'inodesUsed' | 'inodesFree'> &
    Partial<Record<'inodesTotal' | 'inodesUsed' | 'inodesFree', bigint | undefined>>,
): FilesystemFacts {
  const facts: FilesystemFacts = { ...f };
  for (const k of ['inodesTotal', 'inodesUsed', 'inodesFree'] as const) if (facts[k] === undefined) delete facts[k];
  return facts;
}

/** `stat -f -c 'fs %n %S %b %f %a %c %d' PATH...` → facts per path (df semantics). */
export function parseStatF(
  text: string,
  source: string,
  observedAt: string,
): { facts: Map<string, FilesystemFacts>; problems: string[] } {
  const facts = new Map<string, FilesystemFacts>();
  const problems: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('fs ')) continue;
    const parts = line.trim().split(/\s+/);
    const path = parts[1] ?? '';
    const nums = parts.slice(2);
    if (parts.length !== 8 || !nums.every((n) => /^\d{1,24}$/.test(n))) {
      problems.push(`unexpected stat -f output: ${JSON.stringify(line.slice(0, 120))}`);
      continue;
    }
    const [frsize, blocks, bfree, bavail, files, ffree] = nums.map((n) => BigInt(n)) as [
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    if (bfree > blocks || bavail > blocks || ffree > files) {
      problems.push(`inconsistent stat -f figures for ${path}`);
      continue;
    }
    facts.set(path, {
      totalBytes: blocks * frsize,
      usedBytes: (blocks - bfree) * frsize,
      availableBytes: bavail * frsize,
      inodesTotal: files,
      inodesFree: ffree,
      inodesUsed: files - ffree,
      source,
      observedAt,
    });
  }
  return { facts, problems };
}

/**
 * The SQL the exec and probe paths run: one JSON document with archiver
 * statistics, slots (retention from the current position on a primary, from
 * the replay position on a replica), and the archive_status backlog.
 */
export const WAL_HEALTH_SQL = `select json_build_object(
 'isPrimary', not pg_is_in_recovery(),
 'archiveMode', current_setting('archive_mode'),
 'archiver', (select row_to_json(a) from (select archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time from pg_stat_archiver) a),
 'slots', (select coalesce(json_agg(row_to_json(s)), '[]'::json) from (select slot_name, slot_type, active, wal_status, safe_wal_size::text as safe_wal_size, pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, restart_lsn)::bigint::text as retained from pg_replication_slots) s),
 'ready', (select count(*) from pg_ls_archive_statusdir() where name like '%.ready'),
 'done', (select count(*) from pg_ls_archive_statusdir() where name like '%.done'),
 'walDirBytes', (select coalesce(sum(size), 0)::text from pg_ls_waldir())
)`;

function bigintOrUndefined(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,30}$/.test(v)) return BigInt(v);
  return undefined;
}

function timeOrUndefined(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Parses the JSON that WAL_HEALTH_SQL prints. */
export function parseWalHealthJson(
  text: string,
  instance: string,
  source: string,
  observedAt: string,
): { health?: WalHealth; problem?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text.trim());
  } catch {
    return { problem: `WAL health query returned unreadable output: ${JSON.stringify(text.slice(0, 120))}` };
  }
  if (!isObj(doc)) return { problem: 'WAL health query returned no object' };
  const a = get(doc, 'archiver');
  const slots: ReplicationSlot[] = arr(doc, 'slots')
    .filter(isObj)
    .map((s) => {
      const retained = bigintOrUndefined(get(s, 'retained'));
      const safe = bigintOrUndefined(get(s, 'safe_wal_size'));
      return {
        name: str(s, 'slot_name') ?? '',
        type: str(s, 'slot_type') === 'logical' ? 'logical' : 'physical',
        active: get(s, 'active') === true,
        ...(retained !== undefined ? { retainedBytes: retained < 0n ? 0n : retained } : {}),
        ...(str(s, 'wal_status') ? { walStatus: str(s, 'wal_status') } : {}),
        ...(safe !== undefined ? { safeWalSizeBytes: safe } : {}),
      } satisfies ReplicationSlot;
    });
  const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
  const walDirBytes = bigintOrUndefined(get(doc, 'walDirBytes'));
  const archiveMode = str(doc, 'archiveMode');
  const health: WalHealth = {
    instance,
    source,
    observedAt,
    slots,
    ...(typeof get(doc, 'isPrimary') === 'boolean' ? { isPrimary: get(doc, 'isPrimary') as boolean } : {}),
    ...(archiveMode ? { archivingConfigured: archiveMode === 'on' || archiveMode === 'always' } : {}),
    ...(num(get(doc, 'ready')) !== undefined ? { readyFiles: num(get(doc, 'ready')) } : {}),
    ...(num(get(doc, 'done')) !== undefined ? { doneFiles: num(get(doc, 'done')) } : {}),
    ...(walDirBytes !== undefined ? { walDirBytes } : {}),
  };
  if (isObj(a)) {
    const lat = timeOrUndefined(get(a, 'last_archived_time'));
    const lft = timeOrUndefined(get(a, 'last_failed_time'));
    health.archiver = {
      archivedCount: num(get(a, 'archived_count')) ?? 0,
      failedCount: num(get(a, 'failed_count')) ?? 0,
      ...(str(a, 'last_archived_wal') ? { lastArchivedWal: str(a, 'last_archived_wal') } : {}),
      ...(lat ? { lastArchivedTime: lat } : {}),
      ...(str(a, 'last_failed_wal') ? { lastFailedWal: str(a, 'last_failed_wal') } : {}),
      ...(lft ? { lastFailedTime: lft } : {}),
    };
  }
  return { health };
}

export interface SummaryVolume {
  namespace: string;
  pod: string;
  pvcName: string;
  facts: FilesystemFacts;
}

/** The kubelet summary API (/stats/summary): per-PVC bytes and inodes. */
export function parseKubeletSummary(
  doc: unknown,
  node: string,
  observedAt: string,
): { volumes: SummaryVolume[]; problems: string[] } {
  const volumes: SummaryVolume[] = [];
  const problems: string[] = [];
  if (!isObj(doc) || !Array.isArray(get(doc, 'pods'))) {
    return { volumes, problems: [`kubelet summary of node ${node} is not a summary document (no pods list)`] };
  }
  for (const p of arr(doc, 'pods')) {
    const ns = str(p, 'podRef', 'namespace') ?? '';
    const pod = str(p, 'podRef', 'name') ?? '';
    for (const v of arr(p, 'volume')) {
      const pvc = str(v, 'pvcRef', 'name');
      if (!pvc) continue;
      const total = bigintOrUndefined(get(v, 'capacityBytes'));
      const used = bigintOrUndefined(get(v, 'usedBytes'));
      const avail = bigintOrUndefined(get(v, 'availableBytes'));
      if (total === undefined || used === undefined || avail === undefined || total < 0n || used < 0n || avail < 0n) {
        problems.push(
          `kubelet summary of node ${node}: volume ${pvc} of ${ns}/${pod} has missing or malformed byte counts`,
        );
        continue;
      }
      if (used > total || avail > total) {
        problems.push(
          `kubelet summary of node ${node}: volume ${pvc} of ${ns}/${pod} reports more used or available bytes than capacity`,
        );
        continue;
      }
      let inodes = bigintOrUndefined(get(v, 'inodes'));
      let inodesFree = bigintOrUndefined(get(v, 'inodesFree'));
      let inodesUsed = bigintOrUndefined(get(v, 'inodesUsed'));
      const badInodes =
        [inodes, inodesFree, inodesUsed].some((n) => n !== undefined && n < 0n) ||
        (inodes !== undefined && ((inodesFree ?? 0n) > inodes || (inodesUsed ?? 0n) > inodes));
      if (badInodes) {
        // Keep the byte counts; drop only the inode figures that cannot be right.
        problems.push(
          `kubelet summary of node ${node}: volume ${pvc} of ${ns}/${pod} has inconsistent inode counts (ignored)`,
        );
        inodes = inodesFree = inodesUsed = undefined;
      }
      volumes.push({
        namespace: str(v, 'pvcRef', 'namespace') ?? ns,
        pod,
        pvcName: pvc,
        facts: filesystemFacts({
          totalBytes: total,
          usedBytes: used,
          availableBytes: avail,
          inodesTotal: inodes,
          inodesFree,
          inodesUsed,
          source: 'kubelet-summary',
          observedAt: timeOrUndefined(get(v, 'time')) ?? observedAt,
        }),
      });
    }
  }
  return { volumes, problems };
}
