/**
 * Readers for recorded usage: the NDJSON `disk status --watch -o json`
 * prints (one DiskStatus document a line), and the JSON Prometheus' HTTP API
 * returns for a range query (`/api/v1/query_range`) of
 * kubelet_volume_stats_used_bytes. Both are untrusted: anything that is not
 * what they should be is a TraceError naming the line or the field, never a
 * guess.
 */

export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceError';
  }
}

export interface TraceSample {
  /** Epoch ms. */
  at: number;
  usedBytes: number;
}

export interface RecordedTrace {
  format: 'disk-status-ndjson' | 'prometheus-matrix';
  /** Which volume: namespace/PVC. */
  volume: string;
  /** Oldest first, one per distinct time. */
  samples: TraceSample[];
  /** The PVC's capacity in the first record, when the trace has it (NDJSON). */
  initialCapacityBytes?: number;
  /** Other volumes the trace holds (to choose with --volume). */
  otherVolumes: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A byte count: a decimal string (how our documents write them) or a safe non-negative integer. */
function bytes(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,16}$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new TraceError(`${where} is not a byte count (${JSON.stringify(v)?.slice(0, 40)})`);
}

function time(v: unknown, where: string): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new TraceError(`${where} is not an RFC 3339 time (${JSON.stringify(v)?.slice(0, 40)})`);
  return t;
}

function pick<T>(all: Map<string, T>, wanted: string | undefined, what: string): [string, T] {
  if (all.size === 0) throw new TraceError(`the ${what} holds no volume with usage figures`);
  if (wanted !== undefined) {
    const hit = [...all.entries()].find(([k]) => k === wanted || k.endsWith(`/${wanted}`));
    if (!hit) throw new TraceError(`the ${what} has no volume ${wanted} (it has ${[...all.keys()].join(', ')})`);
    return hit;
  }
  if (all.size > 1) {
    throw new TraceError(
      `the ${what} holds ${all.size} volumes (${[...all.keys()].join(', ')}): choose one with --volume`,
    );
  }
  return [...all.entries()][0] as [string, T];
}

function sorted(samples: TraceSample[]): TraceSample[] {
  const byTime = new Map<number, TraceSample>();
  for (const s of samples) byTime.set(s.at, s);
  return [...byTime.values()].sort((a, b) => a.at - b.at);
}

/** The NDJSON of `disk status --watch -o json`. */
export function parseStatusNdjson(text: string, volume?: string): RecordedTrace {
  const perVolume = new Map<string, { samples: TraceSample[]; capacity?: number }>();
  const lines = text.split('\n');
  let documents = 0;
  lines.forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `line ${idx + 1}`;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      throw new TraceError(`${where} is not JSON (${(e as Error).message})`);
    }
    if (!isObj(doc) || doc['kind'] !== 'DiskStatus' || typeof doc['apiVersion'] !== 'string') {
      throw new TraceError(`${where} is not a DiskStatus document (disk status --watch -o json writes one per line)`);
    }
    documents++;
    const collectedAt = doc['collectedAt'];
    const clusters = doc['clusters'];
    if (!Array.isArray(clusters)) throw new TraceError(`${where}: clusters is not a list`);
    clusters.forEach((c: unknown, ci) => {
      if (!isObj(c) || !Array.isArray(c['volumes']))
        throw new TraceError(`${where}: clusters[${ci}].volumes is not a list`);
      c['volumes'].forEach((v: unknown, vi) => {
        const at = `${where}: clusters[${ci}].volumes[${vi}]`;
        if (!isObj(v) || typeof v['pvc'] !== 'string') throw new TraceError(`${at} has no pvc name`);
        const fs = v['filesystem'];
        if (fs === undefined || fs === null) return; // not measured on this refresh
        if (!isObj(fs)) throw new TraceError(`${at}.filesystem is not an object`);
        const key = `${String(c['namespace'] ?? '')}/${v['pvc']}`;
        const entry = perVolume.get(key) ?? { samples: [] };
        if (entry.capacity === undefined && v['capacityBytes'] !== undefined && v['capacityBytes'] !== null) {
          entry.capacity = bytes(v['capacityBytes'], `${at}.capacityBytes`);
        }
        entry.samples.push({
          at: time(fs['observedAt'] ?? collectedAt, `${at}.filesystem.observedAt`),
          usedBytes: bytes(fs['usedBytes'], `${at}.filesystem.usedBytes`),
        });
        perVolume.set(key, entry);
      });
    });
  });
  if (documents === 0) throw new TraceError('the file holds no DiskStatus document');
  const [key, entry] = pick(perVolume, volume, 'NDJSON trace');
  const samples = sorted(entry.samples);
  if (samples.length < 2)
    throw new TraceError(`volume ${key} has ${samples.length} measurement; a trace needs at least 2`);
  return {
    format: 'disk-status-ndjson',
    volume: key,
    samples,
    ...(entry.capacity !== undefined ? { initialCapacityBytes: entry.capacity } : {}),
    otherVolumes: [...perVolume.keys()].filter((k) => k !== key),
  };
}

