// A real kube-apiserver backed by a real etcd, for integration tests.
//
// Real: etcd, kube-apiserver (built from the pinned Kubernetes module by
// build-k8s.sh), its authentication (client certificates from a CA made here,
// a static token file), RBAC authorization, admission, audit logging, CRD
// handling (the real CloudNativePG CRDs) and its node/pod proxy, which dials
// test hosts over a real veth pair (see testhost.ts).
// Simulated (by the tests, see simulated.ts): everything that would run on a
// node. There is no kubelet, scheduler or controller-manager: Node and Pod
// objects are written by the tests, with status (node addresses, kubelet port,
// pod IP) pointing at test hosts that play the kubelet (/stats/summary) and
// the CNPG instance manager (port 8000, /pg/status). No controller runs, so
// nothing reconciles: no service accounts, garbage collection or PVC binding.
//
// Usage:
//   const api = await startApiServer();
//   ... api.kubeconfigPath, await api.kubeconfigFor('alice', ['team-a']) ...
//   await api.stop();
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { binaryPath, cacheDir, cnpgCrdDir, INFRA_DIR, pinnedVersions, type PinnedVersions } from './paths.js';
import { CertificateAuthority, type IssuedCert, type TlsMaterial } from './pki.js';
import { freePort, onExit, ownedTempDirSync, run, sleep, spawnManaged, type ManagedProcess } from './proc.js';

export type { TlsMaterial } from './pki.js';

