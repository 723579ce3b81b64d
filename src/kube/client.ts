/**
 * The one wrapper around @kubernetes/client-node.
 *
 * Version 1.4.0 on purpose: 2.x crashes at import on Node 20 (its undici
 * needs zlib zstd, Node >= 22.15).
 *
 * It owns: kubeconfig loading with --kubeconfig/--context (and refusing
 * client-node's silent fallback to http://localhost:8080), a per-request
 * timeout, request counting (for benchmarks and for proving read-only
 * commands read only), error mapping, and the one connection pool per API
 * server (see `agent()`).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import type {
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  StorageV1Api,
  ConfigurationOptions,
  Middleware,
  RequestContext,
  ResponseContext,
} from '@kubernetes/client-node';
import { cannotEvaluate } from '../model/errors.js';
import { KubeApiError, toKubeError } from './errors.js';
import type { KubeConfigData } from './kubeconfig.js';

export { loadKubeConfig, loadKubeContexts, type KubeContexts, type KubeOptions } from './kubeconfig.js';

export interface RequestLog {
  method: string;
  url: string;
}

/** What the shared agent did: new TCP connections, and of those, TLS sessions resumed (no full handshake). */
export interface ConnectionStats {
  opened: number;
  resumed: number;
}

/** Per-request authentication: headers (bearer token, impersonation) and basic auth, without TLS material. */
export interface RequestAuth {
  headers: http.OutgoingHttpHeaders;
  auth?: string;
  agent?: http.Agent;
}

/**
 * A keep-alive agent that builds the TLS context (CA, client certificate and
 * key) once and counts the connections it opens. Without it every request
 * made with client-node's options gets a new agent: a new TLS context and a
 * full handshake each time (about half of all CPU on a fleet of 900 pods).
 */
class CountingHttpsAgent extends https.Agent {
  constructor(
    opts: https.AgentOptions,
    private readonly stats: ConnectionStats,
  ) {
    super(opts);
  }

  override createConnection(options: never, callback?: never): Socket {
    const socket = (
      https.Agent.prototype as unknown as { createConnection: (o: never, cb?: never) => Socket }
    ).createConnection.call(this, options, callback) as tls.TLSSocket;
    this.stats.opened++;
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) this.stats.resumed++;
    });
    return socket;
  }
}

class CountingHttpAgent extends http.Agent {
  constructor(
    opts: http.AgentOptions,
    private readonly stats: ConnectionStats,
  ) {
    super(opts);
  }

  override createConnection(options: never, callback?: never): Socket {
    this.stats.opened++;
    return (
      http.Agent.prototype as unknown as { createConnection: (o: never, cb?: never) => Socket }
    ).createConnection.call(this, options, callback);
  }
}

/** client-node's generated API clients, made on first use (see KubeClient.apis). */
export interface KubeApis {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  storage: StorageV1Api;
  authz: AuthorizationV1Api;
  /** Leases (the autoresize controller's leader election). */
  coordination: CoordinationV1Api;
}

export class KubeClient {
  readonly kc: KubeConfigData;
  readonly requests: RequestLog[] = [];
  readonly timeoutMs: number;
  /** Connections of the shared agent (tests and benchmarks read it). */
  readonly connections: ConnectionStats = { opened: 0, resumed: 0 };
  private agentOnce: Promise<http.Agent | undefined> | undefined;
  private streamingKc: Promise<KubeConfig> | undefined;
  private fullKc: Promise<KubeConfig> | undefined;
  private apisOnce: Promise<KubeApis> | undefined;

  constructor(kc: KubeConfigData, timeoutMs = 0) {
    this.kc = kc;
    this.timeoutMs = timeoutMs;
    if (!kc.getCurrentCluster()) throw cannotEvaluate('the kubeconfig has no current cluster', 'KUBECONFIG_NO_CLUSTER');
  }

  /**
   * client-node's KubeConfig with the same entries, loaded on first use: its
   * module brings the whole generated API (docs/testing.md, bench:fleet), so
   * the read-only path, which reads plain JSON, never loads it.
   */
  clientNodeConfig(): Promise<KubeConfig> {
    this.fullKc ??= this.kc.toClientNode();
    return this.fullKc;
  }

