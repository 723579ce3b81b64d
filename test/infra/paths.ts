// Where the pinned binaries and CRDs live (see versions.env and build-k8s.sh).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const INFRA_DIR = dirname(fileURLToPath(import.meta.url));

export interface PinnedVersions {
  readonly k8s: string;
  readonly etcd: string;
  readonly cnpg: string;
}

function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

let cached: PinnedVersions | undefined;

export function pinnedVersions(): PinnedVersions {
  if (cached) return cached;
  const env = parseEnvFile(readFileSync(join(INFRA_DIR, 'versions.env'), 'utf8'));
  const get = (k: string): string => {
    const v = env.get(k);
    if (!v) throw new Error(`test/infra/versions.env has no ${k}`);
    return v;
  };
  cached = { k8s: get('K8S_VERSION'), etcd: get('ETCD_VERSION'), cnpg: get('CNPG_VERSION') };
  return cached;
}

/** ${CNPG_DISK_CACHE:-$HOME/.cache/cnpg-disk}, as in the shell scripts. */
export function cacheDir(): string {
  const fromEnv = process.env['CNPG_DISK_CACHE'];
  return fromEnv && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'cnpg-disk');
}

export type Component =
  'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl' | 'kubelet' | 'kube-proxy';

/** Path of a binary built by build-k8s.sh; throws a helpful error when absent. */
export function binaryPath(name: Component, cache = cacheDir()): string {
  const v = pinnedVersions();
  const p = join(cache, 'bin', `${name}-${name === 'etcd' ? v.etcd : v.k8s}`);
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: run test/infra/build-k8s.sh ${name} (about 10 minutes cold, cached after)`);
  }
  return p;
}

/** Directory of the CNPG CRD YAML files written by cnpg-crds.sh (may not exist yet). */
export function cnpgCrdDir(cache = cacheDir()): string {
  return join(cache, 'crds', `cnpg-${pinnedVersions().cnpg}`);
}
