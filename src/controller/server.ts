/**
 * The controller's HTTP endpoints: /metrics (Prometheus text), /healthz (the
 * process answers: liveness) and /readyz (the caches are listed and their
 * watches open: readiness). Nothing else; every other path is 404, every
 * method but GET/HEAD is 405.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CONTENT_TYPE, type ControllerMetrics } from './metrics.js';

export interface HealthServerOptions {
  host: string;
  port: number;
  metrics: ControllerMetrics;
  /** Readiness: undefined = ready; a sentence = not ready, and why. */
  notReady: () => string | undefined;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const text = (code: number, body: string) =>
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(req.method === 'HEAD' ? '' : body);
    if (path === '/healthz') return text(200, 'ok\n');
    if (path === '/readyz') {
      const why = o.notReady();
      return why === undefined ? text(200, 'ok\n') : text(503, `not ready: ${why}\n`);
    }
    if (path === '/metrics') {
      o.metrics
        .render()
        .then((body) =>
          res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(req.method === 'HEAD' ? '' : body),
        )
        .catch((e: unknown) => text(500, `cannot render metrics: ${String(e)}\n`));
      return;
    }
    text(404, 'not found\n');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
