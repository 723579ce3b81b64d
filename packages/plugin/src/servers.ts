/**
 * Transports. The operator side listens on TCP with mutual TLS 1.3: the
 * operator presents the client certificate of the Service's
 * `cnpg.io/pluginClientSecret` and checks ours against the certificate of
 * `cnpg.io/pluginServerSecret` (CloudNativePG requires TLS 1.3 as a client;
 * we require it as a server and refuse a client certificate our CA file does
 * not vouch for). The instance side is plain gRPC on a unix socket, as the
 * instance manager dials it, plus the probe's read-only HTTP status endpoint.
 */
import { lstatSync, rmSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createProbeServer, type Measurement } from '@cnpg-disk/probe';
import type { SidecarOptions } from './lifecycle.js';
import type { Protocol } from './protocol.js';
import { instanceServices, operatorServices, type Log } from './services.js';

export interface TlsFiles {
  /** PEM: our certificate (chain). */
  cert: Buffer;
  /** PEM: its private key. */
  key: Buffer;
  /** PEM: the certificate(s) a client certificate must chain to. */
  clientCa: Buffer;
}

export interface OperatorServerOptions {
  protocol: Protocol;
  host: string;
  port: number;
  tls: TlsFiles;
  sidecar: SidecarOptions;
  log: Log;
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

export interface Running {
  /** The TCP port bound (0 for a unix socket). */
  port: number;
  close(): Promise<void>;
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 5000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function startOperatorServer(opts: OperatorServerOptions): Promise<Running> {
  // grpc-js passes no minimum version to Node's TLS server: set the process default before it is created.
  // This process serves nothing else over TLS.
  tls.DEFAULT_MIN_VERSION = 'TLSv1.3';
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  const services = operatorServices(opts.sidecar, opts.log);
  server.addService(opts.protocol.Identity, services.Identity);
  server.addService(opts.protocol.Operator, services.Operator);
  server.addService(opts.protocol.OperatorLifecycle, services.OperatorLifecycle);
  const creds = grpc.ServerCredentials.createSsl(
    opts.tls.clientCa,
    [{ cert_chain: opts.tls.cert, private_key: opts.tls.key }],
    true,
  );
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const port = await bind(server, `${host}:${opts.port}`, creds);
  return { port, close: () => shutdown(server) };
}

export interface InstanceServerOptions {
  protocol: Protocol;
  /** The unix socket path, /plugins/<plugin name>. */
  socket: string;
  /** One measurement (the probe's); shared with the status endpoint. */
  measure: () => Promise<Measurement>;
  /** The status endpoint (GET /status, GET /metrics); undefined: none. */
  status?: { host: string; port: number };
  cacheTtlMs: number;
  log: Log;
}

export interface RunningInstance extends Running {
  /** The status endpoint's port, when it listens. */
  statusPort?: number;
  /** How many measurements were made (shared between gRPC and HTTP). */
  measurements(): number;
}

/** Removes a socket left by a previous run of the sidecar (never another kind of file). */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) rmSync(path);
  } catch {
    // absent: nothing to remove
  }
}

export async function startInstanceServer(opts: InstanceServerOptions): Promise<RunningInstance> {
  const { server: http, shared } = createProbeServer({ measure: opts.measure, ttlMs: opts.cacheTtlMs });
  const server = new grpc.Server();
  const services = instanceServices(() => shared.get(), opts.log);
  server.addService(opts.protocol.Identity, services.Identity);
  server.addService(opts.protocol.Metrics, services.Metrics);
  removeStaleSocket(opts.socket);
  await bind(server, `unix:${opts.socket}`, grpc.ServerCredentials.createInsecure());
  let statusPort: number | undefined;
  if (opts.status) {
    const { host, port } = opts.status;
    statusPort = await new Promise<number>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        const a = http.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }
  const closeHttp = (h: HttpServer) =>
    new Promise<void>((resolve) => {
      if (!h.listening) return resolve();
      h.close(() => resolve());
      h.closeAllConnections();
    });
  return {
    port: 0,
    ...(statusPort !== undefined ? { statusPort } : {}),
    measurements: () => shared.started,
    close: async () => {
      await Promise.all([shutdown(server), closeHttp(http)]);
      removeStaleSocket(opts.socket);
    },
  };
}
