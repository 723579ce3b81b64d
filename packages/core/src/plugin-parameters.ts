/**
 * The resize policy given as the CNPG-I plugin's parameters on a Cluster:
 *
 *   spec:
 *     plugins:
 *       - name: disk.cnpg-plugin.dev
 *         parameters:
 *           data.enabled: "true"
 *           data.usageThreshold: "85"
 *           wal.step: "5Gi"
 *           tablespace.idx.limit: "200Gi"
 *
 * `spec.plugins[].parameters` is a map of strings, so the policy is flattened:
 * one key per policy field, `<volume>.<field>`, where volume is `data`, `wal`
 * or `tablespace.<name>` and field is the last name of the field's path in the
 * policy document (every leaf name of a resize block is unique, so nothing is
 * lost). The conversion to a policy document is pure and the document is then
 * checked by the same validation as an annotation or a file, so the plugin's
 * admission check, `disk policy validate` and the engine give the same codes
 * and sentences. Issue paths are parameter keys (`data.usageThreshold`).
 */
import type { ClusterShape } from './model.js';
import type { PolicyDocument } from './policy.js';
import { parseBytes } from './quantity.js';
import {
  validatePolicyDocument,
  type PolicyIssue,
  type PolicySetResult,
  type ResizeBlockResult,
  type VolumeSizes,
} from './validation.js';

/** The plugin's name: its Identity, its Service label value, its socket under /plugins, its spec.plugins[].name. */
export const PLUGIN_NAME = 'disk.cnpg-plugin.dev';

type ValueKind = 'boolean' | 'number' | 'text';

/** Every policy field a parameter may set: where it lives in a resize block, and how its string is read. */
const FIELDS: Readonly<Record<string, { section: readonly string[]; kind: ValueKind }>> = {
  enabled: { section: [], kind: 'boolean' },
  usageThreshold: { section: ['triggers'], kind: 'number' },
  minAvailable: { section: ['triggers'], kind: 'text' },
  step: { section: ['expansion'], kind: 'text' },
  minStep: { section: ['expansion'], kind: 'text' },
  maxStep: { section: ['expansion'], kind: 'text' },
  limit: { section: ['expansion'], kind: 'text' },
  maxActionsPerDay: { section: ['strategy'], kind: 'number' },
  acknowledgeWALRisk: { section: ['strategy', 'walSafetyPolicy'], kind: 'boolean' },
  requireArchiveHealthy: { section: ['strategy', 'walSafetyPolicy'], kind: 'boolean' },
  maxPendingWALFiles: { section: ['strategy', 'walSafetyPolicy'], kind: 'number' },
  maxSlotRetentionBytes: { section: ['strategy', 'walSafetyPolicy'], kind: 'text' },
  alertOnResize: { section: ['strategy', 'walSafetyPolicy'], kind: 'boolean' },
};

/** The field names a parameter key may end with, in policy-document order. */
export const PARAMETER_FIELDS: readonly string[] = Object.keys(FIELDS);

/** A parameter key split into its volume and field; undefined when it names no volume. */
export interface ParameterKey {
  type: 'data' | 'wal' | 'tablespace';
  tablespace?: string;
  field: string;
}

export function parseParameterKey(key: string): ParameterKey | undefined {
  const dot = key.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const volume = key.slice(0, dot);
  const field = key.slice(dot + 1);
  if (volume === 'data' || volume === 'wal') return { type: volume, field };
  if (volume.startsWith('tablespace.') && volume.length > 'tablespace.'.length) {
    return { type: 'tablespace', tablespace: volume.slice('tablespace.'.length), field };
  }
  return undefined;
}

