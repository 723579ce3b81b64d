// Test hosts with their own non-loopback IP address, for the API server's
// node proxy and pod proxy.
//
// Why: kube-apiserver refuses to proxy to loopback and link-local addresses
// (k8s.io/apimachinery/pkg/util/proxy IsProxyableIP), so a simulated kubelet or
// instance manager on 127.0.0.1 cannot be reached through
//   /api/v1/nodes/NAME/proxy/...           (node proxy -> kubelet)
//   /api/v1/namespaces/NS/pods/NAME:PORT/proxy/...  (pod proxy -> pod IP)
//
// How: a TestNetwork is a network namespace that we create (`ip netns add`)
// joined to the root namespace by a veth pair:
//
//   root netns: cdisk<N>h 10.213.<N>.1/24  <-veth->  cdisk<N>n 10.213.<N>.2..254/24 :netns cnpg-disk-<N>
//
// Each test host gets its own address inside the namespace, where a tiny
// byte-level relay (`ip netns exec ... node -e RELAY`) listens on IP:PORT and
// pipes every connection to a unix socket. Unix sockets are not namespaced,
// so the HTTP(S) server with the test's handler runs in this process, on
// that socket: handlers are ordinary (req, res) closures, TLS is terminated
// here (so `req.socket.getPeerCertificate()` shows the client the API server
// presented), and the API server's traffic really crosses the veth.
//
// Only addresses inside namespaces created here are ever served or dialled;
// nothing listens on the root-namespace side (10.213.<N>.1).
// Requires root and iproute2 (see install-deps.sh).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import type { TlsMaterial } from './pki.js';
import { onExit, ownedTempDirSync, pidAlive, run, spawnManaged, type ManagedProcess } from './proc.js';

export type { TlsMaterial } from './pki.js';

export type TestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface TestHostOptions {
  /** TCP port on the host's address; default 0 (any free port). */
  readonly port?: number;
  /** Serve HTTPS with this certificate, or with one made for the allocated IP. */
  readonly tls?: TlsMaterial | ((ip: string) => TlsMaterial | Promise<TlsMaterial>);
  /** With tls: ask clients for a certificate (verify it yourself in the handler). */
  readonly requestCert?: boolean;
  /** With tls: CA(s) (PEM) accepted for client certificates. */
  readonly ca?: string;
}

export interface TestHost {
  /** The host's own address inside the test network namespace. */
  readonly ip: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
  /** e.g. https://10.213.7.2:10250 */
  readonly url: string;
  /** The in-process server (listening on a unix socket). */
  readonly server: http.Server;
  /** Stops relay and server. Idempotent. */
  close(): Promise<void>;
}

export interface TestHostGroup {
  /** The hosts' addresses, by index. */
  readonly ips: readonly string[];
  /** Stops the relay and the servers. Idempotent. */
  close(): Promise<void>;
}

export interface TestNetwork {
  /** Network namespace name, e.g. cnpg-disk-7. */
  readonly name: string;
  /** e.g. 10.213.7.0/24 */
  readonly subnet: string;
  /** Root-namespace end of the veth (nothing listens there). */
  readonly gatewayIP: string;
  /** Adds one more address inside the namespace and returns it. */
  allocateIP(): Promise<string>;
  /** Starts a host on a new address (one address per host, like a pod or a node). */
  startHost(handler: TestHandler, opts?: TestHostOptions): Promise<TestHost>;
  /**
   * Many plain-HTTP hosts at once (a fleet's pods): `count` new addresses,
   * each listening on every port of `ports`, all behind ONE relay process
   * (startHost runs one per host). `handlerFor(index, port)` serves host
   * `index` on `port`. At most 253 hosts per network, minus those started.
   */
  startHosts(
    count: number,
    ports: readonly number[],
    handlerFor: (index: number, port: number) => TestHandler,
  ): Promise<TestHostGroup>;
  /** Closes every host, deletes the namespace and the veth pair. Idempotent. */
  close(): Promise<void>;
}

const SUBNET_PREFIX = '10.213';
const LOCK_DIR = '/run/cnpg-disk-testnet';

