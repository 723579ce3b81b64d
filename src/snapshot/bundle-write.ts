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
 * place; redaction is for what leaks into ordinary objects and logs. The
 * rules are REDACTION_RULES below (also written into every manifest) and
 * docs/bundle.md; the key of a KEY=value pair counts when a credential word
 * appears anywhere in it (PGPASSWORD, DB_PASSWORD, AWS_SECRET_ACCESS_KEY).
 *
 * The file itself: openBundleTarget (exclusive 0600 temporary file, never
 * through a link, put in place at the end).
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdtemp, mkdir, open, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { create } from 'tar';
import { LEDGER_ANNOTATION, POLICY_ANNOTATION } from '@cnpg-disk/core';
import { usageError } from '../model/errors.js';

export const REDACTED = '[REDACTED]';
/** Largest uncompressed bundle; entries past it are listed as skipped in the manifest. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
/** What we keep of each container log. */
export const LOG_TAIL_LINES = 2000;
export const LOG_MAX_BYTES = 2 * 1024 * 1024;

export const REDACTION_RULES = [
  'values whose key contains PASSWORD, PASSWD, PWD, SECRET, TOKEN, CREDENTIAL, API_KEY, ACCESS_KEY, PRIVATE_KEY or ends in _KEY, anywhere in the name (PGPASSWORD=, DB_PASSWORD: , AWS_SECRET_ACCESS_KEY=, "password": "…", YAML key: value)',
  'env entries {name, value} whose name contains PASSWORD, PASSWD, PWD, SECRET, TOKEN, KEY, CREDENTIAL, AUTH or DSN (objects, JSON and YAML text)',
  'object fields whose name contains password, passwd, token, credential, apiKey, accessKey, secretKey, privateKey, storageKey or accountKey',
  'passwords in connection strings (scheme://user:PASSWORD@host)',
  "PASSWORD '…' in SQL",
  'Authorization header values (Bearer, Basic, …) and Bearer tokens, JSON web tokens',
  'PEM blocks whose header names a KEY',
  'the kubectl.kubernetes.io/last-applied-configuration annotation',
];

/** An env entry's name that looks like a credential (a {name, value} pair). */
const SENSITIVE_ENV = /PASS(WORD|WD)?|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|DSN/i;
/**
 * A key in free text (KEY=value, KEY: value) that names a credential, matched
 * anywhere in the key: PGPASSWORD, DB_PASSWORD, AWS_SECRET_ACCESS_KEY,
 * GITHUB_TOKEN, AZURE_STORAGE_KEY. Narrower than SENSITIVE_ENV (no bare KEY
 * or AUTH) because text is full of `key: …` that is not a secret.
 */
const SENSITIVE_TEXT_KEY = String.raw`[\w.-]{0,64}?(?:pass(?:word|wd)|pwd|secret|tokens?(?![a-z])|credential|api[_-]?key|access[_-]?key|private[_-]?key)[\w.-]{0,64}|[\w.-]{0,64}?[_-]key(?![\w.-])`;
/** An object field whose string value is a credential (camelCase or snake_case). */
const SENSITIVE_FIELD =
  /pass(word|wd)|pwd$|token|credential|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|storage[_-]?key|account[_-]?key/i;
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** Our own annotations carry no credentials and must survive byte for byte (the ledger is read back). */
const KEEP_ANNOTATIONS = new Set([POLICY_ANNOTATION, LEDGER_ANNOTATION]);

/** A value in text: "double quoted", 'single quoted' or bare up to a separator. */
const VALUE = String.raw`"(?:[^"\\\n]|\\.)*"|''[^'\n]*''|'[^'\n]*'|[^\s,;&"'}\]]+`;

function redactedLike(value: string): string {
  if (value.startsWith('"')) return `"${REDACTED}"`;
  if (value.startsWith("''")) return `''${REDACTED}''`;
  if (value.startsWith("'")) return `'${REDACTED}'`;
  return REDACTED;
}

