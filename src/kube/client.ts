/**
 * The one wrapper around @kubernetes/client-node.
 *
 * Version 1.4.0 on purpose: 2.x crashes at import on Node 20 (its undici
 * needs zlib zstd, Node >= 22.15).
 *
 * It owns: kubeconfig loading with --kubeconfig/--context (and refusing
 * client-node's silent fallback to http://localhost:8080), a per-request
 * timeout, request counting (for benchmarks and for proving read-only
 * commands read only), and error mapping.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
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
import { toKubeError } from './errors.js';

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

export class KubeClient {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly storage: StorageV1Api;
  readonly authz: AuthorizationV1Api;
  readonly requests: RequestLog[] = [];
  readonly timeoutMs: number;

  constructor(kc: KubeConfig, timeoutMs = 0) {
    this.kc = kc;
    this.timeoutMs = timeoutMs;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw cannotEvaluate('the kubeconfig has no current cluster', 'KUBECONFIG_NO_CLUSTER');
    const counter: Middleware = {
      pre: (ctx: RequestContext) => {
        this.requests.push({ method: ctx.getHttpMethod().toString(), url: ctx.getUrl() });
        if (this.timeoutMs > 0) ctx.setSignal(AbortSignal.timeout(this.timeoutMs));
        return Promise.resolve(ctx);
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
  }

  /** The namespace of the current context, or "default". */
  get currentNamespace(): string {
    const ctx = this.kc.getContextObject(this.kc.getCurrentContext());
    return ctx?.namespace || 'default';
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '';
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
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw usageError(
        `context ${JSON.stringify(opts.context)} is not in the kubeconfig`,
        `known contexts: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        }`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentContext() || !kc.getCurrentCluster()) {
    throw usageError('the kubeconfig has no current context', 'pass --context or run kubectl config use-context');
  }
  return kc;
}
