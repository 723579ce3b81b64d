/**
 * The kubeconfig, read without the main module of @kubernetes/client-node.
 *
 * Why not client-node's KubeConfig: its module imports the whole generated
 * API (every group's client and 2,556 models), which costs ~0.7 s of CPU and
 * ~70 MiB under Node before the first request, though a read-only
 * `disk status` needs none of it (it reads plain JSON: KubeClient.getJson).
 * So this file does what KubeConfig does for loading and authentication, on
 * client-node's own light modules: `config_types.js` turns the YAML into the
 * same Cluster / User / Context objects (same validation), and the same
 * authenticators (exec plugins, token files, and the legacy azure / gcp /
 * oidc providers, each loaded only when a user needs it) add credentials.
 * The YAML parser is js-yaml, the one client-node uses, so a kubeconfig
 * means the same thing as before. The full KubeConfig, for client-node's
 * generated APIs, Exec, PortForward and informers, is made from these
 * objects only when such a call is made (`toClientNode`).
 *
 * Several files (KUBECONFIG=a:b) merge as kubectl merges them: the first
 * file that sets current-context decides it, and the first entry of a name
 * wins.
 */
import { existsSync, readFileSync } from 'node:fs';
import type * as https from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { newClusters, newContexts, newUsers } from '@kubernetes/client-node/dist/config_types.js';
import { load as parseYaml } from 'js-yaml';
import { cannotEvaluate, usageError } from '../model/errors.js';

export interface KubeOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** Milliseconds; 0 = no timeout. */
  requestTimeoutMs?: number | undefined;
}

/** What client-node's authenticators implement (exec plugins, token files, legacy providers). */
interface Authenticator {
  isAuthProvider(user: User): unknown;
  applyAuthentication(user: User, opts: https.RequestOptions): Promise<void>;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The clusters, users and contexts of one or more kubeconfig files, and the current context. */
export class KubeConfigData {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext = '';
  /** One instance per kind and config, as client-node keeps them (exec plugins cache their tokens). */
  private readonly authenticators = new Map<string, Promise<Authenticator>>();

  static fromParts(p: {
    clusters: Cluster[];
    users: User[];
    contexts: Context[];
    currentContext: string;
  }): KubeConfigData {
    const kc = new KubeConfigData();
    kc.clusters = p.clusters;
    kc.users = p.users;
    kc.contexts = p.contexts;
    kc.currentContext = p.currentContext;
    return kc;
  }

  getContexts(): Context[] {
    return this.contexts;
  }
  getCurrentContext(): string {
    return this.currentContext;
  }
  setCurrentContext(name: string): void {
    this.currentContext = name;
  }
  getContextObject(name: string): Context | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }
  getCurrentCluster(): Cluster | null {
    const ctx = this.getContextObject(this.currentContext);
    return (ctx && this.clusters.find((c) => c.name === ctx.cluster)) ?? null;
  }
  getCurrentUser(): User | null {
    const ctx = this.getContextObject(this.currentContext);
    return (ctx && this.users.find((u) => u.name === ctx.user)) ?? null;
  }

  /**
   * TLS material and credentials for a request to the current cluster, as
   * client-node's KubeConfig.applyToHTTPSOptions sets them, without an agent
   * (KubeClient owns the one agent per API server).
   */
  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (!user) return;
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    if (cluster?.tlsServerName) opts.servername = cluster.tlsServerName;
    const ca = cluster ? fileOrData(cluster.caFile, cluster.caData) : undefined;
    if (ca) opts.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    opts.headers ??= {};
    if (user.impersonateUser != null)
      (opts.headers as Record<string, string>)['Impersonate-User'] = user.impersonateUser;
    const auth = await this.authenticatorFor(user);
    if (auth) await auth.applyAuthentication(user, opts);
    if (user.token) (opts.headers as Record<string, string>)['Authorization'] = `Bearer ${user.token}`;
    if (user.username) opts.auth = `${user.username}:${user.password}`;
  }

  /** client-node's KubeConfig holding the same entries: for its generated APIs, Exec, PortForward, informers. */
  async toClientNode(): Promise<KubeConfig> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: this.clusters,
      users: this.users,
      contexts: this.contexts,
      currentContext: this.currentContext,
    });
    return kc;
  }

  /** The authenticator client-node would pick for this user (in its order), loading only that module. */
  private authenticatorFor(user: User): Promise<Authenticator | undefined> {
    const provider = (user.authProvider as { name?: unknown; config?: { tokenFile?: unknown } } | undefined) ?? {};
    const kind =
      provider.name === 'azure'
        ? 'azure'
        : provider.name === 'gcp'
          ? 'gcp'
          : user.exec
            ? 'exec'
            : provider.config?.tokenFile
              ? 'file'
              : provider.name === 'oidc'
                ? 'oidc'
                : undefined;
    if (!kind) return Promise.resolve(undefined);
    let a = this.authenticators.get(kind);
    if (!a) {
      a = loadAuthenticator(kind);
      this.authenticators.set(kind, a);
    }
    return a;
  }
}