const isRedacted = (v: string) => v.replace(/^["']+|["']+$/g, '') === REDACTED;

// Hand-written rules (no npm package redacts these forms); each runs in
// linear time: keys start only after a non-key character (lookbehind) and are
// bounded in length, so a long token without separators cannot backtrack.
const TEXT_RULES: [RegExp, string | ((...m: string[]) => string)][] = [
  [
    /-----BEGIN ([A-Z0-9 ]*KEY)-----[\s\S]*?-----END [A-Z0-9 ]*KEY-----/g,
    `-----BEGIN $1-----\n${REDACTED}\n-----END $1-----`,
  ],
  // scheme://user:PASSWORD@host (user may be empty)
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]*:)[^\s@/'"]+@/gi, `$1${REDACTED}@`],
  // Authorization: Bearer|Basic|… VALUE (header, JSON or YAML)
  [
    /\b(authorization["']?\s*[:=]\s*["']?)(?:(bearer|basic|token|digest|negotiate)\s+)?(?!\[REDACTED\])[^\s"',;]+/gi,
    (_m, head: string, scheme: string | undefined) => `${head}${scheme ? `${scheme} ` : ''}${REDACTED}`,
  ],
  [/\b(Bearer\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/-]+=*/g, `$1${REDACTED}`],
  // JSON web tokens wherever they appear
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED],
  // env entries as text: name: X_PASSWORD \n value: …, {"name":"X","value":"…"}, {name: X, value: …}
  [
    new RegExp(
      String.raw`(\bname["']?\s*[:=]\s*["']?)([\w.-]{1,128})(["']?\s*(?:,|\n)\s*(?:-\s*)?["']?value["']?\s*[:=]\s*)(${VALUE})`,
      'g',
    ),
    (m, head: string, name: string, mid: string, value: string) =>
      SENSITIVE_ENV.test(name) && !isRedacted(value) ? `${head}${name}${mid}${redactedLike(value)}` : m,
  ],
  // KEY=value, KEY: value, "KEY": "value", --key=value, ?key=value&… . The
  // key test is inside the pattern, so a harmless key never swallows the
  // next pair (`failed: password=…`).
  [
    new RegExp(String.raw`(?<![\w.-])(${SENSITIVE_TEXT_KEY})(["']?\s*[=:]\s*)(?!//)(${VALUE})`, 'gi'),
    (m, key: string, sep: string, value: string) => (isRedacted(value) ? m : `${key}${sep}${redactedLike(value)}`),
  ],
  [/\b(PASSWORD\s+)'(?:[^']|'')*'/gi, `$1'${REDACTED}'`],
];

/** Redacts credentials in free text (logs, SQL, connection strings, env lists, headers). */
export function redactText(text: string): string {
  let out = text;
  for (const [re, rep] of TEXT_RULES) out = out.replace(re, rep as (s: string, ...a: unknown[]) => string);
  return out;
}

type Json = unknown;

/** {name: X_PASSWORD, value: …} in any list (env, envFrom-like lists, parameters). */
function redactNamedValue(o: Record<string, unknown>): Record<string, unknown> | undefined {
  if (typeof o['name'] === 'string' && typeof o['value'] === 'string' && SENSITIVE_ENV.test(o['name'])) {
    return { ...o, value: REDACTED };
  }
  return undefined;
}

