/**
 * disk policy validate [FILE | --cluster NAME]: the errors and warnings of
 * docs/policy.md for a policy, for people and for CI pipelines.
 *
 * What is validated:
 *   FILE (a policy document)            alone: shape-free, or with the shape stated by flags;
 *                                        with --cluster: against that Cluster's shape and sizes
 *   FILE (a CNPG Cluster manifest)      its resize fields and its policy annotation, against
 *                                        the shape and sizes the manifest itself declares
 *   --cluster NAME (no FILE)            the live (or bundled) Cluster's fields and annotation
 * docs/policy.md lists every code.
 */
import YAML from 'yaml';
import {
  parseBytes,
  pluginEntryOf,
  POLICY_ANNOTATION,
  resolvePolicy,
  validateClusterSpecPolicy,
  validatePluginParameters,
  validatePolicyDocument,
  type ClusterShape,
  type PolicyIssue,
  type PolicySetResult,
  type PolicySource,
  type PolicySources,
  type VolumeSizes,
  type VolumeType,
} from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import { ExitCode, usageError } from '../model/errors.js';
import { document, paint, printResult, type OutputFormat } from '../render/printer.js';
import { readPolicyFile } from '../cli/policy-file.js';
import type { IOStreams } from '../cli/io.js';
import { evaluateCluster } from '../analysis/evaluate.js';
import { annotations, arr, clusterShape, get, isObj, str } from '../model/kube-objects.js';
import type { KubeObject } from '../model/snapshot.js';
import { renderTable } from '../render/table.js';
import { gatherSnapshot, judgedAt, requireCluster } from './gather.js';
import { volumeLabel } from './disk-status.js';
import { sanitize, trusted } from '../render/sanitize.js';

/** The cluster shape stated on the command line, for offline validation in CI. */
export interface StatedShape {
  /** --single-volume / --wal-volume */
  layout?: 'single-volume' | 'wal-volume' | undefined;
  /** --archiving / --no-archiving */
  archiving?: boolean | undefined;
  /** --tablespace NAME (repeatable) */
  tablespaces?: string[] | undefined;
  /** --size data=100Gi | wal=10Gi | tbs:NAME=5Gi (repeatable) */
  sizes?: string[] | undefined;
}

export interface PolicyValidateOptions {
  file?: string | undefined;
  cluster?: string | undefined;
  namespace?: string | undefined;
  context?: string | undefined;
  fromBundle?: string | undefined;
  shape?: StatedShape | undefined;
  output: OutputFormat;
  verbose: boolean;
}

export interface SourcedIssue extends PolicyIssue {
  /** Which policy source the issue is in: file, cluster-spec (the Cluster's own fields) or annotation. */
  source: PolicySource;
}

export interface PolicyInForce {
  /** data, wal, tbs:NAME */
  volume: string;
  source: PolicySource;
  enabled: boolean;
  /** Errors of the winning block: the engine will not run on this volume. */
  errors: number;
}

export interface PolicyValidation {
  /** What was validated. */
  input: {
    kind: 'policy-document' | 'cluster-manifest' | 'cluster';
    file?: string;
    cluster?: { namespace: string; name: string };
    origin?: string;
  };
  /** The shape judged against (absent: shape-free validation). */
  shape?: ClusterShape;
  sizes?: VolumeSizes;
  issues: SourcedIssue[];
  /** Which source governs each volume, when a cluster is known. */
  inForce?: PolicyInForce[];
}

function sourced(source: PolicySource, issues: readonly PolicyIssue[]): SourcedIssue[] {
  return issues.map((i) => ({ source, ...i }));
}

/** Parses --size values: data=100Gi, wal=10Gi, tbs:NAME=5Gi. */
export function parseSizeFlags(values: readonly string[]): VolumeSizes {
  const sizes: VolumeSizes = {};
  for (const v of values) {
    const m = /^(data|wal|tbs:([^=]+))=(.+)$/.exec(v.trim());
    if (!m) {
      throw usageError(
        `--size ${JSON.stringify(v)} is not ROLE=QUANTITY`,
        'e.g. --size data=100Gi --size wal=10Gi --size tbs:idx=5Gi',
      );
    }
    let bytes: bigint;
    try {
      bytes = parseBytes((m[3] as string).trim());
    } catch (e) {
      throw usageError(`--size ${JSON.stringify(v)}: ${(e as Error).message}`);
    }
    if (m[1] === 'data') sizes.data = bytes;
    else if (m[1] === 'wal') sizes.wal = bytes;
    else (sizes.tablespaces ??= {})[(m[2] as string).trim()] = bytes;
  }
  return sizes;
}

