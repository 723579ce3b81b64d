/**
 * JSON for the model: byte counts as decimal strings (exact beyond 2^53), and
 * decoders that check untrusted documents (probe output, support bundles,
 * instance status) instead of casting them. Decoders never throw: they return
 * the value or the list of problems with their paths.
 */
import {
  PROBE_REPORT_API_VERSION,
  PROBE_REPORT_KIND,
  type ArchiverStats,
  type FilesystemFacts,
  type ProbeError,
  type ProbePostgres,
  type ProbeReport,
  type ProbeVolume,
  type ReplicationSlot,
  type WalHealth,
} from './model.js';

/** JSON.stringify replacer: BigInt → decimal string. */
export function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Deep copy with every BigInt as a decimal string, ready for JSON or YAML. */
export function toPlain<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, bigintReplacer)) as unknown;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; problems: string[] };

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly root: string) {}

  obj(v: unknown, path: string): Record<string, unknown> | undefined {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    this.problems.push(`${this.root}${path}: expected an object`);
    return undefined;
  }

  /** A byte count: decimal string or safe non-negative integer. */
  bytes(o: Record<string, unknown>, key: string, path: string, required: true): bigint;
  bytes(o: Record<string, unknown>, key: string, path: string, required?: false): bigint | undefined;
  bytes(o: Record<string, unknown>, key: string, path: string, required = false): bigint | undefined {
    const v = o[key];
    if (v === undefined || v === null) {
      if (required) this.problems.push(`${this.root}${path}.${key}: missing`);
      return undefined;
    }
    if (typeof v === 'string' && /^\d{1,30}$/.test(v)) return BigInt(v);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    this.problems.push(
      `${this.root}${path}.${key}: expected a non-negative whole number of bytes, got ${JSON.stringify(v)}`,
    );
    return undefined;
  }

  /** A signed byte count (safe_wal_size may be negative). */
  signedBytes(o: Record<string, unknown>, key: string, path: string): bigint | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string' && /^-?\d{1,30}$/.test(v)) return BigInt(v);
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    this.problems.push(`${this.root}${path}.${key}: expected a whole number of bytes, got ${JSON.stringify(v)}`);
    return undefined;
  }

  count(o: Record<string, unknown>, key: string, path: string): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
    this.problems.push(`${this.root}${path}.${key}: expected a count, got ${JSON.stringify(v)}`);
    return undefined;
  }

  str(o: Record<string, unknown>, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    this.problems.push(`${this.root}${path}.${key}: expected a string`);
    return undefined;
  }

  time(o: Record<string, unknown>, key: string, path: string): string | undefined {
    const v = this.str(o, key, path);
    if (v === undefined || v === '') return undefined;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) {
      this.problems.push(`${this.root}${path}.${key}: not a time: ${JSON.stringify(v)}`);
      return undefined;
    }
    return new Date(ms).toISOString();
  }

  bool(o: Record<string, unknown>, key: string, path: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    this.problems.push(`${this.root}${path}.${key}: expected true or false`);
    return undefined;
  }

  result<T>(value: T): Decoded<T> {
    return this.problems.length === 0 ? { ok: true, value } : { ok: false, problems: this.problems };
  }
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function decodeFilesystemFacts(u: unknown, root = ''): Decoded<FilesystemFacts> {
  const r = new Reader(root);
  const o = r.obj(u, '');
  if (!o) return r.result(undefined as never);
  const total = r.bytes(o, 'totalBytes', '', true);
  const used = r.bytes(o, 'usedBytes', '', true);
  const avail = r.bytes(o, 'availableBytes', '', true);
  if (total !== undefined && used !== undefined && used > total) {
    r.problems.push(`${root}: usedBytes ${used} exceeds totalBytes ${total}`);
  }
  // A filesystem of size 0 does not exist: judged, it would read "0.0% full (0 B available)".
  if (total === 0n) r.problems.push(`${root}: totalBytes is 0 (no filesystem has size 0)`);
  if (total !== undefined && avail !== undefined && avail > total) {
    r.problems.push(`${root}: availableBytes ${avail} exceeds totalBytes ${total}`);
  }
  const facts: FilesystemFacts = defined({
    totalBytes: total,
    usedBytes: used,
    availableBytes: avail,
    inodesTotal: r.bytes(o, 'inodesTotal', ''),
    inodesUsed: r.bytes(o, 'inodesUsed', ''),
    inodesFree: r.bytes(o, 'inodesFree', ''),
    source: r.str(o, 'source', ''),
    observedAt: r.time(o, 'observedAt', ''),
  });
  return r.result(facts);
}

