// The port-forward fallback of the pod-proxy source (src/sources/port-forward.ts).
//
// What runs for real here: client-node's PortForward (its WebSocket client),
// our local listener and the HTTP(S) request through it, and a real HTTP and
// HTTPS server standing in for the instance manager. What is NOT exercised:
// a kubelet. The test kube-apiserver (test/infra) has no kubelet behind it, so
// a port-forward through it cannot reach a pod; the WebSocket end below is
// our own small server speaking the Kubernetes port-forward v4 channel
// protocol (each binary message: one channel byte, then data; the first
// message on channels 0 and 1 carries the port as 2 little-endian bytes).
// The end-to-end suite on a local cluster (test/e2e) is where a real kubelet
// forwards. The fallback decision is tested with injected readers.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { KubeConfigData } from '../../../src/kube/kubeconfig.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import { readInstance, type PodProxyResult } from '../../../src/sources/pod-proxy.js';
import { rulesText } from '../../../src/sources/permissions.js';
import {
  forwardGet,
  kubeForwarder,
  portForwardAccess,
  portForwardGet,
  readWithFallback,
} from '../../../src/sources/port-forward.js';
import { CertificateAuthority } from '../../infra/pki.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Writes one unmasked server frame (RFC 6455). */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([0x80 | opcode, n])
      : n < 65536
        ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff])
        : Buffer.concat([
            Buffer.from([0x80 | opcode, 127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(n));
              return b;
            })(),
          ]);
  return Buffer.concat([head, payload]);
}

/** Reads masked client frames from a byte stream; calls back per complete frame. */
function frameReader(onFrame: (opcode: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const b0 = buf[0] ?? 0;
      const b1 = buf[1] ?? 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const need = off + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const mask = masked ? buf.subarray(off, off + 4) : undefined;
      const payload = Buffer.from(buf.subarray(off + (masked ? 4 : 0), need));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
      buf = buf.subarray(need);
      onFrame(b0 & 0x0f, payload);
    }
  };
}

interface FakeApi {
  url: string;
  /** Requests seen: path with query. */
  seen: string[];
  /** Open TCP connections to "pods" right now. */
  open: () => number;
  close: () => Promise<void>;
}

/**
 * A stand-in for the API server's portforward endpoint: upgrades
 * /api/v1/namespaces/NS/pods/POD/portforward?ports=N to v4.channel.k8s.io and
 * relays channel 0 to a TCP connection to 127.0.0.1:<ports[N]>. Pod "denied"
 * gets 403 instead of the upgrade.
 */