/** The shape stated by flags; undefined when no layout was stated (shape-free validation). */
export function statedShape(s: StatedShape | undefined): ClusterShape | undefined {
  if (!s) return undefined;
  const partial = s.archiving !== undefined || (s.tablespaces?.length ?? 0) > 0;
  if (!s.layout) {
    if (partial) {
      throw usageError(
        '--archiving, --no-archiving and --tablespace describe a cluster shape: state its volume layout too',
        'add --single-volume (WAL on the data volume) or --wal-volume (a separate WAL volume)',
      );
    }
    return undefined;
  }
  return {
    namespace: '',
    name: '',
    singleVolume: s.layout === 'single-volume',
    tablespaces: [...(s.tablespaces ?? [])],
    archiving: { configured: s.archiving },
  };
}

function isClusterManifest(doc: unknown): doc is KubeObject {
  return (
    isObj(doc) &&
    doc['kind'] === 'Cluster' &&
    typeof doc['apiVersion'] === 'string' &&
    doc['apiVersion'].startsWith('postgresql.cnpg.io/')
  );
}

/** Sizes a Cluster manifest declares (spec.storage.size, ...). */
function declaredSizes(cluster: KubeObject): VolumeSizes {
  const spec = get(cluster, 'spec');
  const parse = (t: string | undefined) => {
    if (t === undefined) return undefined;
    try {
      return parseBytes(t);
    } catch {
      return undefined;
    }
  };
  const sizes: VolumeSizes = { tablespaces: {} };
  const data = parse(str(spec, 'storage', 'size'));
  const wal = parse(str(spec, 'walStorage', 'size'));
  if (data !== undefined) sizes.data = data;
  if (wal !== undefined) sizes.wal = wal;
  for (const t of arr(spec, 'tablespaces')) {
    const name = str(t, 'name');
    const size = parse(str(t, 'storage', 'size'));
    if (name && size !== undefined) (sizes.tablespaces as Record<string, bigint>)[name] = size;
  }
  return sizes;
}

/** The policy annotation of a Cluster as a validated set (a broken annotation is one error). */
function annotationSet(cluster: KubeObject, shape: ClusterShape, sizes: VolumeSizes): PolicySetResult | undefined {
  const text = annotations(cluster)[POLICY_ANNOTATION];
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    return {
      tablespaces: {},
      issues: [
        {
          severity: 'error',
          code: 'DOCUMENT_INVALID',
          path: `metadata.annotations[${POLICY_ANNOTATION}]`,
          message: `the policy annotation is not valid YAML/JSON (${(e as Error).message.split('\n')[0]}); no volume uses it.`,
        },
      ],
    };
  }
  return validatePolicyDocument(doc, shape, sizes);
}

function inForceFor(shape: ClusterShape, sources: PolicySources): PolicyInForce[] {
  const vols: { type: VolumeType; tablespace?: string }[] = [
    { type: 'data' },
    ...(shape.singleVolume ? [] : [{ type: 'wal' as const }]),
    ...shape.tablespaces.map((t) => ({ type: 'tablespace' as const, tablespace: t })),
  ];
  return vols.map((v) => {
    const r = resolvePolicy(sources, v.type, v.tablespace);
    return {
      volume: volumeLabel(v),
      source: r.source,
      enabled: r.policy?.enabled ?? false,
      errors: r.errors.length,
    };
  });
}