  /**
   * The generated API clients, for writes, leases, events, logs and the
   * controller's informers; every call goes through the shared agent and is
   * counted and timed out like getJson.
   */
  apis(): Promise<KubeApis> {
    this.apisOnce ??= (async () => {
      const [kc, gen] = await Promise.all([this.clientNodeConfig(), import('@kubernetes/client-node')]);
      const counter = {
        pre: (ctx: RequestContext) => {
          this.requests.push({ method: ctx.getHttpMethod().toString(), url: ctx.getUrl() });
          if (this.timeoutMs > 0) ctx.setSignal(AbortSignal.timeout(this.timeoutMs));
          // client-node has just given this request an agent of its own (a new
          // TLS context, a new connection); use the shared one instead.
          return this.agent().then((agent) => {
            if (agent) ctx.setAgent(agent);
            return ctx;
          });
        },
        post: (r: ResponseContext) => Promise.resolve(r),
      } as unknown as Middleware;
      const config = gen.createConfiguration({
        baseServer: new gen.ServerConfiguration(this.server, {}),
        authMethods: { default: kc },
        promiseMiddleware: [counter],
      } as unknown as Parameters<typeof gen.createConfiguration>[0]);
      return {
        core: new gen.CoreV1Api(config),
        custom: new gen.CustomObjectsApi(config),
        storage: new gen.StorageV1Api(config),
        authz: new gen.AuthorizationV1Api(config),
        coordination: new gen.CoordinationV1Api(config),
      };
    })();
    return this.apisOnce;
  }

  /** The namespace of the current context, or "default". */
  get currentNamespace(): string {
    const ctx = this.kc.getContextObject(this.kc.getCurrentContext());
    return ctx?.namespace || 'default';
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '';
  }