// The relay that runs inside the namespace: IP:PORT <-> unix socket, bytes
// only. Exits when our stdin closes (we died) or on SIGTERM.
const RELAY = `
const net = require('net');
const [ip, port, sock] = process.argv.slice(1);
const srv = net.createServer((c) => {
  const u = net.connect(sock);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
  c.pipe(u);
  u.pipe(c);
});
srv.on('error', (e) => { process.stderr.write('relay: ' + e.message + '\\n'); process.exit(2); });
srv.listen(Number(port), ip, () => process.stdout.write('listening ' + srv.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

// The same relay for many listeners: argv[1] is a JSON list of [ip, port, sock].
const MULTI_RELAY = `
const net = require('net');
const list = JSON.parse(process.argv[1]);
let ready = 0;
for (const [ip, port, sock] of list) {
  const srv = net.createServer((c) => {
    const u = net.connect(sock);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    c.pipe(u);
    u.pipe(c);
  });
  srv.on('error', (e) => { process.stderr.write('relay ' + ip + ':' + port + ': ' + e.message + '\\n'); process.exit(2); });
  srv.listen(port, ip, () => { if (++ready === list.length) process.stdout.write('listening\\n'); });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

function names(octet: number): { ns: string; hostIf: string; nsIf: string } {
  return { ns: `cnpg-disk-${octet}`, hostIf: `cdisk${octet}h`, nsIf: `cdisk${octet}n` };
}

function cleanupSync(octet: number): void {
  const n = names(octet);
  for (const args of [
    ['netns', 'del', n.ns],
    ['link', 'del', n.hostIf],
  ]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** Runs fn while holding a short-lived cross-process mutex (an atomic mkdir). */
function withMutex<T>(fn: () => T): T {
  const dir = join(LOCK_DIR, '.mutex');
  const until = Date.now() + 15_000;
  for (;;) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let age = 0;
      try {
        age = Date.now() - statSync(dir).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      // Held only for a few ip(8) calls: an old one belongs to a killed process.
      if (age > 10_000) rmSync(dir, { recursive: true, force: true });
      else if (Date.now() > until) throw new Error(`${dir} stays locked`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function lockOwner(lock: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    return Number.isFinite(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims a free /24 in 10.213.0.0/16. Lock files make concurrent test
 * processes (vitest workers, CI next to a developer) pick different subnets.
 * Networks whose owner died (SIGKILL leaves no chance to clean up) are
 * removed on the way.
 */
function claimOctet(): number {
  mkdirSync(LOCK_DIR, { recursive: true });
  return withMutex(() => {
    for (const f of readdirSync(LOCK_DIR)) {
      const m = /^(\d+)\.pid$/.exec(f);
      if (!m?.[1]) continue;
      const owner = lockOwner(join(LOCK_DIR, f));
      if (owner !== undefined && (owner === process.pid || pidAlive(owner))) continue;
      cleanupSync(Number(m[1]));
      rmSync(join(LOCK_DIR, f), { force: true });
    }
    const start = 1 + Math.floor(Math.random() * 254);
    for (let i = 0; i < 254; i++) {
      const octet = 1 + ((start - 1 + i) % 254);
      try {
        writeFileSync(join(LOCK_DIR, `${octet}.pid`), String(process.pid), { flag: 'wx' });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      cleanupSync(octet); // leftovers not covered by a lock, if any
      return octet;
    }
    throw new Error(`no free test subnet in ${SUBNET_PREFIX}.0.0/16 (see ${LOCK_DIR})`);
  });
}

export async function createTestNetwork(): Promise<TestNetwork> {
  if (process.getuid?.() !== 0) {
    throw new Error('test networks need root (ip netns add); run the tests as root');
  }
  const octet = claimOctet();
  const n = names(octet);
  const lock = join(LOCK_DIR, `${octet}.pid`);
  const gatewayIP = `${SUBNET_PREFIX}.${octet}.1`;
  const hosts = new Set<TestHost>();
  let nextHostByte = 2;
  let closed = false;

  const sockDir = ownedTempDirSync('cnpg-disk-net-');
  const teardownSync = (): void => {
    cleanupSync(octet);
    rmSync(lock, { force: true });
    rmSync(sockDir, { recursive: true, force: true });
  };
  const unregister = onExit(teardownSync);
  try {
    await run('ip', ['netns', 'add', n.ns]);
    await run('ip', ['link', 'add', n.hostIf, 'type', 'veth', 'peer', 'name', n.nsIf]);
    await run('ip', ['link', 'set', n.nsIf, 'netns', n.ns]);
    await run('ip', ['addr', 'add', `${gatewayIP}/24`, 'dev', n.hostIf]);
    await run('ip', ['link', 'set', n.hostIf, 'up']);
    await run('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', n.ns, 'link', 'set', n.nsIf, 'up']);
  } catch (e) {
    teardownSync();
    unregister();
    throw e;
  }

  const allocateIP = async (): Promise<string> => {
    if (closed) throw new Error(`test network ${n.ns} is closed`);
    if (nextHostByte > 254) throw new Error(`test network ${n.ns} is out of addresses`);
    const ip = `${SUBNET_PREFIX}.${octet}.${nextHostByte++}`;
    await run('ip', ['-n', n.ns, 'addr', 'add', `${ip}/24`, 'dev', n.nsIf]);
    return ip;
  };

  const startHost = async (handler: TestHandler, opts: TestHostOptions = {}): Promise<TestHost> => {
    const ip = await allocateIP();
    const tls = typeof opts.tls === 'function' ? await opts.tls(ip) : opts.tls;
    const listener: http.RequestListener = (req, res) => {
      const fail = (e: unknown): void => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`test handler failed: ${e instanceof Error ? e.message : String(e)}\n`);
      };
      try {
        const r = handler(req, res);
        if (r instanceof Promise) r.catch(fail);
      } catch (e) {
        fail(e);
      }
    };
    const server: http.Server = tls
      ? https.createServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(opts.ca ? { ca: opts.ca } : {}),
            requestCert: opts.requestCert ?? false,
            rejectUnauthorized: false,
          },
          listener,
        )
      : http.createServer(listener);
    const sock = join(sockDir, `${ip.split('.').pop() ?? 'x'}.sock`);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, () => {
        server.off('error', reject);
        resolve();
      });
    });

    let relay: ManagedProcess;
    let port: number;
    try {
      relay = spawnManaged(
        `relay ${ip}`,
        'ip',
        ['netns', 'exec', n.ns, process.execPath, '-e', RELAY, ip, String(opts.port ?? 0), sock],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      port = await new Promise<number>((resolve, reject) => {
        let out = '';
        let err = '';
        relay.child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        relay.child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening (\d+)/.exec(out);
          if (m?.[1]) resolve(Number(m[1]));
        });
        void relay.exited.then((code) => reject(new Error(`relay for ${ip} exited (${code}): ${err.trim()}`)));
      });
    } catch (e) {
      server.close();
      throw e;
    }

    const protocol = tls ? 'https' : 'http';
    let closing: Promise<void> | undefined;
    const host: TestHost = {
      ip,
      port,
      protocol,
      url: `${protocol}://${ip}:${port}`,
      server,
      close: () => {
        closing ??= (async () => {
          hosts.delete(host);
          relay.child.stdin?.end();
          await relay.stop(1000);
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        })();
        return closing;
      },
    };
    hosts.add(host);
    return host;
  };

  const groups = new Set<TestHostGroup>();
  const startHosts = async (
    count: number,
    ports: readonly number[],
    handlerFor: (index: number, port: number) => TestHandler,
  ): Promise<TestHostGroup> => {
    if (closed) throw new Error(`test network ${n.ns} is closed`);
    if (nextHostByte + count - 1 > 254) throw new Error(`test network ${n.ns} has no ${count} free addresses`);
    const ips = Array.from({ length: count }, () => `${SUBNET_PREFIX}.${octet}.${nextHostByte++}`);
    // One `ip` process for all addresses.
    await run('ip', ['-n', n.ns, '-batch', '-'], {
      input: ips.map((ip) => `addr add ${ip}/24 dev ${n.nsIf}\n`).join(''),
    });
    const servers: http.Server[] = [];
    const listeners: [string, number, string][] = [];
    try {
      for (const [i, ip] of ips.entries()) {
        for (const port of ports) {
          const handler = handlerFor(i, port);
          const server = http.createServer((req, res) => {
            try {
              const r = handler(req, res);
              if (r instanceof Promise) r.catch(() => res.destroy());
            } catch {
              res.destroy();
            }
          });
          const sock = join(sockDir, `g${ip.split('.').pop() ?? 'x'}-${port}.sock`);
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(sock, () => resolve());
          });
          servers.push(server);
          listeners.push([ip, port, sock]);
        }
      }
    } catch (e) {
      for (const srv of servers) srv.close();
      throw e;
    }
    const relay = spawnManaged(
      `relay ${count} hosts`,
      'ip',
      ['netns', 'exec', n.ns, process.execPath, '-e', MULTI_RELAY, JSON.stringify(listeners)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let err = '';
        relay.child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        relay.child.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('listening')) resolve();
        });
        void relay.exited.then((code) => reject(new Error(`relay for ${count} hosts exited (${code}): ${err.trim()}`)));
      });
    } catch (e) {
      for (const srv of servers) srv.close();
      throw e;
    }
    let closingGroup: Promise<void> | undefined;
    const group: TestHostGroup = {
      ips,
      close: () => {
        closingGroup ??= (async () => {
          groups.delete(group);
          relay.child.stdin?.end();
          await relay.stop(1000);
          await Promise.all(
            servers.map(
              (srv) =>
                new Promise<void>((resolve) => {
                  srv.close(() => resolve());
                  srv.closeAllConnections();
                }),
            ),
          );
        })();
        return closingGroup;
      },
    };
    groups.add(group);
    return group;
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      await Promise.all([...hosts].map((h) => h.close()));
      await Promise.all([...groups].map((g) => g.close()));
      teardownSync();
      unregister();
    })();
    return closing;
  };

  return {
    name: n.ns,
    subnet: `${SUBNET_PREFIX}.${octet}.0/24`,
    gatewayIP,
    allocateIP,
    startHost,
    startHosts,
    close,
  };
}

// ---------------------------------------------------------------------------
// Convenience: one lazily created network per test process.

let defaultNetwork: Promise<TestNetwork> | undefined;

/** The process-wide default TestNetwork (created on first use). */
export function defaultTestNetwork(): Promise<TestNetwork> {
  defaultNetwork ??= createTestNetwork();
  return defaultNetwork;
}

/** Starts a host on the default network. */
export async function startTestHost(handler: TestHandler, opts?: TestHostOptions): Promise<TestHost> {
  return (await defaultTestNetwork()).startHost(handler, opts);
}

/** Closes the default network (and all its hosts), if one was created. */
export async function closeDefaultTestNetwork(): Promise<void> {
  const p = defaultNetwork;
  defaultNetwork = undefined;
  if (p) await (await p).close();
}