export async function validatePolicy(opts: PolicyValidateOptions, deps: Deps): Promise<PolicyValidation> {
  const stated = opts.shape;
  const statedAny =
    stated &&
    (stated.layout !== undefined ||
      stated.archiving !== undefined ||
      (stated.tablespaces?.length ?? 0) > 0 ||
      (stated.sizes?.length ?? 0) > 0);
  if (!opts.file && !opts.cluster) {
    throw usageError(
      'give a policy FILE, --cluster NAME, or both',
      'e.g. kubectl cnpg disk policy validate policy.yaml',
    );
  }
  if (opts.cluster && statedAny) {
    throw usageError(
      '--single-volume, --wal-volume, --archiving, --tablespace and --size state a shape for offline validation; with --cluster the Cluster itself gives it',
    );
  }
  if (opts.fromBundle && !opts.cluster) {
    throw usageError('--from-bundle needs --cluster NAME: which Cluster of the bundle to validate against');
  }
  const doc = opts.file !== undefined ? await readPolicyFile(opts.file) : undefined;

  if (opts.file !== undefined && isClusterManifest(doc)) {
    if (opts.cluster || statedAny) {
      throw usageError(
        `${opts.file} is a Cluster manifest: it declares its own shape and sizes, so --cluster and the shape flags do not apply`,
      );
    }
    const shape = clusterShape(doc);
    const sizes = declaredSizes(doc);
    const spec = validateClusterSpecPolicy(get(doc, 'spec'), shape, sizes);
    const hasSpec = !!(spec.data || spec.wal || Object.keys(spec.tablespaces).length > 0);
    const ann = annotationSet(doc, shape, sizes);
    const entry = pluginEntryOf(doc);
    const plugin = entry?.enabled ? validatePluginParameters(entry.parameters, shape, sizes) : undefined;
    return {
      input: {
        kind: 'cluster-manifest',
        file: opts.file,
        cluster: { namespace: shape.namespace, name: shape.name },
      },
      shape,
      sizes,
      issues: [
        ...sourced('cluster-spec', spec.issues),
        ...sourced('plugin', plugin?.issues ?? []),
        ...sourced('annotation', ann?.issues ?? []),
      ],
      inForce: inForceFor(shape, {
        ...(hasSpec ? { clusterSpec: spec } : {}),
        ...(plugin ? { plugin } : {}),
        ...(ann ? { annotation: ann } : {}),
      }),
    };
  }

  if (!opts.cluster) {
    const shape = statedShape(stated);
    const sizes = parseSizeFlags(stated?.sizes ?? []);
    const hasSizes = sizes.data !== undefined || sizes.wal !== undefined || sizes.tablespaces !== undefined;
    const set = validatePolicyDocument(doc, shape, hasSizes ? sizes : undefined);
    return {
      input: { kind: 'policy-document', file: opts.file as string },
      ...(shape ? { shape } : {}),
      ...(hasSizes ? { sizes } : {}),
      issues: sourced('file', set.issues),
    };
  }

  // Against a live (or bundled) Cluster: its shape and its current PVC sizes.
  const snapshot = await gatherSnapshot(
    {
      namespace: opts.namespace,
      allNamespaces: false,
      cluster: opts.cluster,
      fromBundle: opts.fromBundle,
      source: 'auto',
      concurrency: 1,
      context: opts.context,
      measure: false,
    },
    deps,
  );
  const cs = requireCluster(snapshot, opts, deps);
  // One clock per snapshot: a bundle is judged at its collectedAt, a live run at now.
  const report = evaluateCluster(cs, snapshot.storageClasses, {
    now: judgedAt(snapshot, deps),
    ...(doc !== undefined ? { policyFile: doc } : {}),
  });
  const wanted: PolicySource[] = doc !== undefined ? ['file'] : ['cluster-spec', 'plugin', 'annotation'];
  const issues = report.policyIssues
    .filter((p) => wanted.includes(p.source))
    .flatMap((p) => sourced(p.source, p.issues));
  const seen = new Set<string>();
  const inForce: PolicyInForce[] = [];
  for (const v of report.volumes) {
    const label = volumeLabel(v);
    if (seen.has(label)) continue;
    seen.add(label);
    inForce.push({ volume: label, source: v.policy.source, enabled: v.policy.enabled, errors: v.policy.errors.length });
  }
  return {
    input: {
      kind: doc !== undefined ? 'policy-document' : 'cluster',
      ...(opts.file !== undefined ? { file: opts.file } : {}),
      cluster: { namespace: cs.namespace, name: cs.name },
      origin: snapshot.origin.kind === 'bundle' ? `bundle ${snapshot.origin.file}` : snapshot.origin.server,
    },
    shape: report.shape,
    issues,
    inForce,
  };
}