  /**
   * The one agent for this API server: a keep-alive pool whose TLS context
   * (CA, client certificate, key, from the kubeconfig and its auth plugin, read
   * once per run) is shared by every request — lists, node summaries, access
   * reviews, pod-proxy reads, and the exec and port-forward WebSockets
   * (which cannot reuse a connection, but resume the TLS session). Idle
   * sockets do not keep the process alive (Node unrefs them).
   * `undefined` when the cluster is reached through a proxy (`proxy-url`):
   * client-node's proxy agents are used per request then, as before.
   */
  agent(): Promise<http.Agent | undefined> {
    this.agentOnce ??= (async () => {
      const cluster = this.kc.getCurrentCluster();
      if (!cluster || cluster.proxyUrl) return undefined;
      const o: https.RequestOptions = {};
      await this.kc.applyToHTTPSOptions(o);
      if (cluster.server.startsWith('http:')) return new CountingHttpAgent({ keepAlive: true }, this.connections);
      const material = {
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.cert ? { cert: o.cert } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.pfx ? { pfx: o.pfx } : {}),
        ...(o.passphrase ? { passphrase: o.passphrase } : {}),
      };
      const secureContext = tls.createSecureContext(material);
      return new CountingHttpsAgent(
        {
          keepAlive: true,
          // Node uses the context and ignores the material; Bun (the single
          // binary) ignores `secureContext` and needs the material itself.
          secureContext,
          ...material,
          ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
          ...(o.servername ? { servername: o.servername } : {}),
        },
        this.connections,
      );
    })();
    return this.agentOnce;
  }

  /**
   * Options for a request we make ourselves (pod proxy, raw GETs): the
   * credentials of the kubeconfig (asked per request: a token may be
   * refreshed) and the shared agent, without per-request TLS material.
   */
  async requestAuth(): Promise<RequestAuth> {
    const o: https.RequestOptions = {};
    const shared = await this.agent();
    // Through a proxy (`proxy-url`), client-node's proxy agent, per request as before.
    await (shared ? this.kc : await this.clientNodeConfig()).applyToHTTPSOptions(o);
    // Only ever a plain header object here.
    const headers = { ...(o.headers as http.OutgoingHttpHeaders | undefined) };
    const agent = shared ?? (o.agent as http.Agent | undefined);
    return { headers, ...(o.auth ? { auth: o.auth } : {}), ...(agent ? { agent } : {}) };
  }

  /**
   * The kubeconfig as client-node's Exec and PortForward should see it: they
   * take their WebSocket options from KubeConfig.applyToHTTPSOptions, which
   * makes a new agent (and TLS context) per call; this view hands them the
   * shared agent and changes nothing else. (client-node offers no agent
   * option for them; its WebSocketHandler factory would need the ws package.)
   */
  streamingKubeConfig(): Promise<KubeConfig> {
    this.streamingKc ??= Promise.all([this.agent(), this.clientNodeConfig()]).then(([agent, kc]) => {
      if (!agent) return kc;
      const view = Object.create(kc) as KubeConfig;
      view.applyToHTTPSOptions = async (opts) => {
        await kc.applyToHTTPSOptions(opts);
        (opts as https.RequestOptions).agent = agent;
      };
      return view;
    });
    return this.streamingKc;
  }

  /**
   * GET of an API path as plain JSON, on the shared agent (counted like
   * every request; --request-timeout applies). For the large lists (pods,
   * PVCs, events of a whole fleet): client-node's generated calls turn each
   * list into model objects (every date a Date) that the collector turned
   * back into JSON — about a third of a read-only run's CPU and much of its
   * memory on 900 pods. HTTP errors and network failures become
   * KubeApiError exactly like the generated calls' (toKubeError).
   */
  async getJson(apiPath: string, query: Record<string, string | undefined>, action: string): Promise<unknown> {
    return this.requestJson('GET', apiPath, query, undefined, action);
  }

  /**
   * POST of a JSON body to an API path, the answer as plain JSON (access
   * reviews on the read-only path), like getJson.
   */
  async postJson(apiPath: string, body: unknown, action: string): Promise<unknown> {
    return this.requestJson('POST', apiPath, {}, body, action);
  }

  private async requestJson(
    method: 'GET' | 'POST',
    apiPath: string,
    query: Record<string, string | undefined>,
    body: unknown,
    action: string,
  ): Promise<unknown> {
    const base = new URL(this.server);
    const url = new URL(`${base.pathname.replace(/\/$/, '')}${apiPath}`, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    this.requests.push({ method, url: url.toString() });
    const auth = await this.requestAuth();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const opts: https.RequestOptions = {
      method,
      ...auth,
      headers: {
        ...auth.headers,
        accept: 'application/json',
        ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
      },
    };
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? http : https).request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      if (this.timeoutMs > 0) req.setTimeout(this.timeoutMs, () => req.destroy(new Error('the request timed out')));
      req.on('error', reject);
      req.end(payload);
    }).catch((e: unknown) => {
      throw toKubeError(action, e);
    });
    if (status < 200 || status >= 300) throw toKubeError(action, { code: status, body: text });
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KubeApiError(
        action,
        status,
        'BadResponse',
        `the API server answered ${action} with something that is not JSON`,
      );
    }
  }

  /** Runs a client call, mapping errors to KubeApiError with the action attempted. */
  async call<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toKubeError(action, e);
    }
  }

  /**
   * Requests that change something (create/update/patch/delete). A
   * SelfSubjectAccessReview is a POST that stores nothing, and exec only runs
   * read-only commands (stat, psql SELECT), so neither counts.
   */
  get mutatingRequests(): RequestLog[] {
    return this.requests.filter(
      (r) =>
        !['GET', 'HEAD', 'OPTIONS'].includes(r.method) &&
        !r.url.includes('/selfsubjectaccessreviews') &&
        !r.url.startsWith('exec '),
    );
  }
}

/** Options that make a patch call send a JSON merge patch. */
export async function mergePatch(): Promise<ConfigurationOptions> {
  const { setHeaderOptions, PatchStrategy } = await import('@kubernetes/client-node');
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}
