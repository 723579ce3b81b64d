/**
 * krew manifests: krew/<plugin>.yaml is the source (placeholder checksums);
 * the release fills in version, URLs and sha256 per platform, keeping its
 * comments and layout. plugins.yaml lists what goes into the custom index.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { isMap, isSeq, parse, parseDocument } from 'yaml';
import type { YAMLMap } from 'yaml';

import { REPO } from './bundle.js';
import { CLI_BIN, TARGETS, archiveName } from './targets.js';
import type { Arch, Os } from './targets.js';

export const KREW_API_VERSION = 'krew.googlecontainertools.github.com/v1alpha2';

/** Where release archives are downloaded from; `{version}` is replaced by the version (without v). */
export const DEFAULT_BASE_URL = 'https://github.com/cnpg-disk/kubectl-cnpg-disk/releases/download/v{version}';
export const BASE_URL_ENV = 'CNPG_DISK_RELEASE_BASE_URL';

export function baseUrl(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[BASE_URL_ENV] || DEFAULT_BASE_URL;
  return raw.replaceAll('{version}', version).replace(/\/+$/, '');
}

export function archiveUrl(base: string, version: string, os: Os, arch: Arch): string {
  const t = TARGETS.find((x) => x.os === os && x.arch === arch);
  if (!t) throw new Error(`no target for ${os}/${arch}`);
  return `${base}/${archiveName(CLI_BIN, version, t)}`;
}

export interface IndexSpec {
  index: { name: string; repository: string };
  plugins: Array<{ name: string; manifest: string }>;
}

export function readIndexSpec(file: string = join(REPO, 'plugins.yaml')): IndexSpec {
  const spec = parse(readFileSync(file, 'utf8')) as IndexSpec;
  if (!spec?.index?.name || !Array.isArray(spec.plugins) || spec.plugins.length === 0) {
    throw new Error(`${file}: needs index.name and a non-empty plugins list`);
  }
  return spec;
}

/** One platform's values, keyed "os/arch". */
export type PlatformValues = Record<string, { uri: string; sha256: string }>;

/**
 * The manifest with version, and uri + sha256 of each platform replaced.
 * Fails when a platform of the manifest has no values, or values are left over.
 */
export function renderManifest(source: string, version: string, values: PlatformValues): string {
  const doc = parseDocument(source);
  doc.setIn(['spec', 'version'], `v${version}`);
  const platforms = doc.getIn(['spec', 'platforms']);
  if (!isSeq(platforms)) throw new Error('manifest has no spec.platforms list');
  const seen = new Set<string>();
  for (const item of platforms.items) {
    if (!isMap(item)) throw new Error('spec.platforms entry is not a mapping');
    const labels = (item as YAMLMap).getIn(['selector', 'matchLabels']);
    const os = isMap(labels) ? String(labels.get('os')) : '';
    const arch = isMap(labels) ? String(labels.get('arch')) : '';
    const key = `${os}/${arch}`;
    const v = values[key];
    if (!v) throw new Error(`no archive for platform ${key}`);
    if (!/^[a-f0-9]{64}$/.test(v.sha256)) throw new Error(`bad sha256 for ${key}: ${v.sha256}`);
    item.set('uri', v.uri);
    item.set('sha256', v.sha256);
    seen.add(key);
  }
  const missing = Object.keys(values).filter((k) => !seen.has(k));
  if (missing.length > 0) throw new Error(`manifest has no platform for ${missing.join(', ')}`);
  return doc.toString({ lineWidth: 0 });
}