/** One line of the API server's JSON audit log (audit.k8s.io/v1 Event), Metadata level. */
export interface AuditEvent {
  readonly kind: 'Event';
  readonly apiVersion: string;
  readonly level: 'None' | 'Metadata' | 'Request' | 'RequestResponse';
  readonly auditID: string;
  readonly stage: 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';
  readonly requestURI: string;
  /** get, list, watch, create, update, patch, delete, deletecollection, or the HTTP verb for non-resource URLs. */
  readonly verb: string;
  readonly user: { readonly username: string; readonly uid?: string; readonly groups?: readonly string[] };
  readonly impersonatedUser?: { readonly username: string; readonly groups?: readonly string[] };
  readonly sourceIPs?: readonly string[];
  readonly userAgent?: string;
  readonly objectRef?: {
    readonly resource?: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly apiGroup?: string;
    readonly apiVersion?: string;
    readonly subresource?: string;
  };
  readonly responseStatus?: {
    readonly code?: number;
    readonly status?: string;
    readonly reason?: string;
    readonly message?: string;
  };
  readonly requestReceivedTimestamp: string;
  readonly stageTimestamp: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface TokenUser {
  readonly user: string;
  readonly groups?: readonly string[];
  /** Default: random. */
  readonly token?: string;
}

export interface ApiServerOptions {
  /** Default ${CNPG_DISK_CACHE:-~/.cache/cnpg-disk}. */
  readonly cacheDir?: string;
  /** Install the CloudNativePG CRDs and wait until Established (default true). */
  readonly installCrds?: boolean;
  /** Directory of CRD YAML files to install instead of the pinned CNPG ones. */
  readonly crdDir?: string;
  /** Users for --token-auth-file (the file is read once at start-up). An admin token user is always added. */
  readonly tokenUsers?: readonly TokenUser[];
  /** Admission plugins to turn on besides the default few (e.g. PodSecurity); taken off the disabled list. */
  readonly extraAdmissionPlugins?: readonly string[];
  /** Appended to the kube-apiserver command line (later flags win). */
  readonly extraApiServerArgs?: readonly string[];
  /** Time allowed for etcd + apiserver + CRDs, default 120 s. */
  readonly startTimeoutMs?: number;
  /** Keep the temp dir (certs, logs, audit log) after stop(); also with CNPG_DISK_KEEP_TMP=1. */
  readonly keepTempDir?: boolean;
}

export interface RequestOptions {
  /** Object (sent as JSON) or string/Buffer (sent as is). */
  readonly body?: unknown;
  /** Default application/json (with an object body). */
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Who asks: default the admin client certificate. */
  readonly credentials?: TlsMaterial | { readonly token: string };
  readonly timeoutMs?: number;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** JSON.parse of the body. */
  json<T = unknown>(): T;
}

export interface ApiServerHandle {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** Admin kubeconfig (user cnpg-disk-admin in system:masters, client certificate). */
  readonly kubeconfigPath: string;
  readonly auditLogPath: string;
  /** CA that signed the serving cert and every client cert; also --kubelet-certificate-authority. */
  readonly caCertPath: string;
  readonly caCertPem: string;
  /** Bearer token of the static admin token user (system:masters). */
  readonly adminToken: string;
  /** Temp dir with certs, logs (apiserver.log, etcd.log), audit log, etcd data. */
  readonly tempDir: string;
  readonly versions: PinnedVersions;
  /** All audit events so far (the log holds Metadata-level events, RequestReceived stage omitted). */
  readAudit(): Promise<AuditEvent[]>;
  /** Polls the audit log until an event matches (events are written as requests complete). */
  waitForAudit(match: (e: AuditEvent) => boolean, timeoutMs?: number): Promise<AuditEvent>;
  /** A kubeconfig for a client-certificate user (CN=user, O=groups), made on the fly. Cached per user+groups. */
  kubeconfigFor(user: string, groups?: readonly string[]): Promise<string>;
  /** A kubeconfig for a user declared in options.tokenUsers. */
  kubeconfigForToken(user: string): Promise<string>;
  /** A client certificate for user/groups, signed by the cluster CA. */
  clientCertFor(user: string, groups?: readonly string[]): Promise<IssuedCert>;
  /** A serving certificate signed by the cluster CA (the API server verifies kubelets against it). */
  issueServingCert(req: { ipAddresses?: readonly string[]; dnsNames?: readonly string[] }): Promise<TlsMaterial>;
  /** Raw request to the API server, by default as admin. Never throws on HTTP errors. */
  request(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse>;
  /** Kills apiserver and etcd and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const ADMIN_USER = 'cnpg-disk-admin';
const CLUSTER_NAME = 'cnpg-disk-test';

// Only the admission plugins that work without controllers. Everything in
// the upstream default set is turned off explicitly except these, so e.g.
// pods need no ServiceAccount (no token controller runs) and PVCs get no
// protection finalizer (no controller would ever remove it).
const ENABLED_ADMISSION = ['NamespaceLifecycle', 'DefaultStorageClass', 'PersistentVolumeClaimResize'];
const DISABLED_ADMISSION = [
  'LimitRanger',
  'ServiceAccount',
  'TaintNodesByCondition',
  'PodSecurity',
  'Priority',
  'DefaultTolerationSeconds',
  'RuntimeClass',
  'StorageObjectInUseProtection',
  'CertificateApproval',
  'CertificateSigning',
  'ClusterTrustBundleAttest',
  'CertificateSubjectRestriction',
  'DefaultIngressClass',
  'PodTopologyLabels',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
  'ResourceQuota',
];

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
# One event per request (ResponseComplete; watches also ResponseStarted).
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

interface RawRequest {
  readonly method: string;
  readonly url: string;
  readonly ca: string;
  readonly credentials?: TlsMaterial | { readonly token: string } | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

function httpsRequest(r: RawRequest): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json', ...(r.headers ?? {}) };
    const cred = r.credentials;
    if (cred && 'token' in cred) headers['authorization'] = `Bearer ${cred.token}`;
    if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
    const req = https.request(
      r.url,
      {
        method: r.method,
        headers,
        ca: r.ca,
        ...(cred && 'cert' in cred ? { cert: cred.cert, key: cred.key } : {}),
        agent: false,
        timeout: r.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${r.method} ${r.url}`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

function q(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

function kubeconfigYaml(server: string, caPem: string, user: string, auth: TlsMaterial | { token: string }): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const userLines =
    'token' in auth
      ? [`    token: ${q(auth.token)}`]
      : [`    client-certificate-data: ${b64(auth.cert)}`, `    client-key-data: ${b64(auth.key)}`];
  const ctx = `${user}@${CLUSTER_NAME}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${CLUSTER_NAME}`,
    '  cluster:',
    `    server: ${q(server)}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    'users:',
    `- name: ${q(user)}`,
    '  user:',
    ...userLines,
    'contexts:',
    `- name: ${q(ctx)}`,
    '  context:',
    `    cluster: ${CLUSTER_NAME}`,
    `    user: ${q(user)}`,
    '    namespace: default',
    `current-context: ${q(ctx)}`,
    '',
  ].join('\n');
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function logTail(p: string | undefined): Promise<string> {
  if (!p) return '';
  try {
    return tail(await readFile(p, 'utf8'));
  } catch {
    return '';
  }
}

/** Polls until fn returns a value (not undefined); fails early if a process died. */
async function waitUntil<T>(
  what: string,
  deadline: number,
  procs: readonly ManagedProcess[],
  fn: () => Promise<T | undefined>,
): Promise<T> {
  let lastErr = '';
  for (;;) {
    for (const p of procs) {
      if (p.hasExited()) {
        throw new ProcessDiedError(`${p.name} exited while waiting for ${what}:\n${await logTail(p.logPath)}`);
      }
    }
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) {
      const logs = (await Promise.all(procs.map(async (p) => `--- ${p.name}\n${await logTail(p.logPath)}`))).join('\n');
      throw new Error(`timed out waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}\n${logs}`);
    }
    await sleep(200);
  }
}

class ProcessDiedError extends Error {}

/** Splits a multi-document YAML file into its non-empty documents. */
function yamlDocuments(text: string): string[] {
  return text
    .split(/^---[ \t]*$/m)
    .map((d) => d.trim())
    .filter((d) => d.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#')));
}

async function ensureCrdDir(cache: string): Promise<string> {
  const dir = cnpgCrdDir(cache);
  if (!existsSync(join(dir, '.complete'))) {
    // Cheap (a module download + copy), so do it on demand.
    await run('bash', [join(INFRA_DIR, 'cnpg-crds.sh')]);
  }
  return dir;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServerHandle> {
  // Ports are picked free just before use; if another process grabs one in
  // between, a process dies at start-up and we simply try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      const portClash = e instanceof ProcessDiedError && /address already in use/i.test(e.message);
      if (!portClash || attempt >= 3) throw e;
    }
  }
}

async function startOnce(opts: ApiServerOptions): Promise<ApiServerHandle> {
  const cache = opts.cacheDir ?? cacheDir();
  const etcdBin = binaryPath('etcd', cache);
  const apiserverBin = binaryPath('kube-apiserver', cache);
  const installCrds = opts.installCrds ?? true;
  const crdDir = installCrds ? (opts.crdDir ?? (await ensureCrdDir(cache))) : undefined;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
  // CNPG_DISK_DEBUG=1: phase timings on stderr.
  const t0 = Date.now();
  const phase = (name: string): void => {
    if (process.env['CNPG_DISK_DEBUG'] === '1') process.stderr.write(`[apiserver] ${name} +${Date.now() - t0} ms\n`);
  };
  const keep = opts.keepTempDir ?? process.env['CNPG_DISK_KEEP_TMP'] === '1';

  const tempDir = ownedTempDirSync('cnpg-disk-apiserver-', keep);
  const unregisterTmp = onExit(() => {
    if (!keep) rmSync(tempDir, { recursive: true, force: true });
  });
  const procs: ManagedProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // apiserver first so it does not spin on a vanished etcd
      for (const p of [...procs].reverse()) await p.stop(3000);
      if (!keep) await rm(tempDir, { recursive: true, force: true });
      unregisterTmp();
    })();
    return stopping;
  };

  try {
    const pkiDir = join(tempDir, 'pki');
    await mkdir(pkiDir);
    const ca = await CertificateAuthority.create(pkiDir);
    const [serving, admin, kubeletClient] = await Promise.all([
      ca.issue({
        commonName: 'kube-apiserver',
        ipAddresses: ['127.0.0.1'],
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
        usages: ['serverAuth'],
      }),
      ca.issue({ commonName: ADMIN_USER, organizations: ['system:masters'], usages: ['clientAuth'] }),
      ca.issue({ commonName: 'kube-apiserver-kubelet-client', usages: ['clientAuth'] }),
    ]);
    const saKey = join(pkiDir, 'sa.key');
    const saPub = join(pkiDir, 'sa.pub');
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', saKey]);
    await run('openssl', ['pkey', '-in', saKey, '-pubout', '-out', saPub]);

    // Static tokens: token,user,uid,"group1,group2"
    const adminToken = randomBytes(24).toString('hex');
    const tokenUsers = new Map<string, { token: string; groups: readonly string[] }>();
    tokenUsers.set('cnpg-disk-token-admin', { token: adminToken, groups: ['system:masters'] });
    for (const u of opts.tokenUsers ?? []) {
      tokenUsers.set(u.user, { token: u.token ?? randomBytes(24).toString('hex'), groups: u.groups ?? [] });
    }
    const tokenFile = join(pkiDir, 'tokens.csv');
    await writeFile(
      tokenFile,
      [...tokenUsers].map(([user, t]) => `${t.token},${user},${user},"${t.groups.join(',')}"`).join('\n') + '\n',
    );

    const auditPolicyPath = join(tempDir, 'audit-policy.yaml');
    const auditLogPath = join(tempDir, 'audit.log');
    await writeFile(auditPolicyPath, AUDIT_POLICY);

    // --- etcd (plain http on loopback; only the apiserver talks to it)
    const [clientPort, peerPort, securePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    phase('certificates');
    const etcd = spawnManaged(
      'etcd',
      etcdBin,
      [
        '--name=default',
        `--data-dir=${join(tempDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync', // throw-away data: speed over durability
        '--log-level=warn',
      ],
      { logPath: join(tempDir, 'etcd.log') },
    );
    procs.push(etcd);
    await waitUntil('etcd /health', deadline, procs, async () => {
      const ok = await new Promise<boolean>((resolve) => {
        const req = http.get(`${etcdUrl}/health`, { timeout: 2000, agent: false }, (res) => {
          let buf = '';
          res.on('data', (d: Buffer) => (buf += d.toString()));
          res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(buf)));
          res.on('error', () => resolve(false));
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(false));
      });
      return ok ? true : undefined;
    });

    phase('etcd healthy');
    // --- kube-apiserver
    const url = `https://127.0.0.1:${securePort}`;
    const apiserver = spawnManaged(
      'kube-apiserver',
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${securePort}`,
        // Loopback is fine as long as nothing writes the kubernetes Endpoints
        // (their validation refuses loopback), hence no endpoint reconciler.
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
        '--service-cluster-ip-range=10.96.0.0/16',
        `--cert-dir=${join(tempDir, 'apiserver-certs')}`,
        `--tls-cert-file=${serving.certPath}`,
        `--tls-private-key-file=${serving.keyPath}`,
        `--client-ca-file=${ca.certPath}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        '--anonymous-auth=false',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        `--audit-policy-file=${auditPolicyPath}`,
        `--audit-log-path=${auditLogPath}`,
        '--audit-log-format=json',
        '--audit-log-mode=blocking',
        `--enable-admission-plugins=${[...ENABLED_ADMISSION, ...(opts.extraAdmissionPlugins ?? [])].join(',')}`,
        `--disable-admission-plugins=${DISABLED_ADMISSION.filter((p) => !opts.extraAdmissionPlugins?.includes(p)).join(',')}`,
        // node proxy: the apiserver authenticates to "kubelets" with this
        // cert and verifies theirs against our CA, as in a real cluster
        `--kubelet-client-certificate=${kubeletClient.certPath}`,
        `--kubelet-client-key=${kubeletClient.keyPath}`,
        `--kubelet-certificate-authority=${ca.certPath}`,
        '--kubelet-preferred-address-types=InternalIP,ExternalIP',
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
        ...(opts.extraApiServerArgs ?? []),
      ],
      { logPath: join(tempDir, 'apiserver.log') },
    );
    procs.push(apiserver);

    const adminCred: TlsMaterial = { cert: admin.cert, key: admin.key };
    const request = (method: string, path: string, o: RequestOptions = {}): Promise<ApiResponse> => {
      let body: string | Buffer | undefined;
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.body !== undefined) {
        if (typeof o.body === 'string' || Buffer.isBuffer(o.body)) {
          body = o.body;
          headers['content-type'] = o.contentType ?? 'application/json';
        } else {
          body = JSON.stringify(o.body);
          headers['content-type'] = o.contentType ?? 'application/json';
        }
      }
      return httpsRequest({
        method,
        url: url + path,
        ca: ca.certPem,
        credentials: o.credentials ?? adminCred,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      });
    };

    await waitUntil('kube-apiserver /readyz', deadline, procs, async () => {
      const r = await request('GET', '/readyz', { timeoutMs: 5000 });
      return r.status === 200 ? true : undefined;
    });

    phase('kube-apiserver ready');
    // --- CRDs: all at once (one by one costs ~1 s each while the apiserver
    // rebuilds its OpenAPI for every new CRD), then wait for all of them.
    if (crdDir) {
      const files = (await readdir(crdDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
      if (files.length === 0) throw new Error(`no CRD files in ${crdDir}`);
      const docs = (
        await Promise.all(
          files.map(async (f) => yamlDocuments(await readFile(join(crdDir, f), 'utf8')).map((doc) => ({ f, doc }))),
        )
      ).flat();
      const crds = await Promise.all(
        docs.map(async ({ f, doc }) => {
          // The apiserver decodes YAML request bodies itself: no YAML parser here.
          const r = await request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
            body: doc,
            contentType: 'application/yaml',
          });
          if (r.status !== 201) throw new Error(`creating CRD from ${f}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
          const crd = r.json<{
            metadata: { name: string };
            spec: { group: string; names: { plural: string }; versions: { name: string; storage: boolean }[] };
          }>();
          const version = crd.spec.versions.find((v) => v.storage)?.name ?? crd.spec.versions[0]?.name ?? 'v1';
          return { name: crd.metadata.name, group: crd.spec.group, plural: crd.spec.names.plural, version };
        }),
      );
      type CrdList = {
        items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
      };
      await waitUntil('CRDs Established', deadline, procs, async () => {
        const r = await request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
        if (r.status !== 200) return undefined;
        const established = new Set(
          r
            .json<CrdList>()
            .items.filter((i) =>
              (i.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True'),
            )
            .map((i) => i.metadata.name),
        );
        return crds.every((c) => established.has(c.name)) ? true : undefined;
      });
      // Established can precede the handler being routable for a moment.
      await Promise.all(
        crds.map((c) =>
          waitUntil(`${c.plural}.${c.group} served`, deadline, procs, async () => {
            const r = await request('GET', `/apis/${c.group}/${c.version}/${c.plural}?limit=1`);
            return r.status === 200 ? true : undefined;
          }),
        ),
      );
    }

    if (crdDir) phase('CRDs served');
    const kubeconfigPath = join(tempDir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(url, ca.certPem, ADMIN_USER, adminCred), { mode: 0o600 });

    const kubeconfigDir = join(tempDir, 'kubeconfigs');
    await mkdir(kubeconfigDir);
    const certCache = new Map<string, Promise<IssuedCert>>();
    const clientCertFor = (user: string, groups: readonly string[] = []): Promise<IssuedCert> => {
      const key = JSON.stringify([user, ...groups]);
      let p = certCache.get(key);
      if (!p) {
        p = ca.issue({ commonName: user, organizations: groups, usages: ['clientAuth'] });
        certCache.set(key, p);
        p.catch(() => certCache.delete(key));
      }
      return p;
    };
    const fileFor = (kind: string, user: string, groups: readonly string[]): string =>
      join(
        kubeconfigDir,
        `${kind}-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}-${Buffer.from(JSON.stringify(groups)).toString('hex').slice(0, 40)}.kubeconfig`,
      );

    const readAudit = async (): Promise<AuditEvent[]> => {
      let text: string;
      try {
        text = await readFile(auditLogPath, 'utf8');
      } catch {
        return [];
      }
      const out: AuditEvent[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          out.push(JSON.parse(line) as AuditEvent);
        } catch {
          // a line still being written
        }
      }
      return out;
    };

    return {
      url,
      kubeconfigPath,
      auditLogPath,
      caCertPath: ca.certPath,
      caCertPem: ca.certPem,
      adminToken,
      tempDir,
      versions: pinnedVersions(),
      readAudit,
      waitForAudit: async (match, timeoutMs = 10_000) => {
        const end = Date.now() + timeoutMs;
        for (;;) {
          const hit = (await readAudit()).find(match);
          if (hit) return hit;
          if (Date.now() > end) throw new Error(`no matching audit event in ${auditLogPath} after ${timeoutMs} ms`);
          await sleep(100);
        }
      },
      kubeconfigFor: async (user, groups = []) => {
        const cert = await clientCertFor(user, groups);
        const p = fileFor('cert', user, groups);
        await writeFile(p, kubeconfigYaml(url, ca.certPem, user, cert), { mode: 0o600 });
        return p;
      },
      kubeconfigForToken: async (user) => {
        const t = tokenUsers.get(user);
        if (!t) throw new Error(`token user ${user} was not declared in startApiServer({ tokenUsers })`);
        const p = fileFor('token', user, t.groups);
        await writeFile(p, kubeconfigYaml(url, ca.certPem, user, { token: t.token }), { mode: 0o600 });
        return p;
      },
      clientCertFor,
      issueServingCert: async (req) => {
        const c = await ca.issue({
          commonName: req.dnsNames?.[0] ?? req.ipAddresses?.[0] ?? 'test-host',
          ipAddresses: req.ipAddresses ?? [],
          dnsNames: req.dnsNames ?? [],
          usages: ['serverAuth'],
        });
        return { cert: c.cert, key: c.key };
      },
      request,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
