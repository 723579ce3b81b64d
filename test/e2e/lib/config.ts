// What the end-to-end suite runs against: the local cluster of test/cluster
// (default) or any cluster a kubeconfig points at (e.g. AKS). Resolved once in
// global-setup.ts and handed to the test files with vitest's provide/inject.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ObjectStore {
  /** barmanObjectStore.destinationPath prefix: <endpoint>/<container> is appended by tests. */
  readonly endpoint: string;
  readonly connectionString: string;
  /** The same store with a wrong key: archiving to it fails for real. */
  readonly badConnectionString: string;
  /** Local only: test/cluster/azurite.sh, so a test can stop and restart the store. */
  readonly control?: string;
}

export interface E2EConfig {
  readonly local: boolean;
  readonly kubeconfig: string;
  readonly kubectl: string;
  readonly storageClass: string;
  /** Absent: tests create a non-expandable copy of storageClass themselves. */
  readonly storageClassFixed?: string;
  /** Absent: the operator's default image. */
  readonly pgImage?: string;
  readonly namespacePrefix: string;
  /** Multiplies every wait (slower clouds). */
  readonly timeoutScale: number;
  readonly keepNamespaces: boolean;
  readonly objectStore?: ObjectStore;
  /** Local only: the API server's audit log and the CSI driver's fault-injection directory. */
  readonly auditLog?: string;
  readonly csiFaults?: string;
  readonly repoDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2EConfig;
  }
}

export function readEnvFile(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

export function cacheDir(): string {
  const c = process.env['CNPG_DISK_CACHE'];
  return c && c !== '' ? c : join(homedir(), '.cache', 'cnpg-disk');
}

export function localStateDir(): string {
  const s = process.env['CNPG_E2E_STATE'];
  return s && s !== '' ? s : '/var/lib/cnpg-disk-e2e';
}

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

function common(repoDir: string): Pick<E2EConfig, 'namespacePrefix' | 'timeoutScale' | 'keepNamespaces' | 'repoDir'> {
  const prefix = process.env['CNPG_E2E_NAMESPACE_PREFIX'] ?? 'cnpg-e2e-';
  if (!/^[a-z0-9]([a-z0-9-]{0,30})$/.test(prefix)) {
    throw new Error(`CNPG_E2E_NAMESPACE_PREFIX must be a short DNS label prefix, got "${prefix}"`);
  }
  return {
    namespacePrefix: prefix,
    timeoutScale: num('CNPG_E2E_TIMEOUT_SCALE', 1),
    keepNamespaces: process.env['CNPG_E2E_KEEP'] === '1',
    repoDir,
  };
}

function connectionString(account: string, key: string, blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=${blobEndpoint};`;
}

/** The local cluster, after test/cluster/up.sh wrote its cluster.env. */
export function localConfig(repoDir: string): E2EConfig {
  const envFile = join(localStateDir(), 'cluster.env');
  if (!existsSync(envFile)) throw new Error(`${envFile} is missing: run test/cluster/up.sh`);
  const env = readEnvFile(envFile);
  const get = (k: string): string => {
    const v = env.get(k);
    if (!v) throw new Error(`${envFile} has no ${k}`);
    return v;
  };
  const versions = readEnvFile(join(repoDir, 'test/infra/versions.env'));
  const account = get('CNPG_E2E_AZURE_ACCOUNT');
  const key = get('CNPG_E2E_AZURE_KEY');
  const endpoint = get('CNPG_E2E_AZURE_ENDPOINT');
  // A valid base64 key of the right length that is not the account's key.
  const badKey = Buffer.from(key, 'base64').map((b) => b ^ 0xff);
  return {
    local: true,
    kubeconfig: get('KUBECONFIG'),
    kubectl: join(cacheDir(), 'bin', `kubectl-${versions.get('K8S_VERSION') ?? ''}`),
    storageClass: get('CNPG_E2E_STORAGE_CLASS'),
    storageClassFixed: get('CNPG_E2E_STORAGE_CLASS_FIXED'),
    pgImage: get('CNPG_E2E_PG_IMAGE'),
    objectStore: {
      endpoint,
      connectionString: connectionString(account, key, endpoint),
      badConnectionString: connectionString(account, Buffer.from(badKey).toString('base64'), endpoint),
      control: join(repoDir, 'test/cluster/azurite.sh'),
    },
    auditLog: get('CNPG_E2E_AUDIT_LOG'),
    csiFaults: get('CNPG_E2E_CSI_FAULTS'),
    ...common(repoDir),
  };
}

/** Any cluster: CNPG_E2E_KUBECONFIG and the documented variables (docs/e2e.md). */
export function externalConfig(repoDir: string, kubeconfig: string): E2EConfig {
  const sc = process.env['CNPG_E2E_STORAGE_CLASS'];
  if (!sc) throw new Error('CNPG_E2E_STORAGE_CLASS is required with CNPG_E2E_KUBECONFIG (e.g. managed-csi on AKS)');
  const endpoint = process.env['CNPG_E2E_AZURE_ENDPOINT'];
  const cs = process.env['CNPG_E2E_AZURE_CONNECTION_STRING'];
  const account = process.env['CNPG_E2E_AZURE_ACCOUNT'];
  const fixed = process.env['CNPG_E2E_STORAGE_CLASS_FIXED'];
  const image = process.env['CNPG_E2E_PG_IMAGE'];
  return {
    local: false,
    kubeconfig,
    kubectl: process.env['CNPG_E2E_KUBECTL'] ?? 'kubectl',
    storageClass: sc,
    ...(fixed ? { storageClassFixed: fixed } : {}),
    ...(image ? { pgImage: image } : {}),
    ...(endpoint && cs && account
      ? {
          objectStore: {
            endpoint,
            connectionString: cs,
            badConnectionString: cs.replace(/AccountKey=[^;]*/, `AccountKey=${Buffer.alloc(64, 1).toString('base64')}`),
          },
        }
      : {}),
    ...common(repoDir),
  };
}
