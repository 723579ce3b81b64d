/**
 * Support bundles: a .tar.gz whose `snapshot.json` is the Snapshot a live run
 * would gather (plus logs, metrics and a manifest for people). Reading one
 * gives back exactly that Snapshot, so every read command works offline.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { decodeFilesystemFacts, decodeWalHealth, type FilesystemFacts } from '@cnpg-disk/core';
import { usageError } from '../model/errors.js';
import { arr, get, isObj, str } from '../model/kube-objects.js';
import type { ClusterSnapshot, InstanceMeasurement, KubeObject, Snapshot, SourceAttempt } from '../model/snapshot.js';

export const BUNDLE_SNAPSHOT_PATH = 'snapshot.json';
export const BUNDLE_MANIFEST_PATH = 'manifest.json';
/**
 * Most bytes we inflate from a bundle, all members together, counted while
 * decompressing (a bundle we write is at most 64 MiB plus its manifest; a
 * bigger one is not ours). A member whose header claims more is refused at
 * its header, before its data is read.
 */
export const MAX_BUNDLE_READ_BYTES = 256 * 1024 * 1024;

/**
 * Bundles whose archive inflates to at most this many bytes are inflated in
 * one call instead of through streams: a bundle of a few clusters (~1 MiB of
 * tar) then reads in ~3 ms instead of ~13, most of `--from-bundle`'s time
 * after start-up. Anything larger, or anything the one call cannot inflate,
 * goes through the streaming reader, which holds only the wanted files.
 */
export const IN_MEMORY_INFLATE_BYTES = 32 * 1024 * 1024;

/** The files a bundle reader takes out of the archive, by path inside the root folder. */
export interface BundleArchive {
  root: string;
  files: Map<string, Buffer>;
}

/** A bundle that is not what we write: the message says what is wrong. */
export class BundleFormatError extends Error {}

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * The whole tar of a small bundle, or undefined: larger than `cap` (on disk
 * or inflated), unreadable, or not gzip. Undefined sends the file to the
 * streaming reader, which reads it again and says exactly what is wrong, so
 * both ways refuse a bad bundle with the same words.
 */
function inflateWhole(file: string, cap: number): Buffer | undefined {
  if (cap <= 0) return undefined;
  try {
    if (statSync(file).size > cap) return undefined;
    return gunzipSync(readFileSync(file), { maxOutputLength: cap });
  } catch {
    return undefined;
  }
}

/**
 * Reads `wanted` files (paths inside the root folder) out of a .tar.gz
 * without extracting anything to disk, and checks the whole archive on the
 * way: exactly one root folder; no absolute or `..` member names; the files
 * we read are regular files (not links, devices or FIFOs) and appear once;
 * at most `maxBytes` inflated, counted while decompressing, and no member
 * header claiming more. Memory stays bounded by `maxBytes` of wanted files,
 * or by `inMemoryUpTo` for an archive inflated in one piece.
 */