/** A Prometheus range-query answer: {"status":"success","data":{"resultType":"matrix","result":[…]}}. */
export function parsePrometheusMatrix(text: string, volume?: string): RecordedTrace {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TraceError(`the file is not JSON (${(e as Error).message})`);
  }
  if (!isObj(doc)) throw new TraceError('the file is not a Prometheus API answer (an object)');
  if (doc['status'] !== 'success') {
    throw new TraceError(
      `the Prometheus answer has status ${JSON.stringify(doc['status'])}${typeof doc['error'] === 'string' ? `: ${doc['error'].slice(0, 200)}` : ''}`,
    );
  }
  const data = doc['data'];
  if (!isObj(data) || data['resultType'] !== 'matrix' || !Array.isArray(data['result'])) {
    throw new TraceError(
      'data.resultType is not "matrix": export a range query (/api/v1/query_range), not an instant query',
    );
  }
  const perVolume = new Map<string, TraceSample[]>();
  data['result'].forEach((r: unknown, ri) => {
    const at = `data.result[${ri}]`;
    if (!isObj(r) || !isObj(r['metric']) || !Array.isArray(r['values'])) {
      throw new TraceError(`${at} has no metric and values`);
    }
    const m = r['metric'];
    const name = m['__name__'];
    if (name !== undefined && name !== 'kubelet_volume_stats_used_bytes') {
      throw new TraceError(`${at} is ${String(name)}, not kubelet_volume_stats_used_bytes`);
    }
    const pvc = m['persistentvolumeclaim'];
    if (typeof pvc !== 'string') throw new TraceError(`${at} has no persistentvolumeclaim label`);
    const key = `${typeof m['namespace'] === 'string' ? m['namespace'] : ''}/${pvc}`;
    const samples = perVolume.get(key) ?? [];
    r['values'].forEach((pair: unknown, pi) => {
      const w = `${at}.values[${pi}]`;
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'number' || !Number.isFinite(pair[0])) {
        throw new TraceError(`${w} is not [unix seconds, "value"]`);
      }
      const v = pair[1];
      // Prometheus writes sample values as strings, floats included ("1.5e+10").
      const n = typeof v === 'string' && /^\d+(\.\d+)?(e\+?\d+)?$/i.test(v) ? Number(v) : NaN;
      if (!Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER)
        throw new TraceError(`${w} value ${JSON.stringify(v)} is not a byte count`);
      samples.push({ at: Math.round(pair[0] * 1000), usedBytes: Math.round(n) });
    });
    perVolume.set(key, samples);
  });
  const [key, raw] = pick(perVolume, volume, 'Prometheus answer');
  const samples = sorted(raw);
  if (samples.length < 2) throw new TraceError(`volume ${key} has ${samples.length} sample; a trace needs at least 2`);
  return {
    format: 'prometheus-matrix',
    volume: key,
    samples,
    otherVolumes: [...perVolume.keys()].filter((k) => k !== key),
  };
}

/** Either format, told apart by its first character and shape. */
export function parseTrace(text: string, volume?: string): RecordedTrace {
  const trimmed = text.trimStart();
  if (trimmed === '') throw new TraceError('the file is empty');
  // A Prometheus answer is one JSON object with "status"; NDJSON is one DiskStatus per line.
  const firstLine = trimmed.split('\n', 1)[0] as string;
  if (/"kind"\s*:\s*"DiskStatus"/.test(firstLine)) return parseStatusNdjson(text, volume);
  if (/"status"\s*:/.test(trimmed.slice(0, 200)) || /"resultType"/.test(trimmed))
    return parsePrometheusMatrix(text, volume);
  throw new TraceError(
    'the file is neither the NDJSON of disk status --watch -o json nor a Prometheus range-query answer',
  );
}
