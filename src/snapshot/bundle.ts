/**
 * Support bundles: a .tar.gz whose `snapshot.json` is the Snapshot a live run
 * would gather (plus logs, metrics and a manifest for people). Reading one
 * gives back exactly that Snapshot, so every read command works offline.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { Parser, type ReadEntry } from 'tar';
import { decodeFilesystemFacts, decodeWalHealth, type FilesystemFacts } from '@cnpg-disk/core';
import { usageError } from '../model/errors.js';
import { arr, get, isObj, str } from '../model/kube-objects.js';
import type { ClusterSnapshot, InstanceMeasurement, KubeObject, Snapshot, SourceAttempt } from '../model/snapshot.js';

export const BUNDLE_SNAPSHOT_PATH = 'snapshot.json';
export const BUNDLE_MANIFEST_PATH = 'manifest.json';
/** Largest snapshot.json we accept (a bundle is bounded; a bigger one is not ours). */
const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;

/** Reads one file out of a .tar.gz without extracting anything to disk. */
export async function readTarEntry(
  file: string,
  wanted: string,
  maxBytes = MAX_SNAPSHOT_BYTES,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    let found: Buffer | undefined;
    let tooBig = false;
    const parser = new Parser({
      filter: (path: string) =>
        path.replace(/^\.\//, '').replace(/^[^/]+\/(?=snapshot\.json$|manifest\.json$)/, '') === wanted,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        let size = 0;
        entry.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) tooBig = true;
          else chunks.push(c);
        });
        entry.on('end', () => {
          found = Buffer.concat(chunks);
        });
      },
    });
    parser.on('error', (e: Error) => reject(e));
    parser.on('end', () => (tooBig ? reject(new Error(`${wanted} is larger than ${maxBytes} bytes`)) : resolve(found)));
    const s = createReadStream(file);
    s.on('error', reject);
    s.pipe(parser);
  });
}

function decodeMeasurement(u: unknown, where: string, problems: string[]): InstanceMeasurement | undefined {
  if (!isObj(u) || typeof u['pod'] !== 'string') {
    problems.push(`${where}: not a measurement`);
    return undefined;
  }
  const filesystems: Record<string, FilesystemFacts> = {};
  const fsObj = get(u, 'filesystems');
  if (isObj(fsObj)) {
    for (const [pvc, raw] of Object.entries(fsObj)) {
      const d = decodeFilesystemFacts(raw, `${where}.filesystems.${pvc}`);
      if (d.ok) filesystems[pvc] = d.value;
      else problems.push(...d.problems);
    }
  }
  const m: InstanceMeasurement = {
    pod: u['pod'],
    filesystems,
    errors: arr(u, 'errors').filter((e): e is string => typeof e === 'string'),
  };
  if (u['wal'] !== undefined) {
    const d = decodeWalHealth(u['wal'], `${where}.wal`);
    if (d.ok) m.wal = d.value;
    else problems.push(...d.problems);
  }
  return m;
}

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
  const origin = get(doc, 'origin');
  return {
    collectedAt: collectedAt && !Number.isNaN(Date.parse(collectedAt)) ? collectedAt : new Date(0).toISOString(),
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

/** Reads a support bundle (.tar.gz) or a bare snapshot (.json). */
export async function readBundle(file: string): Promise<Snapshot> {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw usageError(`bundle ${file} does not exist`, 'check the --from-bundle path');
  }
  let text: string;
  if (/\.json$/i.test(file)) {
    const { readFile } = await import('node:fs/promises');
    text = await readFile(file, 'utf8');
  } else {
    let buf: Buffer | undefined;
    try {
      buf = await readTarEntry(file, BUNDLE_SNAPSHOT_PATH);
    } catch (e) {
      throw usageError(
        `cannot read bundle ${file}: ${(e as Error).message}`,
        'the file must be a .tar.gz written by `kubectl cnpg diagnose --bundle`',
      );
    }
    if (!buf) {
      throw usageError(
        `bundle ${file} has no ${BUNDLE_SNAPSHOT_PATH}`,
        'the file must be a .tar.gz written by `kubectl cnpg diagnose --bundle`',
      );
    }
    text = buf.toString('utf8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usageError(`${file}: ${BUNDLE_SNAPSHOT_PATH} is not valid JSON (${(e as Error).message})`);
  }
  return decodeSnapshot(doc, file);
}