/** `path` is relative to `root`, like every Reader path (the Reader adds the root itself). */
function decodeSlot(r: Reader, root: string, u: unknown, path: string): ReplicationSlot | undefined {
  const o = r.obj(u, path);
  if (!o) return undefined;
  const name = r.str(o, 'name', path);
  const type = r.str(o, 'type', path);
  const active = r.bool(o, 'active', path);
  if (name === undefined) r.problems.push(`${root}${path}.name: missing`);
  if (type !== 'physical' && type !== 'logical') r.problems.push(`${root}${path}.type: expected physical or logical`);
  if (active === undefined) r.problems.push(`${root}${path}.active: missing`);
  return defined({
    name: name ?? '',
    type: (type === 'logical' ? 'logical' : 'physical') as ReplicationSlot['type'],
    active: active ?? false,
    retainedBytes: r.bytes(o, 'retainedBytes', path),
    walStatus: r.str(o, 'walStatus', path),
    safeWalSizeBytes: r.signedBytes(o, 'safeWalSizeBytes', path),
  });
}

export function decodeWalHealth(u: unknown, root = ''): Decoded<WalHealth> {
  const r = new Reader(root);
  const o = r.obj(u, '');
  if (!o) return r.result(undefined as never);
  const instance = r.str(o, 'instance', '');
  if (!instance) r.problems.push(`${root}.instance: missing`);
  let archiver: ArchiverStats | undefined;
  if (o['archiver'] !== undefined && o['archiver'] !== null) {
    const a = r.obj(o['archiver'], '.archiver');
    if (a) {
      archiver = defined({
        archivedCount: r.count(a, 'archivedCount', '.archiver') ?? 0,
        failedCount: r.count(a, 'failedCount', '.archiver') ?? 0,
        lastArchivedWal: r.str(a, 'lastArchivedWal', '.archiver'),
        lastArchivedTime: r.time(a, 'lastArchivedTime', '.archiver'),
        lastFailedWal: r.str(a, 'lastFailedWal', '.archiver'),
        lastFailedTime: r.time(a, 'lastFailedTime', '.archiver'),
      });
    }
  }
  let slots: ReplicationSlot[] | undefined;
  if (o['slots'] !== undefined && o['slots'] !== null) {
    if (!Array.isArray(o['slots'])) r.problems.push(`${root}.slots: expected a list`);
    else
      slots = o['slots'].map((s, i) => decodeSlot(r, root, s, `.slots[${i}]`)).filter((s): s is ReplicationSlot => !!s);
  }
  const health: WalHealth = defined({
    instance: instance ?? '',
    isPrimary: r.bool(o, 'isPrimary', ''),
    archivingConfigured: r.bool(o, 'archivingConfigured', ''),
    archiver,
    readyFiles: r.count(o, 'readyFiles', ''),
    doneFiles: r.count(o, 'doneFiles', ''),
    walDirBytes: r.bytes(o, 'walDirBytes', ''),
    slots,
    source: r.str(o, 'source', ''),
    observedAt: r.time(o, 'observedAt', ''),
  });
  return r.result(health);
}