async function loadAuthenticator(kind: 'azure' | 'gcp' | 'exec' | 'file' | 'oidc'): Promise<Authenticator> {
  switch (kind) {
    case 'azure':
      return new (await import('@kubernetes/client-node/dist/azure_auth.js')).AzureAuth();
    case 'gcp':
      return new (await import('@kubernetes/client-node/dist/gcp_auth.js')).GoogleCloudPlatformAuth();
    case 'exec':
      return new (await import('@kubernetes/client-node/dist/exec_auth.js')).ExecAuth();
    case 'file':
      return new (await import('@kubernetes/client-node/dist/file_auth.js')).FileAuth();
    case 'oidc':
      return new (await import('@kubernetes/client-node/dist/oidc_auth.js')).OpenIDConnectAuth();
  }
}

function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

/** One kubeconfig file: its entries, file paths made absolute against the file's folder (as kubectl does). */
function readFile(file: string): KubeConfigData {
  const doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a YAML mapping');
  const dir = dirname(file);
  const abs = (p: string | undefined) => (p && !isAbsolute(p) ? join(dir, p) : p);
  const kc = new KubeConfigData();
  kc.clusters = newClusters(doc['clusters']).map((c) => ({ ...c, ...(c.caFile ? { caFile: abs(c.caFile) } : {}) }));
  kc.users = newUsers(doc['users']).map((u) => ({
    ...u,
    ...(u.certFile ? { certFile: abs(u.certFile) } : {}),
    ...(u.keyFile ? { keyFile: abs(u.keyFile) } : {}),
  }));
  kc.contexts = newContexts(doc['contexts']);
  kc.currentContext = typeof doc['current-context'] === 'string' ? doc['current-context'] : '';
  return kc;
}

/** Several files as kubectl merges them: the first to set current-context, and the first entry of a name, win. */
function merge(files: KubeConfigData[]): KubeConfigData {
  const out = new KubeConfigData();
  const firstOfName = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Set<string>();
    return lists.flat().filter((x) => !seen.has(x.name) && seen.add(x.name));
  };
  out.clusters = firstOfName(files.map((f) => f.clusters));
  out.users = firstOfName(files.map((f) => f.users));
  out.contexts = firstOfName(files.map((f) => f.contexts));
  out.currentContext = files.find((f) => f.currentContext)?.currentContext ?? '';
  return out;
}

/** The service account of a pod (what client-node's loadFromCluster builds). */
function inCluster(): KubeConfigData {
  const host = process.env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '';
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const nsFile = `${SERVICE_ACCOUNT}/namespace`;
  return KubeConfigData.fromParts({
    clusters: [
      {
        name: 'inCluster',
        caFile: `${SERVICE_ACCOUNT}/ca.crt`,
        server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
        skipTLSVerify: false,
      },
    ],
    users: [
      { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: `${SERVICE_ACCOUNT}/token` } } },
    ],
    contexts: [
      {
        cluster: 'inCluster',
        name: 'inClusterContext',
        user: 'inClusterUser',
        ...(existsSync(nsFile) ? { namespace: readFileSync(nsFile, 'utf8') } : {}),
      },
    ],
    currentContext: 'inClusterContext',
  });
}

/** The kubeconfig file(s) as kubectl finds them, without choosing a context. */
export function readKubeConfig(opts: Omit<KubeOptions, 'context'>): KubeConfigData {
  const path = opts.kubeconfig;
  try {
    if (path) {
      if (!existsSync(path)) {
        throw usageError(`kubeconfig ${path} does not exist`, 'check the --kubeconfig path');
      }
      return readFile(path);
    }
    if (process.env['KUBECONFIG']) {
      const files = process.env['KUBECONFIG'].split(delimiter).filter(Boolean);
      const present = files.filter((f) => existsSync(f));
      if (present.length === 0) {
        throw usageError(
          `no file of KUBECONFIG (${process.env['KUBECONFIG']}) exists`,
          'set KUBECONFIG or use --kubeconfig',
        );
      }
      // Missing files are skipped, as kubectl skips them.
      return present.length === 1 ? readFile(present[0] as string) : merge(present.map(readFile));
    }
    if (existsSync(join(homedir(), '.kube', 'config'))) return readFile(join(homedir(), '.kube', 'config'));
    if (process.env['KUBERNETES_SERVICE_HOST']) return inCluster();
    throw cannotEvaluate(
      'no kubeconfig found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a cluster)',
      'KUBECONFIG_MISSING',
      'point --kubeconfig or KUBECONFIG at a kubeconfig file, or use --from-bundle to read a support bundle',
    );
  } catch (e) {
    if (e instanceof Error && e.name === 'CliError') throw e;
    throw usageError(
      `cannot read the kubeconfig: ${(e as Error).message.split('\n')[0]}`,
      'check that the file is a valid kubeconfig (kubectl config view)',
    );
  }
}

/**
 * Loads the kubeconfig like kubectl: --kubeconfig, else $KUBECONFIG, else
 * ~/.kube/config, else the in-cluster service account. Never silently falls
 * back to localhost:8080.
 */
export function loadKubeConfig(opts: KubeOptions): KubeConfigData {
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
function requireKnownContexts(kc: KubeConfigData, names: readonly string[]): void {
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

/** Several contexts of one kubeconfig: their names, and a KubeConfigData per context. */
export interface KubeContexts {
  names: string[];
  forContext(name: string): KubeConfigData;
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
    forContext(name: string): KubeConfigData {
      const one = KubeConfigData.fromParts({ ...kc, currentContext: name });
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