async function startFakeApi(ports: Map<number, number>): Promise<FakeApi> {
  const seen: string[] = [];
  const upstreams = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: http.IncomingMessage, sock: Duplex) => {
    seen.push(req.url ?? '');
    const u = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(u.pathname);
    const port = Number(u.searchParams.get('ports'));
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(/\s*,\s*/);
    if (!m || m[2] === 'denied' || !protocols.includes('v4.channel.k8s.io')) {
      sock.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(`${String(req.headers['sec-websocket-key'])}${WS_GUID}`)
      .digest('base64');
    sock.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
        `sec-websocket-accept: ${accept}\r\nsec-websocket-protocol: v4.channel.k8s.io\r\n\r\n`,
    );
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    sock.write(frame(2, Buffer.concat([Buffer.from([0]), portBytes])));
    sock.write(frame(2, Buffer.concat([Buffer.from([1]), portBytes])));
    const upstream = net.connect(ports.get(port) ?? 1, '127.0.0.1');
    upstreams.add(upstream);
    upstream.on('data', (d: Buffer) => sock.write(frame(2, Buffer.concat([Buffer.from([0]), d]))));
    const done = () => {
      upstreams.delete(upstream);
      upstream.destroy();
      if (!sock.destroyed) sock.end(frame(8, Buffer.alloc(0)));
    };
    upstream.on('end', done);
    upstream.on('error', done);
    sock.on('error', done);
    sock.on('close', done);
    sock.on(
      'data',
      frameReader((opcode, payload) => {
        if (opcode === 8) done();
        else if (opcode === 2 && payload[0] === 0) upstream.write(payload.subarray(1));
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    open: () => upstreams.size,
    close: async () => {
      server.closeAllConnections();
      for (const s of upstreams) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function clientFor(server: string): KubeClient {
  const kc = KubeConfigData.fromParts({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc, 5_000);
}

const STATUS = JSON.stringify({ isPrimary: true, currentLsn: '0/3000000', instanceManagerVersion: '1.29.0' });
const METRICS = `# TYPE cnpg_collector_up gauge\ncnpg_collector_up{cluster="orders-db"} 1\n${'x_filler 1\n'.repeat(20_000)}`;

describe('forwardGet over client-node PortForward (own v4 WebSocket server, no kubelet)', () => {
  let tmp: string;
  let api: FakeApi;
  let statusSrv: https.Server;
  let metricsSrv: http.Server;
  const hits: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pf-test-'));
    // The instance's certificate is from a CA nobody trusts, as CloudNativePG's is to us.
    const ca = await CertificateAuthority.create(tmp, 'instance-ca');
    const cert = await ca.issue({ commonName: 'orders-db-1', ipAddresses: ['10.0.0.1'] });
    statusSrv = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      hits.push(`https ${req.url ?? ''}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(STATUS);
    });
    metricsSrv = http.createServer((req, res) => {
      hits.push(`http ${req.url ?? ''}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(METRICS);
    });
    await new Promise<void>((r) => statusSrv.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => metricsSrv.listen(0, '127.0.0.1', r));
    api = await startFakeApi(
      new Map([
        [8000, (statusSrv.address() as net.AddressInfo).port],
        [9187, (metricsSrv.address() as net.AddressInfo).port],
      ]),
    );
  }, 60_000);

  afterAll(async () => {
    await api.close();
    statusSrv.closeAllConnections();
    metricsSrv.closeAllConnections();
    await new Promise<void>((r) => statusSrv.close(() => r()));
    await new Promise<void>((r) => metricsSrv.close(() => r()));
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reads /pg/status over https (self-signed) and a 200 KiB /metrics over http, one forward each, closed after', async () => {
    const client = clientFor(api.url);
    const get = portForwardGet(client, 'orders', 'orders-db-1', 5_000);
    const status = await get('https', 8000, 'pg/status');
    expect(status).toEqual({ status: 200, body: STATUS, contentType: 'application/json' });
    const metrics = await get('http', 9187, 'metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toBe(METRICS);
    expect(metrics.body.length).toBeGreaterThan(200_000);
    expect(hits).toEqual(['https /pg/status', 'http /metrics']);
    expect(api.seen).toEqual([
      '/api/v1/namespaces/orders/pods/orders-db-1/portforward?ports=8000',
      '/api/v1/namespaces/orders/pods/orders-db-1/portforward?ports=9187',
    ]);
    expect(client.requests.map((r) => r.url)).toEqual([
      `${api.url}/api/v1/namespaces/orders/pods/orders-db-1/portforward?ports=8000`,
      `${api.url}/api/v1/namespaces/orders/pods/orders-db-1/portforward?ports=9187`,
    ]);
    // Each forward is torn down after its request.
    await expect.poll(() => api.open(), { timeout: 5_000 }).toBe(0);
  });

  it('readInstance with the port-forward getter reads the same endpoints as through the proxy', async () => {
    const client = clientFor(api.url);
    const pod = { metadata: { name: 'orders-db-1' }, spec: { containers: [{ name: 'postgres' }] } };
    const r = await readInstance(
      client,
      'orders',
      pod,
      {},
      '2026-01-01T00:00:00.000Z',
      5_000,
      portForwardGet(client, 'orders', 'orders-db-1', 5_000),
    );
    expect(r.unreachable).toBe(false);
    expect(r.statusBody).toBe(STATUS);
    expect(r.metricsBody).toBe(METRICS);
    expect(r.instanceManagerVersion).toBe('1.29.0');
    expect(r.wal?.isPrimary).toBe(true);
  });

  it('a refused forward (403 on the upgrade) is reported as the forward failing, not as a hang-up', async () => {
    const client = clientFor(api.url);
    const err = await portForwardGet(
      client,
      'orders',
      'denied',
      5_000,
    )('http', 9187, 'metrics').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/403/);
  });

  it('bodies larger than the limit are refused', async () => {
    const client = clientFor(api.url);
    const err = await forwardGet(
      kubeForwarder(client, 'orders', 'orders-db-1', 9187),
      'pods/portforward orders/orders-db-1:9187',
      'http',
      'metrics',
      5_000,
      1024,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('larger than 1024 bytes');
  });

  it('a forward that never connects is bounded by the request timeout', async () => {
    const started = Date.now();
    const err = await forwardGet(
      () => new Promise(() => undefined), // the WebSocket never opens
      'pods/portforward orders/x:8000',
      'http',
      'pg/status',
      300,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toContain('timed out');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

function result(p: Partial<PodProxyResult>): PodProxyResult {
  return { volumes: [], countsUnknown: false, errors: [], forbidden: false, unreachable: false, ...p };
}

describe('readWithFallback: when the port-forward is tried', () => {
  const ok = result({ statusBody: '{}', wal: { instance: 'p', source: 'pod-proxy', observedAt: 't' } });
  const down = result({ unreachable: true, errors: ['/pg/status of p over https: HTTP 502 dial tcp: no route'] });

  it('proxy answers: no permission check, no forward', async () => {
    const calls: string[] = [];
    const r = await readWithFallback(
      () => Promise.resolve(ok),
      () => (calls.push('may'), Promise.resolve(true)),
      () => (calls.push('forward'), Promise.resolve(ok)),
    );
    expect(r).toEqual({ result: ok });
    expect(calls).toEqual([]);
  });

  it('proxy unreachable and port-forward permitted: the forward answers, and why the proxy failed is kept', async () => {
    const fwd = result({ statusBody: '{"isPrimary":true}' });
    const r = await readWithFallback(
      () => Promise.resolve(down),
      () => Promise.resolve(true),
      () => Promise.resolve(fwd),
    );
    expect(r).toEqual({ result: fwd, portForward: 'used', proxyErrors: down.errors });
  });

  it('proxy unreachable, forward unreachable too: both reasons are kept', async () => {
    const fwdDown = result({ unreachable: true, errors: ['/metrics of p: ECONNREFUSED'] });
    const r = await readWithFallback(
      () => Promise.resolve(down),
      () => Promise.resolve(true),
      () => Promise.resolve(fwdDown),
    );
    expect(r.portForward).toBe('unreachable');
    expect(r.result.errors).toEqual([...down.errors, ...fwdDown.errors]);
  });

  it('proxy unreachable, port-forward not permitted: denied, no forward', async () => {
    let forwarded = false;
    const r = await readWithFallback(
      () => Promise.resolve(down),
      () => Promise.resolve(false),
      () => ((forwarded = true), Promise.resolve(ok)),
    );
    expect(r).toEqual({ result: down, portForward: 'denied' });
    expect(forwarded).toBe(false);
  });

  it('proxy refused (403): a permission to grant, not retried over port-forward', async () => {
    const refused = result({ unreachable: true, forbidden: true, errors: ['pod proxy to p refused (403)'] });
    const calls: string[] = [];
    const r = await readWithFallback(
      () => Promise.resolve(refused),
      () => (calls.push('may'), Promise.resolve(true)),
      () => (calls.push('forward'), Promise.resolve(ok)),
    );
    expect(r).toEqual({ result: refused });
    expect(calls).toEqual([]);
  });

  it('asks for get and create on pods/portforward in the namespace (WebSocket)', () => {
    expect(rulesText(portForwardAccess('orders'))).toBe('get, create pods/portforward in namespace orders');
  });
});