function redactValue(v: Json): Json {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return v.map((x) => redactValue(x));
  if (typeof v !== 'object' || v === null) return v;
  const obj = redactNamedValue(v as Record<string, unknown>) ?? (v as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(obj)) {
    if (k === 'annotations' && typeof val === 'object' && val !== null && !Array.isArray(val)) {
      const ann: Record<string, unknown> = {};
      for (const [ak, av] of Object.entries(val as Record<string, unknown>)) {
        if (ak === LAST_APPLIED) ann[ak] = REDACTED;
        else if (KEEP_ANNOTATIONS.has(ak)) ann[ak] = av;
        else if (typeof av === 'string' && SENSITIVE_FIELD.test(ak)) ann[ak] = REDACTED;
        else ann[ak] = typeof av === 'string' ? redactText(av) : av;
      }
      out[k] = ann;
    } else if (typeof val === 'string' && val !== REDACTED && SENSITIVE_FIELD.test(k)) out[k] = REDACTED;
    else out[k] = redactValue(val);
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

/** Where a bundle goes: a private temporary file beside FILE, put in place at the end. */
export interface BundleTarget {
  /** FILE as resolved (absolute). */
  readonly file: string;
  /** Writes the entries, then moves the temporary file into place; returns FILE's size. */
  write(root: string, entries: BundleEntry[], at: Date): Promise<number>;
  /** Removes the temporary file (a run that failed before writing). */
  abort(): Promise<void>;
}

/**
 * Checks FILE and opens the temporary file the bundle is written to, before
 * anything is collected (a bad path fails in a second, not after the
 * collection):
 *   - an existing FILE is refused unless `force`; a directory always;
 *   - a symbolic link at FILE is never followed: refused, or with `force`
 *     the link itself is replaced, never what it points to;
 *   - the temporary file is created in FILE's directory with O_CREAT|O_EXCL
 *     (flags 'wx': fails on any existing entry, a symlink included) and mode
 *     0600, so no one else can read a bundle while or after it is written;
 *   - at the end it is hard-linked to FILE (fails if FILE appeared meanwhile)
 *     or, with `force`, renamed over it; both are atomic and neither follows
 *     a link at FILE.
 * Every refusal is a usage error (exit 64) naming the path.
 */
export async function openBundleTarget(file: string, force: boolean): Promise<BundleTarget> {
  const abs = resolve(file);
  const existing = await lstat(abs).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw usageError(`cannot write the bundle ${file}: ${e.message}`, 'check the --bundle path');
  });
  if (existing?.isDirectory()) {
    throw usageError(
      `cannot write the bundle ${file}: it is a directory`,
      'give a file name, e.g. --bundle bundle.tar.gz',
    );
  }
  if (existing && !force) {
    throw usageError(
      `refusing to overwrite ${file}: it already exists${existing.isSymbolicLink() ? ' (a symbolic link, never followed)' : ''}`,
      'choose a new file name, or add --force to replace it',
    );
  }
  const dir = dirname(abs);
  const tmp = join(dir, `.${basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, 'wx', 0o600);
    await fh.chmod(0o600); // exact, whatever the umask
  } catch (e) {
    throw usageError(
      `cannot write the bundle ${file}: cannot create a file in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'check that the directory exists and is writable',
    );
  }
  let done = false;
  const cleanup = async () => {
    if (done) return;
    done = true;
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
  };
  return {
    file: abs,
    abort: cleanup,
    async write(root, entries, at) {
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
        const pack = create({ gzip: { level: 9 }, cwd: work, portable: true, mtime: at, noDirRecurse: true }, paths);
        // In memory (bounded: MAX_BUNDLE_BYTES before compression), then one
        // write: a stream on the FileHandle would keep it from closing.
        const archive = await pack.concat();
        await fh.writeFile(archive);
        await fh.sync();
        const size = archive.length;
        await fh.close();
        try {
          if (force) await rename(tmp, abs);
          else {
            await link(tmp, abs);
            await unlink(tmp);
          }
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw usageError(
            code === 'EEXIST'
              ? `refusing to overwrite ${file}: it appeared while the bundle was being written`
              : `cannot write the bundle ${file}: ${(e as Error).message}`,
            'choose a new file name, or add --force to replace it',
          );
        }
        done = true;
        return size;
      } finally {
        await rm(work, { recursive: true, force: true });
        await cleanup();
      }
    },
  };
}