export async function readBundleArchive(
  file: string,
  wanted: readonly string[] = [BUNDLE_SNAPSHOT_PATH, BUNDLE_MANIFEST_PATH],
  maxBytes = MAX_BUNDLE_READ_BYTES,
  inMemoryUpTo = IN_MEMORY_INFLATE_BYTES,
): Promise<BundleArchive> {
  const whole = inflateWhole(file, Math.min(inMemoryUpTo, maxBytes));
  return new Promise((resolve, reject) => {
    let settled = false;
    let root: string | undefined;
    let inflated = 0;
    const files = new Map<string, Buffer>();
    const streams: Array<{ destroy(): void }> = [];
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      for (const s of streams) s.destroy();
      reject(new BundleFormatError(message));
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (settled) return void entry.resume();
        const raw = entry.path;
        if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.includes('\\')) {
          return fail(`member ${JSON.stringify(raw)} has an absolute name`);
        }
        const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
        if (parts.includes('..')) return fail(`member ${JSON.stringify(raw)} climbs out of the archive (..)`);
        if (parts.length === 0) return void entry.resume();
        if (parts.length === 1 && entry.type !== 'Directory') {
          return fail(`member ${JSON.stringify(raw)} is outside the bundle's root folder`);
        }
        if (root === undefined) root = parts[0];
        else if (parts[0] !== root) {
          return fail(
            `it has two root folders (${JSON.stringify(root)} and ${JSON.stringify(parts[0])}); a bundle has one`,
          );
        }
        if ((entry.size ?? 0) > maxBytes) {
          return fail(
            `member ${JSON.stringify(raw)} claims ${entry.size} bytes, more than the ${maxBytes} a bundle may hold`,
          );
        }
        const rel = parts.slice(1).join('/');
        if (!wanted.includes(rel)) return void entry.resume();
        if (!REGULAR.has(entry.type)) {
          return fail(`${rel} is a ${entry.type}, not a regular file`);
        }
        if (files.has(rel)) return fail(`${rel} appears twice`);
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          if (!settled) files.set(rel, Buffer.concat(chunks));
        });
      },
    });
    parser.on('error', (e: Error & { code?: string }) =>
      fail(e.code === 'TAR_BAD_ARCHIVE' ? 'it is not a tar archive' : e.message),
    );
    parser.on('end', () => {
      if (settled) return;
      settled = true;
      if (root === undefined) reject(new BundleFormatError('it is an empty archive'));
      else resolve({ root, files });
    });
    // inflateWhole capped the tar at maxBytes: the one piece needs no counting.
    if (whole) return void parser.end(whole);

    const src = createReadStream(file);
    const gunzip = createGunzip();
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        inflated += chunk.length;
        if (inflated > maxBytes) {
          fail(`it inflates to more than ${maxBytes} bytes (a bundle written by this tool is far smaller)`);
          cb();
        } else cb(null, chunk);
      },
    });
    streams.push(src, gunzip, counter);
    src.on('error', (e: Error) => fail(e.message));
    gunzip.on('error', (e: Error) => fail(`it is not gzip-compressed (${e.message})`));
    src
      .pipe(gunzip)
      .pipe(counter)
      .pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/**
 * The measurement error recorded for a volume whose filesystem facts were
 * rejected; evaluation reads it back (rejectedFactsReason) as the reason the
 * volume is unmeasured.
 */
export function rejectedFactsError(pvc: string, problems: string[]): string {
  return `filesystem facts of ${pvc} rejected: ${problems.map((p) => p.replace(/^.*?: /, '')).join('; ')}`;
}

function decodeMeasurement(u: unknown, where: string, problems: string[]): InstanceMeasurement | undefined {
  if (!isObj(u) || typeof u['pod'] !== 'string') {
    problems.push(`${where}: not a measurement`);
    return undefined;
  }
  const filesystems: Record<string, FilesystemFacts> = {};
  const rejected: string[] = [];
  const fsObj = get(u, 'filesystems');
  if (isObj(fsObj)) {
    for (const [pvc, raw] of Object.entries(fsObj)) {
      const d = decodeFilesystemFacts(raw, `${where}.filesystems.${pvc}`);
      if (d.ok) filesystems[pvc] = d.value;
      else {
        problems.push(...d.problems);
        // The volume stays unmeasured, with the reason on its instance.
        rejected.push(rejectedFactsError(pvc, d.problems));
      }
    }
  }
  const m: InstanceMeasurement = {
    pod: u['pod'],
    filesystems,
    errors: [...arr(u, 'errors').filter((e): e is string => typeof e === 'string'), ...rejected],
  };
  if (u['wal'] !== undefined) {
    const d = decodeWalHealth(u['wal'], `${where}.wal`);
    if (d.ok) m.wal = d.value;
    else problems.push(...d.problems);
  }
  return m;
}