function decodeProbeVolume(r: Reader, root: string, u: unknown, path: string): ProbeVolume | undefined {
  const o = r.obj(u, path);
  if (!o) return undefined;
  const type = r.str(o, 'type', path);
  if (type !== 'data' && type !== 'wal' && type !== 'tablespace') {
    r.problems.push(`${root}${path}.type: expected data, wal or tablespace`);
  }
  const tablespace = r.str(o, 'tablespace', path);
  if (type === 'tablespace' && !tablespace) r.problems.push(`${root}${path}.tablespace: missing`);
  const mountPath = r.str(o, 'mountPath', path);
  if (!mountPath) r.problems.push(`${root}${path}.mountPath: missing`);
  let filesystem: FilesystemFacts | undefined;
  if (o['filesystem'] !== undefined && o['filesystem'] !== null) {
    const fs = decodeFilesystemFacts(o['filesystem'], `${root}${path}.filesystem`);
    if (fs.ok) filesystem = fs.value;
    else r.problems.push(...fs.problems);
  }
  return defined({
    type: (type ?? 'data') as ProbeVolume['type'],
    tablespace,
    mountPath: mountPath ?? '',
    filesystem,
  });
}

/** Reads a probe's JSON output (see ProbeReport). Never throws. */
export function decodeProbeReport(u: unknown, root = ''): Decoded<ProbeReport> {
  const r = new Reader(root);
  const o = r.obj(u, '');
  if (!o) return r.result(undefined as never);
  if (o['apiVersion'] !== PROBE_REPORT_API_VERSION) {
    r.problems.push(`${root}.apiVersion: expected ${PROBE_REPORT_API_VERSION}, got ${JSON.stringify(o['apiVersion'])}`);
  }
  if (o['kind'] !== PROBE_REPORT_KIND) {
    r.problems.push(`${root}.kind: expected ${PROBE_REPORT_KIND}, got ${JSON.stringify(o['kind'])}`);
  }
  const instance = r.str(o, 'instance', '');
  if (!instance) r.problems.push(`${root}.instance: missing`);
  const observedAt = r.time(o, 'observedAt', '');
  if (!observedAt) r.problems.push(`${root}.observedAt: missing`);
  const volumes: ProbeVolume[] = [];
  if (!Array.isArray(o['volumes'])) r.problems.push(`${root}.volumes: expected a list`);
  else
    o['volumes'].forEach((v, i) => {
      const vol = decodeProbeVolume(r, root, v, `.volumes[${i}]`);
      if (vol) volumes.push(vol);
    });
  const wal = decodeWalHealth(o['wal'], `${root}.wal`);
  if (!wal.ok) r.problems.push(...wal.problems);
  let postgres: ProbePostgres | undefined;
  if (o['postgres'] !== undefined && o['postgres'] !== null) {
    const p = r.obj(o['postgres'], '.postgres');
    if (p) {
      postgres = defined({
        version: r.str(p, 'version', '.postgres'),
        inRecovery: r.bool(p, 'inRecovery', '.postgres'),
        archiveMode: r.str(p, 'archiveMode', '.postgres'),
        archiveCommandSet: r.bool(p, 'archiveCommandSet', '.postgres'),
        archiveLibrary: r.str(p, 'archiveLibrary', '.postgres'),
      });
    }
  }
  const errors: ProbeError[] = [];
  if (!Array.isArray(o['errors'])) r.problems.push(`${root}.errors: expected a list`);
  else
    o['errors'].forEach((e, i) => {
      const eo = r.obj(e, `.errors[${i}]`);
      if (!eo) return;
      const field = r.str(eo, 'field', `.errors[${i}]`);
      const message = r.str(eo, 'message', `.errors[${i}]`);
      if (field === undefined || message === undefined) {
        r.problems.push(`${root}.errors[${i}]: field and message are required`);
        return;
      }
      errors.push(defined({ field, code: r.str(eo, 'code', `.errors[${i}]`), message }));
    });
  const report: ProbeReport = defined({
    apiVersion: PROBE_REPORT_API_VERSION,
    kind: PROBE_REPORT_KIND,
    instance: instance ?? '',
    namespace: r.str(o, 'namespace', ''),
    cluster: r.str(o, 'cluster', ''),
    observedAt: observedAt ?? '',
    volumes,
    wal: wal.ok ? wal.value : { instance: instance ?? '' },
    postgres,
    errors,
  });
  return r.result(report);
}