export function validationExitCode(v: PolicyValidation): ExitCode {
  if (v.issues.some((i) => i.severity === 'error')) return ExitCode.CRITICAL;
  if (v.issues.some((i) => i.severity === 'warning')) return ExitCode.WARNING;
  return ExitCode.OK;
}

export function validationDocument(v: PolicyValidation): Record<string, unknown> {
  const errors = v.issues.filter((i) => i.severity === 'error').length;
  return document('PolicyValidation', {
    input: v.input,
    shape: v.shape
      ? {
          ...(v.shape.namespace ? { namespace: v.shape.namespace } : {}),
          ...(v.shape.name ? { name: v.shape.name } : {}),
          singleVolume: v.shape.singleVolume,
          tablespaces: v.shape.tablespaces,
          archiving: v.shape.archiving,
        }
      : null,
    sizes: v.sizes,
    valid: errors === 0,
    summary: { errors, warnings: v.issues.length - errors },
    issues: v.issues,
    inForce: v.inForce,
  });
}

export function validationTable(io: IOStreams, v: PolicyValidation): string {
  const multiSource = new Set(v.issues.map((i) => i.source)).size > 1 || v.input.kind !== 'policy-document';
  const head = [...(multiSource ? ['SOURCE'] : []), 'SEVERITY', 'CODE', 'PATH', 'MESSAGE'];
  const rows = v.issues.map((i) => [
    ...(multiSource ? [i.source] : []),
    trusted(i.severity === 'error' ? paint(io, 'red', 'ERROR') : paint(io, 'yellow', 'WARNING')),
    i.code,
    i.path || '(document)',
    i.message,
  ]);
  return renderTable(head, rows);
}

export async function runPolicyValidate(opts: PolicyValidateOptions, deps: Deps): Promise<ExitCode> {
  const v = await validatePolicy(opts, deps);
  const { io } = deps;
  printResult(io, opts.output, {
    document: () => validationDocument(v),
    text: () => {
      const what =
        v.input.kind === 'cluster'
          ? `Cluster ${v.input.cluster?.namespace}/${v.input.cluster?.name}`
          : `${v.input.file}${v.input.kind === 'cluster-manifest' ? ' (Cluster manifest)' : ''}${v.input.cluster && v.input.kind === 'policy-document' ? ` against Cluster ${v.input.cluster.namespace}/${v.input.cluster.name}` : ''}`;
      const shape = v.shape
        ? `${v.shape.singleVolume ? 'single volume (WAL on data)' : 'separate WAL volume'}, archiving ${v.shape.archiving.configured === undefined ? 'unknown' : v.shape.archiving.configured ? 'configured' : 'not configured'}, tablespaces: ${v.shape.tablespaces.join(', ') || 'none'}`
        : 'shape-free (state it with --single-volume|--wal-volume, --archiving, --tablespace, --size, or use --cluster)';
      io.stderr(sanitize(`validating ${what}; shape: ${shape}`) + '\n');
      if (v.issues.length > 0) io.stdout(validationTable(io, v));
      const errors = v.issues.filter((i) => i.severity === 'error').length;
      const warnings = v.issues.length - errors;
      io.stdout(
        v.issues.length === 0
          ? 'valid: no errors, no warnings\n'
          : `${errors === 0 ? 'valid' : 'invalid'}: ${errors} error(s), ${warnings} warning(s)\n`,
      );
      if (v.inForce && v.inForce.length > 0) {
        io.stdout(
          `policy in force: ${sanitize(
            v.inForce
              .map(
                (p) =>
                  `${p.volume} ← ${p.source} (${p.errors > 0 ? 'invalid: not resized' : p.enabled ? 'enabled' : 'disabled'})`,
              )
              .join(', '),
          )}\n`,
        );
      }
    },
  });
  return validationExitCode(v);
}
