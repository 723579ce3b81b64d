/**
 * `cnpg-disk-probe serve`: a read-only HTTP endpoint.
 *
 *   GET /metrics  Prometheus text of the latest measurement
 *   GET /status   the ProbeReport as JSON
 *
 * Bounded work per request: at most one measurement runs at a time. A request
 * that arrives while one runs waits for that same measurement; a request
 * within `ttlMs` of the last completed one gets its result. So a burst of
 * scrapes costs one measurement. Any other path is 404; another method on
 * these paths is 405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ProbeReport } from '@cnpg-disk/core';
import { CONTENT_TYPE, renderMetrics, type MetricsOptions } from './metrics.js';
import { reportToJson } from './probe.js';

export interface Measurement {
  report: ProbeReport;
  metrics?: MetricsOptions;
}

export interface ServeOptions {
  /** Makes one measurement. Should not throw (runProbe does not); if it does, the request gets a 500. */
  measure: () => Promise<Measurement>;
  /** How long a completed measurement is served without measuring again, ms. Default 5000. */
  ttlMs?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** Shares one measurement between concurrent callers and caches it for ttlMs. */
export class SharedMeasurement {
  private last: { at: number; value: Measurement } | undefined;
  private running: Promise<Measurement> | undefined;
  /** How many measurements were started (observable in tests). */
  started = 0;

  constructor(
    private readonly measure: () => Promise<Measurement>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<Measurement> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return Promise.resolve(this.last.value);
    if (this.running) return this.running;
    this.started++;
    const p = this.measure().then(
      (value) => {
        this.last = { at: this.now(), value };
        this.running = undefined;
        return value;
      },
      (err: unknown) => {
        this.running = undefined;
        throw err;
      },
    );
    this.running = p;
    return p;
  }
}

const ROUTES = new Set(['/metrics', '/status']);

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(body);
}

export function createProbeServer(opts: ServeOptions): { server: Server; shared: SharedMeasurement } {
  const shared = new SharedMeasurement(opts.measure, opts.ttlMs ?? 5000, opts.now);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (!ROUTES.has(path)) return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /status\n');
    if (req.method !== 'GET') {
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: only GET\n', { allow: 'GET' });
    }
    shared.get().then(
      (m) => {
        if (path === '/metrics') send(res, 200, CONTENT_TYPE, renderMetrics(m.report, m.metrics));
        else send(res, 200, 'application/json; charset=utf-8', `${reportToJson(m.report)}\n`);
      },
      (err: unknown) => {
        send(res, 500, 'text/plain; charset=utf-8', `measurement failed: ${(err as Error).message ?? String(err)}\n`);
      },
    );
  };
  const server = createServer(handler);
  // Read-only and local: small limits keep a slow or idle client from holding resources.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  server.maxConnections = 64;
  return { server, shared };
}

/** Parses `HOST:PORT` or `[V6]:PORT`. Throws a one-line message. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen must be HOST:PORT (e.g. 127.0.0.1:9188), got ${JSON.stringify(text)}`);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}