/** A number as the policy document holds it; text that is not a plain decimal stays text (validation says why). */
function readValue(kind: ValueKind, text: string): unknown {
  if (kind === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  if (kind === 'number') return /^[+-]?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  return text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ParametersConversion {
  document: PolicyDocument;
  /** Problems of the keys and values themselves, keyed by parameter (`path`); each is an error. */
  issues: PolicyIssue[];
}

/**
 * The policy document the parameters describe. Keys that name no volume, or a
 * field no resize block has, are errors (a misspelt key would otherwise fall
 * back to a default without a word); values are read by the field's type and
 * left as text when they do not parse, so the document's validation reports
 * them with its usual sentence.
 */
export function policyDocumentFromParameters(parameters: unknown): ParametersConversion {
  const issues: PolicyIssue[] = [];
  const document: PolicyDocument = {};
  if (parameters === undefined || parameters === null) return { document, issues };
  if (!isRecord(parameters)) {
    issues.push({
      severity: 'error',
      code: 'DOCUMENT_INVALID',
      path: '',
      message: 'the plugin parameters must be a map of strings.',
    });
    return { document, issues };
  }
  for (const [key, value] of Object.entries(parameters)) {
    const parsed = parseParameterKey(key);
    if (!parsed) {
      issues.push({
        severity: 'error',
        code: 'UNKNOWN_FIELD',
        path: key,
        message: `unknown parameter ${JSON.stringify(key)}: keys are data.<field>, wal.<field> or tablespace.<name>.<field>; a misspelt key would silently fall back to its default, so the policy is rejected.`,
      });
      continue;
    }
    const spec = FIELDS[parsed.field];
    if (!spec) {
      issues.push({
        severity: 'error',
        code: 'UNKNOWN_FIELD',
        path: key,
        message: `unknown field ${JSON.stringify(parsed.field)} (expected one of ${PARAMETER_FIELDS.join(', ')}); a misspelt field would silently fall back to its default, so the policy is rejected.`,
      });
      continue;
    }
    if (typeof value !== 'string') {
      issues.push({
        severity: 'error',
        code: 'FIELD_TYPE',
        path: key,
        message: `${parsed.field} must be given as a string (plugin parameters are strings), not ${JSON.stringify(value) ?? String(value)}.`,
      });
      continue;
    }
    let holder: Record<string, unknown>;
    if (parsed.type === 'data') holder = (document.storage ??= {}) as Record<string, unknown>;
    else if (parsed.type === 'wal') holder = (document.walStorage ??= {}) as Record<string, unknown>;
    else holder = ((document.tablespaces ??= {})[parsed.tablespace as string] ??= {}) as Record<string, unknown>;
    let node = (holder['resize'] ??= {}) as Record<string, unknown>;
    for (const s of spec.section) node = (node[s] ??= {}) as Record<string, unknown>;
    node[parsed.field] = readValue(spec.kind, value);
  }
  return { document, issues };
}

/** The parameter key a path of the policy document stands for (`storage.resize.triggers.usageThreshold` → `data.usageThreshold`). */
export function parameterKeyOfPath(path: string): string {
  let prefix: string;
  let rest: string;
  const tbs = /^tablespaces\.(.+?)(?:\.resize((?:\..*)?))?$/.exec(path);
  if (path.startsWith('storage.resize') || path === 'storage') {
    prefix = 'data';
    rest = path.slice('storage.resize'.length);
  } else if (path.startsWith('walStorage.resize') || path === 'walStorage') {
    prefix = 'wal';
    rest = path.slice('walStorage.resize'.length);
  } else if (tbs) {
    prefix = `tablespace.${tbs[1] as string}`;
    rest = tbs[2] ?? '';
  } else {
    return path;
  }
  const last = rest.split('.').pop() ?? '';
  return last !== '' && FIELDS[last] ? `${prefix}.${last}` : prefix;
}

function rekey(issues: readonly PolicyIssue[]): PolicyIssue[] {
  return issues.map((i) => ({ ...i, path: parameterKeyOfPath(i.path) }));
}

function rekeyBlock(block: ResizeBlockResult | undefined): ResizeBlockResult | undefined {
  if (!block) return undefined;
  return { ...(block.policy ? { policy: block.policy } : {}), issues: rekey(block.issues) };
}

/**
 * Converts and validates the parameters against a cluster's shape and sizes:
 * the same result as validating a policy document, with every issue's path a
 * parameter key. A bad key or value of a volume rejects that volume's block;
 * a key that names no volume rejects the whole set (like a misspelt top-level
 * key of a document).
 */
export function validatePluginParameters(
  parameters: unknown,
  cluster?: ClusterShape,
  sizes?: VolumeSizes,
): PolicySetResult {
  const { document, issues: conversion } = policyDocumentFromParameters(parameters);
  const validated = validatePolicyDocument(document, cluster, sizes);
  const result: PolicySetResult = { tablespaces: {}, issues: [] };
  const data = rekeyBlock(validated.data);
  const wal = rekeyBlock(validated.wal);
  if (data) result.data = data;
  if (wal) result.wal = wal;
  for (const [name, block] of Object.entries(validated.tablespaces)) {
    result.tablespaces[name] = rekeyBlock(block) as ResizeBlockResult;
  }
  // A conversion problem belongs to the block of its volume: that block is rejected.
  for (const issue of conversion) {
    const key = parseParameterKey(issue.path);
    if (!key) continue;
    const block: ResizeBlockResult =
      key.type === 'data'
        ? (result.data ??= { issues: [] })
        : key.type === 'wal'
          ? (result.wal ??= { issues: [] })
          : (result.tablespaces[key.tablespace as string] ??= { issues: [] });
    delete block.policy;
    block.issues.push(issue);
  }
  result.issues = [...conversion, ...rekey(validated.issues)];
  return result;
}

/** This plugin's entry in a Cluster's spec.plugins. */
export interface PluginEntry {
  /** Index in spec.plugins, for field paths (`spec.plugins[2].parameters`). */
  index: number;
  /** spec.plugins[].enabled; CloudNativePG's default is true. */
  enabled: boolean;
  /** The raw parameters value (untrusted: validation checks it). */
  parameters: unknown;
}

/** Finds this plugin in a Cluster object's spec.plugins (by name); undefined when it is not listed. */
export function pluginEntryOf(cluster: unknown, name: string = PLUGIN_NAME): PluginEntry | undefined {
  if (!isRecord(cluster) || !isRecord(cluster['spec'])) return undefined;
  const plugins = cluster['spec']['plugins'];
  if (!Array.isArray(plugins)) return undefined;
  const index = plugins.findIndex((p: unknown) => isRecord(p) && p['name'] === name);
  if (index < 0) return undefined;
  const entry = plugins[index] as Record<string, unknown>;
  return { index, enabled: entry['enabled'] !== false, parameters: entry['parameters'] };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * The shape of a Cluster object as its spec declares it: WAL volume or not,
 * tablespaces, whether WAL is archived (barmanObjectStore, or an enabled
 * plugin marked isWALArchiver).
 */
export function clusterShapeOf(cluster: unknown): ClusterShape {
  const obj = isRecord(cluster) ? cluster : {};
  const meta = isRecord(obj['metadata']) ? obj['metadata'] : {};
  const spec = isRecord(obj['spec']) ? obj['spec'] : {};
  const plugins = Array.isArray(spec['plugins']) ? (spec['plugins'] as unknown[]).filter(isRecord) : [];
  const archiver = plugins.find((p) => p['isWALArchiver'] === true && p['enabled'] !== false);
  const backup = isRecord(spec['backup']) ? spec['backup'] : {};
  const tablespaces = Array.isArray(spec['tablespaces']) ? (spec['tablespaces'] as unknown[]).filter(isRecord) : [];
  const instances = spec['instances'];
  return {
    namespace: str(meta['namespace']) ?? '',
    name: str(meta['name']) ?? '',
    singleVolume: !isRecord(spec['walStorage']),
    tablespaces: tablespaces.map((t) => str(t['name'])).filter((n): n is string => !!n),
    archiving: archiver
      ? { configured: true, method: `plugin ${str(archiver['name']) ?? ''}`.trim() }
      : isRecord(backup['barmanObjectStore'])
        ? { configured: true, method: 'barmanObjectStore' }
        : { configured: false },
    ...(typeof instances === 'number' ? { instances } : {}),
  };
}

/** The sizes a Cluster object declares (storage.size, walStorage.size, tablespaces[].storage.size); unparsable ones are left out. */
export function declaredSizesOf(cluster: unknown): VolumeSizes {
  const spec = isRecord(cluster) && isRecord(cluster['spec']) ? cluster['spec'] : {};
  const sizeOf = (holder: unknown): bigint | undefined => {
    const text = isRecord(holder) ? str(holder['size']) : undefined;
    if (text === undefined) return undefined;
    try {
      return parseBytes(text);
    } catch {
      return undefined;
    }
  };
  const sizes: VolumeSizes = { tablespaces: {} };
  const data = sizeOf(spec['storage']);
  const wal = sizeOf(spec['walStorage']);
  if (data !== undefined) sizes.data = data;
  if (wal !== undefined) sizes.wal = wal;
  const tablespaces = Array.isArray(spec['tablespaces']) ? (spec['tablespaces'] as unknown[]).filter(isRecord) : [];
  for (const t of tablespaces) {
    const name = str(t['name']);
    const size = sizeOf(t['storage']);
    if (name && size !== undefined) (sizes.tablespaces as Record<string, bigint>)[name] = size;
  }
  return sizes;
}

/**
 * The policy set the plugin parameters of a Cluster object give, validated
 * against the shape and sizes it declares; undefined when the plugin is not
 * listed or is disabled there.
 */
export function pluginPolicyOf(cluster: unknown, name: string = PLUGIN_NAME): PolicySetResult | undefined {
  const entry = pluginEntryOf(cluster, name);
  if (!entry || !entry.enabled) return undefined;
  return validatePluginParameters(entry.parameters, clusterShapeOf(cluster), declaredSizesOf(cluster));
}
