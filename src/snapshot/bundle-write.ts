/**
 * Writing support bundles: redaction and the .tar.gz itself.
 *
 * A bundle is a directory tree under one root folder, packed with `tar`
 * (gzip, portable headers, one fixed mtime: the same input gives the same
 * bytes). `snapshot.json` is exactly what bundle.ts's readBundle reads back;
 * everything else is for people. Layout and manifest: docs/bundle.md.
 *
 * Redaction (on unless --no-redact) runs over every object and text that
 * goes in, snapshot.json included. Secrets are never read in the first
 * place; redaction is for what leaks into ordinary objects and logs:
 *   - env values whose name looks like a credential (PASSWORD, SECRET,
 *     TOKEN, KEY, CREDENTIAL, AUTH, PWD, DSN);
 *   - passwords in connection strings (scheme://user:PASSWORD@host) anywhere;
 *   - password=, token=, secret=, api_key= style pairs, "password": "…" in
 *     JSON, PASSWORD '…' in SQL, Authorization: Bearer tokens;
 *   - PEM blocks whose header says KEY (-----BEGIN … PRIVATE KEY-----);
 *   - the kubectl.kubernetes.io/last-applied-configuration annotation
 *     (a full copy of the object as applied, env values included).
 */
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import { LEDGER_ANNOTATION, POLICY_ANNOTATION } from '@cnpg-disk/core';

export const REDACTED = '[REDACTED]';
/** Largest uncompressed bundle; entries past it are listed as skipped in the manifest. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
/** What we keep of each container log. */
export const LOG_TAIL_LINES = 2000;
export const LOG_MAX_BYTES = 2 * 1024 * 1024;

export const REDACTION_RULES = [
  'env values whose name contains PASSWORD, PASSWD, PWD, SECRET, TOKEN, KEY, CREDENTIAL, AUTH or DSN',
  'passwords in connection strings (scheme://user:PASSWORD@host)',
  'values of password=, passwd=, pwd=, secret=, token=, api_key=, access_key=, secret_key= (also with ":")',
  '"password": "…" style JSON fields and PASSWORD \'…\' in SQL',
  'Authorization Bearer tokens',
  'PEM blocks whose header names a KEY',
  'the kubectl.kubernetes.io/last-applied-configuration annotation',
];

const SENSITIVE_ENV = /PASS(WORD|WD)?|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|DSN/i;
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** Our own annotations carry no credentials and must survive byte for byte (the ledger is read back). */
const KEEP_ANNOTATIONS = new Set([POLICY_ANNOTATION, LEDGER_ANNOTATION]);

const TEXT_RULES: [RegExp, string][] = [
  [
    /-----BEGIN ([A-Z0-9 ]*KEY)-----[\s\S]*?-----END [A-Z0-9 ]*KEY-----/g,
    `-----BEGIN $1-----\n${REDACTED}\n-----END $1-----`,
  ],
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]+:)[^\s@/'"]+@/gi, `$1${REDACTED}@`],
  [
    /("(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi,
    `$1"${REDACTED}"`,
  ],
  [
    /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret)(\s*[=:]\s*)(?!\[REDACTED\])("[^"]*"|'[^']*'|[^\s,;&"'}]+)/gi,
    `$1$2${REDACTED}`,
  ],
  [/\b(PASSWORD\s+)'(?:[^']|'')*'/gi, `$1'${REDACTED}'`],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/-]+=*/g, `$1${REDACTED}`],
];

/** Redacts credentials in free text (logs, SQL, connection strings). */
export function redactText(text: string): string {
  let out = text;
  for (const [re, rep] of TEXT_RULES) out = out.replace(re, rep);
  return out;
}

type Json = unknown;

function redactEnvList(list: unknown[]): unknown[] {
  return list.map((e) => {
    if (typeof e !== 'object' || e === null) return e;
    const o = e as Record<string, unknown>;
    if (typeof o['name'] === 'string' && typeof o['value'] === 'string' && SENSITIVE_ENV.test(o['name'])) {
      return { ...o, value: REDACTED };
    }
    return redactValue(o);
  });
}

function redactValue(v: Json, key?: string): Json {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return key === 'env' ? redactEnvList(v) : v.map((x) => redactValue(x));
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'annotations' && typeof val === 'object' && val !== null && !Array.isArray(val)) {
      const ann: Record<string, unknown> = {};
      for (const [ak, av] of Object.entries(val as Record<string, unknown>)) {
        if (ak === LAST_APPLIED) ann[ak] = REDACTED;
        else if (KEEP_ANNOTATIONS.has(ak)) ann[ak] = av;
        else ann[ak] = typeof av === 'string' ? redactText(av) : av;
      }
      out[k] = ann;
    } else out[k] = redactValue(val, k);
  }
  return out;
}

/** Redacts a Kubernetes object (or any JSON value) without changing its shape. */
export function redactObject<T>(o: T): T {
  return redactValue(o) as T;
}

export interface BundleEntry {
  /** Path inside the bundle's root folder, e.g. `db/main/pods.yaml`. */
  path: string;
  content: string | Buffer;
  description: string;
}

export interface BundleFailure {
  what: string;
  reason: string;
  /** The RBAC rule that would have allowed it, when it was denied. */
  permission?: string;
}

/**
 * Collects entries within the size budget. An entry that would pass the
 * budget is not added; it is listed as skipped instead.
 */
export class BundleBuilder {
  readonly entries: BundleEntry[] = [];
  readonly failed: BundleFailure[] = [];
  private size = 0;
  constructor(readonly maxBytes = MAX_BUNDLE_BYTES) {}

  add(path: string, content: string | Buffer, description: string): boolean {
    const bytes = Buffer.byteLength(content);
    if (this.size + bytes > this.maxBytes) {
      this.failed.push({
        what: `${path} (${description})`,
        reason: `skipped: the bundle's ${Math.round(this.maxBytes / 1024 / 1024)} MiB limit was reached`,
      });
      return false;
    }
    if (this.entries.some((e) => e.path === path)) throw new Error(`bundle entry ${path} added twice`);
    this.size += bytes;
    this.entries.push({ path, content, description });
    return true;
  }

  fail(what: string, reason: string, permission?: string): void {
    this.failed.push({ what, reason, ...(permission ? { permission } : {}) });
  }

  get bytes(): number {
    return this.size;
  }
}

/** A file-name-safe root folder name for a bundle collected at `at`. */
export function bundleRoot(at: Date): string {
  return `cnpg-bundle-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

/**
 * Writes the entries as FILE (.tar.gz) under ROOT/, sorted by path, every
 * entry with mtime `at`, portable headers (no user or group names).
 */
export async function writeTarGz(file: string, root: string, entries: BundleEntry[], at: Date): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'cnpg-bundle-'));
  try {
    const paths: string[] = [];
    for (const e of [...entries].sort((a, b) => a.path.localeCompare(b.path))) {
      if (e.path.startsWith('/') || e.path.split('/').includes('..')) throw new Error(`bad bundle path ${e.path}`);
      const p = join(work, root, e.path);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, e.content, { mode: 0o644 });
      paths.push(`${root}/${e.path}`);
    }
    await mkdir(dirname(file), { recursive: true }).catch(() => undefined);
    await create({ gzip: { level: 9 }, file, cwd: work, portable: true, mtime: at, noDirRecurse: true }, paths);
    return (await stat(file)).size;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