/** 2026-12-01T10:00:00Z, with optional fraction and offset: what we write (toISOString). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Validates and decodes a snapshot document (from a bundle or a JSON file). */
export function decodeSnapshot(doc: unknown, file: string): Snapshot {
  if (!isObj(doc) || str(doc, 'kind') !== 'Snapshot' || !Array.isArray(get(doc, 'clusters'))) {
    throw usageError(
      `${file} does not hold a snapshot (kind Snapshot with a clusters list)`,
      'use a bundle written by `kubectl cnpg diagnose --bundle`',
    );
  }
  const problems: string[] = arr(doc, 'problems').filter((p): p is string => typeof p === 'string');
  const clusters: ClusterSnapshot[] = arr(doc, 'clusters').flatMap((c, i) => {
    const where = `clusters[${i}]`;
    if (!isObj(c) || !isObj(c['cluster'])) {
      problems.push(`${where}: not a cluster snapshot, skipped`);
      return [];
    }
    const objs = (k: string) => arr(c, k).filter(isObj) as KubeObject[];
    return [
      {
        namespace: str(c, 'namespace') ?? '',
        name: str(c, 'name') ?? '',
        cluster: c['cluster'] as KubeObject,
        pods: objs('pods'),
        pvcs: objs('pvcs'),
        events: objs('events'),
        measurements: arr(c, 'measurements')
          .map((m, j) => decodeMeasurement(m, `${where}.measurements[${j}]`, problems))
          .filter((m): m is InstanceMeasurement => !!m),
      },
    ];
  });
  const collectedAt = str(doc, 'collectedAt');
  // Every verdict is judged at this moment (budget windows, event ages): a
  // snapshot without a valid one is refused, never judged at 1970 or now.
  if (!collectedAt || !RFC3339.test(collectedAt) || Number.isNaN(Date.parse(collectedAt))) {
    throw usageError(
      `${file}: collectedAt ${collectedAt === undefined ? 'is missing' : `${JSON.stringify(collectedAt)} is not an RFC 3339 time`}; the snapshot cannot be judged`,
      'use a bundle written by `kubectl cnpg diagnose --bundle`',
    );
  }
  const origin = get(doc, 'origin');
  return {
    collectedAt,
    origin: {
      kind: 'bundle',
      file,
      ...(str(origin, 'server') ? { collectedFrom: str(origin, 'server') } : {}),
    },
    namespaces: Array.isArray(get(doc, 'namespaces')) ? (get(doc, 'namespaces') as string[]) : 'all',
    clusters,
    storageClasses: arr(doc, 'storageClasses').filter(isObj) as KubeObject[],
    sources: arr(doc, 'sources').filter(isObj) as unknown as SourceAttempt[],
    problems,
  };
}

/** readBundleArchive, with every refusal as a usage error naming the file. */
export async function readArchiveOrRefuse(file: string): Promise<BundleArchive> {
  try {
    return await readBundleArchive(file);
  } catch (e) {
    throw usageError(
      `bundle ${file} is refused: ${(e as Error).message}`,
      'the file must be a .tar.gz written by `kubectl cnpg diagnose --bundle`',
    );
  }
}

/** Reads a support bundle (.tar.gz) or a bare snapshot (.json). */
export async function readBundle(file: string): Promise<Snapshot> {
  return (await readBundleWithManifest(file)).snapshot;
}

/** A bundle's snapshot and its manifest (undefined for a bare .json snapshot or a bundle without one). */
export async function readBundleWithManifest(file: string): Promise<{ snapshot: Snapshot; manifest?: unknown }> {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw usageError(`bundle ${file} does not exist`, 'check the --from-bundle path');
  }
  let text: string;
  let manifest: unknown;
  if (/\.json$/i.test(file)) {
    if (statSync(file).size > MAX_BUNDLE_READ_BYTES) {
      throw usageError(`${file} is larger than ${MAX_BUNDLE_READ_BYTES} bytes: not a snapshot written by this tool`);
    }
    const { readFile } = await import('node:fs/promises');
    text = await readFile(file, 'utf8');
  } else {
    const archive = await readArchiveOrRefuse(file);
    const buf = archive.files.get(BUNDLE_SNAPSHOT_PATH);
    if (!buf) {
      throw usageError(
        `bundle ${file} has no ${BUNDLE_SNAPSHOT_PATH}`,
        'the file must be a .tar.gz written by `kubectl cnpg diagnose --bundle`',
      );
    }
    text = buf.toString('utf8');
    const m = archive.files.get(BUNDLE_MANIFEST_PATH);
    if (m) {
      try {
        manifest = JSON.parse(m.toString('utf8')) as unknown;
      } catch (e) {
        throw usageError(`${file}: ${BUNDLE_MANIFEST_PATH} is not valid JSON (${(e as Error).message})`);
      }
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usageError(`${file}: ${BUNDLE_SNAPSHOT_PATH} is not valid JSON (${(e as Error).message})`);
  }
  return { snapshot: decodeSnapshot(doc, file), ...(manifest === undefined ? {} : { manifest }) };
}
