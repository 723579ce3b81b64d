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
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  StorageV1Api,
  PatchStrategy,
  setHeaderOptions,
  createConfiguration,
  ServerConfiguration,
  type ConfigurationOptions,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { cannotEvaluate, usageError } from '../model/errors.js';
import { KubeApiError, toKubeError } from './errors.js';

export interface KubeOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** Milliseconds; 0 = no timeout. */
  requestTimeoutMs?: number | undefined;
}

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

export class KubeClient {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly storage: StorageV1Api;
  readonly authz: AuthorizationV1Api;
  /** Leases (the autoresize controller's leader election). */
  readonly coordination: CoordinationV1Api;
  readonly requests: RequestLog[] = [];
  readonly timeoutMs: number;
  /** Connections of the shared agent (tests and benchmarks read it). */
  readonly connections: ConnectionStats = { opened: 0, resumed: 0 };
  private agentOnce: Promise<http.Agent | undefined> | undefined;
  private streamingKc: Promise<KubeConfig> | undefined;

  constructor(kc: KubeConfig, timeoutMs = 0) {
    this.kc = kc;
    this.timeoutMs = timeoutMs;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw cannotEvaluate('the kubeconfig has no current cluster', 'KUBECONFIG_NO_CLUSTER');
    const counter: Middleware = {
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
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [counter],
    } as unknown as Parameters<typeof createConfiguration>[0]);
    this.core = new CoreV1Api(config);
    this.custom = new CustomObjectsApi(config);
    this.storage = new StorageV1Api(config);
    this.authz = new AuthorizationV1Api(config);
    this.coordination = new CoordinationV1Api(config);
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
    await this.kc.applyToHTTPSOptions(o);
    // client-node only ever sets a plain header object here.
    const headers = { ...(o.headers as http.OutgoingHttpHeaders | undefined) };
    const agent = (await this.agent()) ?? (o.agent as http.Agent | undefined);
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
    this.streamingKc ??= this.agent().then((agent) => {
      if (!agent) return this.kc;
      const kc = this.kc;
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
    const base = new URL(this.server);
    const url = new URL(`${base.pathname.replace(/\/$/, '')}${apiPath}`, base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    this.requests.push({ method: 'GET', url: url.toString() });
    const auth = await this.requestAuth();
    const opts: https.RequestOptions = {
      method: 'GET',
      ...auth,
      headers: { ...auth.headers, accept: 'application/json' },
    };
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = (url.protocol === 'http:' ? http : https).request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      if (this.timeoutMs > 0) req.setTimeout(this.timeoutMs, () => req.destroy(new Error('the request timed out')));
      req.on('error', reject);
      req.end();
    }).catch((e: unknown) => {
      throw toKubeError(action, e);
    });
    if (status < 200 || status >= 300) throw toKubeError(action, { code: status, body });
    try {
      return JSON.parse(body) as unknown;
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
export function mergePatch(): ConfigurationOptions {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}

/**
 * Loads the kubeconfig like kubectl: --kubeconfig, else $KUBECONFIG, else
 * ~/.kube/config, else the in-cluster service account. Never silently falls
 * back to localhost:8080.
 */
export function loadKubeConfig(opts: KubeOptions): KubeConfig {
  const kc = readKubeConfig(opts);
  if (opts.context) {
    requireKnownContexts(kc, [opts.context]);
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentContext() || !kc.getCurrentCluster()) {
    throw usageError('the kubeconfig has no current context', 'pass --context or run kubectl config use-context');
  }
  return kc;
}

/** An unknown context name is a usage error (64) naming the kubeconfig's contexts. */
function requireKnownContexts(kc: KubeConfig, names: readonly string[]): void {
  const known = kc.getContexts().map((c) => c.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length === 0) return;
  throw usageError(
    unknown.length === 1
      ? `context ${JSON.stringify(unknown[0])} is not in the kubeconfig`
      : `contexts ${unknown.map((n) => JSON.stringify(n)).join(', ')} are not in the kubeconfig`,
    `known contexts: ${known.join(', ') || 'none'}`,
  );
}

/** Several contexts of one kubeconfig: their names, and a KubeConfig per context. */
export interface KubeContexts {
  names: string[];
  forContext(name: string): KubeConfig;
}

/**
 * The contexts `--context a,b` (or repeated `--context`) or `--all-contexts`
 * name, resolved against the kubeconfig before any request: a value that is a
 * context's exact name is that context (a name may hold a comma), any other
 * value is a comma-separated list; duplicates count once, in the order given.
 * An unknown name is a usage error; so is a kubeconfig with no context at all
 * for `--all-contexts`. A context whose cluster entry is missing fails alone,
 * when its client is made (forContext), as a problem of that context
 * ("could not evaluate", 3).
 */
export function loadKubeContexts(opts: Omit<KubeOptions, 'context'>, asked: readonly string[] | 'all'): KubeContexts {
  const kc = readKubeConfig(opts);
  const known = kc.getContexts().map((c) => c.name);
  let names: string[];
  if (asked === 'all') {
    names = known;
    if (names.length === 0)
      throw usageError('the kubeconfig has no contexts', 'check it with kubectl config get-contexts');
  } else {
    names = asked.flatMap((v) =>
      known.includes(v)
        ? [v]
        : v
            .split(',')
            .map((n) => n.trim())
            .filter((n) => n !== ''),
    );
    if (names.length === 0) throw usageError('--context names no context', 'e.g. --context prod,staging');
    requireKnownContexts(kc, names);
  }
  names = [...new Set(names)];
  return {
    names,
    forContext(name: string): KubeConfig {
      const one = new KubeConfig();
      one.loadFromOptions({ clusters: kc.clusters, users: kc.users, contexts: kc.contexts, currentContext: name });
      if (!one.getCurrentCluster()) {
        // One broken entry among several contexts: that context cannot be evaluated (3), the others can.
        throw cannotEvaluate(
          `context ${JSON.stringify(name)} names a cluster the kubeconfig does not have`,
          'KUBECONFIG_NO_CLUSTER',
          'check it with kubectl config get-contexts',
        );
      }
      return one;
    },
  };
}

/** The kubeconfig file(s) as kubectl finds them, without choosing a context. */
function readKubeConfig(opts: Omit<KubeOptions, 'context'>): KubeConfig {
  const kc = new KubeConfig();
  const path = opts.kubeconfig;
  try {
    if (path) {
      if (!existsSync(path)) {
        throw usageError(`kubeconfig ${path} does not exist`, 'check the --kubeconfig path');
      }
      kc.loadFromFile(path);
    } else if (process.env['KUBECONFIG']) {
      const files = process.env['KUBECONFIG'].split(process.platform === 'win32' ? ';' : ':').filter(Boolean);
      const present = files.filter((f) => existsSync(f));
      if (present.length === 0) {
        throw usageError(
          `no file of KUBECONFIG (${process.env['KUBECONFIG']}) exists`,
          'set KUBECONFIG or use --kubeconfig',
        );
      }
      if (present.length === 1) kc.loadFromFile(present[0] as string);
      else kc.loadFromDefault();
    } else if (existsSync(join(homedir(), '.kube', 'config'))) {
      kc.loadFromFile(join(homedir(), '.kube', 'config'));
    } else if (process.env['KUBERNETES_SERVICE_HOST']) {
      kc.loadFromCluster();
    } else {
      throw cannotEvaluate(
        'no kubeconfig found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a cluster)',
        'KUBECONFIG_MISSING',
        'point --kubeconfig or KUBECONFIG at a kubeconfig file, or use --from-bundle to read a support bundle',
      );
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'CliError') throw e;
    throw usageError(
      `cannot read the kubeconfig: ${(e as Error).message.split('\n')[0]}`,
      'check that the file is a valid kubeconfig (kubectl config view)',
    );
  }
  return kc;
}
