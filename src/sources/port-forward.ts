/**
 * The pod-proxy source's fallback (spec: "with port-forward as the fallback
 * when the proxy cannot reach pods"): the same two endpoints, `/pg/status`
 * on 8000 and `/metrics` on 9187, read over a port-forward
 * (`get` and `create` on `pods/portforward`).
 *
 * client-node's PortForward forwards the byte stream of ONE connection over
 * a WebSocket, so each GET gets its own short-lived forward: a listener on
 * 127.0.0.1:0, the one accepted socket piped through portForward, the
 * request to 127.0.0.1:<port>, then the WebSocket, socket and listener are
 * closed. The request timeout bounds the whole exchange.
 *
 * TLS: the API server's pod proxy does not verify the instance's
 * certificate (CloudNativePG's is self-signed for the pod), so neither do we
 * here: `rejectUnauthorized: false` for https, nothing for http.
 */
import * as net from 'node:net';
import type * as https from 'node:https';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { httpGet, MAX_PROXY_BODY, type InstanceGet, type PodProxyResult, type ProxyResponse } from './pod-proxy.js';
import { streamingAccess, type Access } from './permissions.js';

/**
 * The permissions the fallback needs: get and create on pods/portforward
 * (WebSocket, see streamingAccess); `get pods` is already needed to list pods.
 */
export function portForwardAccess(namespace: string): Access[] {
  return streamingAccess('portforward', namespace);
}

/** Starts a forward of one connection to pod:port; resolves with the WebSocket-like handle. */
export type Forwarder = (socket: net.Socket) => Promise<{ close(): void }>;

/** One GET over a fresh port-forward to `port` of the pod. */
export async function forwardGet(
  forward: Forwarder,
  action: string,
  scheme: 'https' | 'http',
  path: string,
  timeoutMs: number,
  maxBytes = MAX_PROXY_BODY,
): Promise<ProxyResponse> {
  const sockets = new Set<net.Socket>();
  const handles: { close(): void }[] = [];
  let forwardError: Error | undefined;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    forward(socket).then(
      (h) => {
        handles.push(h);
        if (socket.destroyed) h.close();
      },
      (e: unknown) => {
        // The WebSocket client rejects with an ErrorEvent, not an Error.
        const msg = e instanceof Error ? e.message : (e as { message?: unknown } | undefined)?.message;
        forwardError = e instanceof KubeApiError ? e : new Error(typeof msg === 'string' ? msg : String(e));
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const opts: https.RequestOptions = {
    method: 'GET',
    agent: false,
    headers: { accept: '*/*', connection: 'close' },
    ...(scheme === 'https' ? { rejectUnauthorized: false } : {}),
  };
  const url = new URL(`${scheme}://127.0.0.1:${port}/${path.replace(/^\//, '')}`);
  try {
    return await httpGet(url, opts, action, `/${path.replace(/^\//, '')} over port-forward`, timeoutMs, maxBytes);
  } catch (e) {
    // The forward's own failure (403, no such pod, upgrade refused) says more than "socket hang up".
    if (forwardError) {
      throw forwardError instanceof KubeApiError
        ? forwardError
        : new KubeApiError(action, undefined, 'PortForward', forwardError.message);
    }
    throw e;
  } finally {
    for (const h of handles) h.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A Forwarder through the API server with client-node's PortForward (WebSocket, one port). */
export function kubeForwarder(client: KubeClient, namespace: string, pod: string, port: number): Forwarder {
  return async (socket) => {
    client.requests.push({
      method: 'GET',
      url: `${client.server.replace(/\/$/, '')}/api/v1/namespaces/${namespace}/pods/${pod}/portforward?ports=${port}`,
    });
    // Loaded here, not at the top: client-node's main module is heavy and a read-only run never forwards.
    const { PortForward } = await import('@kubernetes/client-node');
    const ws = await new PortForward(await client.streamingKubeConfig()).portForward(
      namespace,
      pod,
      [port],
      socket,
      null,
      socket,
    );
    if (typeof ws === 'function') throw new Error('unexpected restartable port-forward'); // only with retryCount > 0
    // When the pod side closes, end our side so the HTTP client sees EOF.
    ws.on('close', () => socket.end());
    return { close: () => ws.close() };
  };
}

/** readInstance's getter over port-forward. */
export function portForwardGet(client: KubeClient, namespace: string, pod: string, timeoutMs: number): InstanceGet {
  return (scheme, port, path) =>
    forwardGet(
      kubeForwarder(client, namespace, pod, port),
      `pods/portforward ${namespace}/${pod}:${port}`,
      scheme,
      path,
      timeoutMs,
    );
}

export interface FallbackResult {
  result: PodProxyResult;
  /** Set when the pod proxy could not reach the pod (and did not refuse us). */
  portForward?: 'used' | 'denied' | 'unreachable';
  /** With 'used': why the pod proxy could not be used (the port-forward's answer replaced it). */
  proxyErrors?: string[];
}

/**
 * The fallback decision: the pod proxy first; when it could not reach the pod
 * (502/503, connection errors, timeouts — not a 403), a port-forward if it is
 * permitted. A refused proxy (403) is not retried another way: that is a
 * permission to grant, not a network problem.
 */
export async function readWithFallback(
  viaProxy: () => Promise<PodProxyResult>,
  mayForward: () => Promise<boolean>,
  viaForward: () => Promise<PodProxyResult>,
): Promise<FallbackResult> {
  const r = await viaProxy();
  if (!r.unreachable || r.forbidden) return { result: r };
  if (!(await mayForward())) return { result: r, portForward: 'denied' };
  const f = await viaForward();
  if (f.unreachable) return { result: { ...f, errors: [...r.errors, ...f.errors] }, portForward: 'unreachable' };
  return { result: f, portForward: 'used', proxyErrors: r.errors };
}
