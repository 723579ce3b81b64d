/**
 * Validation of a resize policy (a policy document or a Cluster spec) against
 * a cluster shape: every error and warning of spec/engine.md, each with a
 * stable code, the field path, and a sentence saying what will happen.
 *
 * Parsing and validation are one pass: a block with no errors yields the
 * resolved ResizePolicy the engine reads, so the two can never disagree.
 */
import type { ClusterShape, VolumeType } from './model.js';
import {
  DEFAULT_POLICY,
  DEFAULT_PREDICTIVE,
  type PolicyDocument,
  type PredictiveTrigger,
  type ResizePolicy,
  type Step,
  type WalSafetyPolicy,
} from './policy.js';
import { formatBytes, parseQuantity, quantityValue } from './quantity.js';
import { walSafetyApplies } from './wal-safety.js';

export type IssueSeverity = 'error' | 'warning';

export type IssueCode =
  // errors
  | 'DOCUMENT_INVALID'
  | 'UNKNOWN_FIELD'
  | 'FIELD_TYPE'
  | 'THRESHOLD_OUT_OF_RANGE'
  | 'QUANTITY_INVALID'
  | 'STEP_INVALID'
  | 'STEP_BARE_INTEGER'
  | 'STEP_ZERO'
  | 'STEP_PERCENT_OUT_OF_RANGE'
  | 'MIN_STEP_ABOVE_MAX_STEP'
  | 'MAX_ACTIONS_OUT_OF_RANGE'
  | 'WAL_THRESHOLD_NEGATIVE'
  | 'WAL_RISK_NOT_ACKNOWLEDGED'
  | 'PREDICTIVE_DURATION_INVALID'
  | 'PREDICTIVE_MIN_SAMPLES_OUT_OF_RANGE'
  // warnings
  | 'MAX_ACTIONS_ZERO'
  | 'MIN_AVAILABLE_ABOVE_SIZE'
  | 'LIMIT_NOT_ABOVE_SIZE'
  | 'STEP_BOUNDS_IGNORED'
  | 'STEP_ABOVE_SIZE'
  | 'WAL_RISK_ACK_UNNEEDED'
  | 'ARCHIVE_CHECK_WITHOUT_ARCHIVING'
  | 'MIN_STEP_ABOVE_ROOM'
  | 'WAL_SAFETY_NOT_APPLICABLE'
  | 'UNKNOWN_TABLESPACE'
  | 'NO_WAL_VOLUME'
  | 'PREDICTIVE_HORIZON_FAR';

export interface PolicyIssue {
  severity: IssueSeverity;
  code: IssueCode;
  /** Dotted path of the field, e.g. `spec.walStorage.resize.triggers.usageThreshold`. */
  path: string;
  message: string;
}

/** What validation knows about the volume a resize block governs. */
export interface VolumeContext {
  type: VolumeType;
  tablespace?: string;
  /** True for the wal volume and for data on single-volume clusters. */
  walSafetyApplies: boolean;
  /** True for data on a single-volume cluster. */
  singleVolumeData: boolean;
  /** True when the cluster has a separate WAL volume. */
  hasWalVolume: boolean | undefined;
  archivingConfigured: boolean | undefined;
  /** Current size (the largest PVC of this role), when known. */
  currentBytes?: bigint;
}

export interface ResizeBlockResult {
  /** Present when the block has no errors. */
  policy?: ResizePolicy;
  issues: PolicyIssue[];
}

const RESIZE_KEYS = ['enabled', 'triggers', 'expansion', 'strategy'];
const TRIGGER_KEYS = ['usageThreshold', 'minAvailable', 'predictive'];
const PREDICTIVE_KEYS = ['enabled', 'horizon', 'window', 'minSamples'];
/** The predictive trigger's sample floor and ceiling (a fit needs a few points; more than this is a typo). */
export const PREDICTIVE_MIN_SAMPLES_RANGE = [3, 100_000] as const;
/** Longest horizon or window accepted: a year. */
export const MAX_PREDICTIVE_DURATION_MS = 366 * 24 * 3_600_000;
/** Above this horizon/window ratio the forecast mostly extrapolates noise: a warning. */
export const PREDICTIVE_FAR_RATIO = 8;

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration such as "90m", "12h", "1.5d" or "30s", in milliseconds; undefined
 * when the text is not one (or is zero, negative or longer than a year).
 */
export function parsePolicyDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/.exec(text);
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number));
  return ms > 0 && ms <= MAX_PREDICTIVE_DURATION_MS ? ms : undefined;
}

function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** Parses triggers.predictive; undefined when absent or turned off (`enabled: false`). */
function parsePredictive(c: Checker, trig: Record<string, unknown>, tPath: string): PredictiveTrigger | undefined {
  const raw = c.section(trig, 'predictive', tPath, PREDICTIVE_KEYS);
  if (!raw) return undefined;
  const pPath = `${tPath}.predictive`;
  const enabled = c.boolean(raw, 'enabled', pPath, true);
  const duration = (key: 'horizon' | 'window', fallback: number): number => {
    const v = raw[key];
    if (v === undefined || v === null) return fallback;
    const ms = typeof v === 'string' ? parsePolicyDuration(v) : undefined;
    if (ms === undefined) {
      c.error(
        'PREDICTIVE_DURATION_INVALID',
        `${pPath}.${key}`,
        `${key} ${JSON.stringify(v)} is not a duration such as "90m", "12h" or "2d" (more than 0, at most 366d).`,
      );
      return fallback;
    }
    return ms;
  };
  const horizonMs = duration('horizon', DEFAULT_PREDICTIVE.horizonMs);
  const windowMs = duration('window', DEFAULT_PREDICTIVE.windowMs);
  let minSamples = c.number(raw, 'minSamples', pPath) ?? DEFAULT_PREDICTIVE.minSamples;
  const [lo, hi] = PREDICTIVE_MIN_SAMPLES_RANGE;
  if (!Number.isInteger(minSamples) || minSamples < lo || minSamples > hi) {
    c.error(
      'PREDICTIVE_MIN_SAMPLES_OUT_OF_RANGE',
      `${pPath}.minSamples`,
      `minSamples ${minSamples} is not a whole number in ${lo}..${hi}: a line fitted through fewer points is not a forecast.`,
    );
    minSamples = DEFAULT_PREDICTIVE.minSamples;
  }
  if (horizonMs > PREDICTIVE_FAR_RATIO * windowMs) {
    c.warn(
      'PREDICTIVE_HORIZON_FAR',
      `${pPath}.horizon`,
      `horizon ${formatDuration(horizonMs)} is more than ${PREDICTIVE_FAR_RATIO} times the window ${formatDuration(windowMs)}: the forecast extrapolates far beyond what it saw, so it fires early on short bursts.`,
    );
  }
  return enabled ? { horizonMs, windowMs, minSamples } : undefined;
}
const EXPANSION_KEYS = ['step', 'minStep', 'maxStep', 'limit'];
const STRATEGY_KEYS = ['maxActionsPerDay', 'walSafetyPolicy'];
const WAL_KEYS = [
  'acknowledgeWALRisk',
  'requireArchiveHealthy',
  'maxPendingWALFiles',
  'maxSlotRetentionBytes',
  'alertOnResize',
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects issues for one block; small helpers keep each rule one line. */
class Checker {
  readonly issues: PolicyIssue[] = [];
  error(code: IssueCode, path: string, message: string): void {
    this.issues.push({ severity: 'error', code, path, message });
  }
  warn(code: IssueCode, path: string, message: string): void {
    this.issues.push({ severity: 'warning', code, path, message });
  }
  get hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }

  /** Returns the object at path, or undefined (with an error when present but not an object). */
  section(parent: Record<string, unknown>, key: string, path: string, allowed: string[]) {
    const v = parent[key];
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) {
      this.error('FIELD_TYPE', `${path}.${key}`, `${key} must be a mapping; the block is not used.`);
      return undefined;
    }
    this.unknownKeys(v, `${path}.${key}`, allowed);
    return v;
  }

  unknownKeys(obj: Record<string, unknown>, path: string, allowed: string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        this.error(
          'UNKNOWN_FIELD',
          `${path}.${k}`,
          `unknown field ${JSON.stringify(k)} (expected one of ${allowed.join(', ')}); a misspelt field would silently fall back to its default, so the policy is rejected.`,
        );
      }
    }
  }

  boolean(obj: Record<string, unknown>, key: string, path: string, fallback: boolean): boolean {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.error('FIELD_TYPE', `${path}.${key}`, `${key} must be true or false, not ${JSON.stringify(v)}.`);
      return fallback;
    }
    return v;
  }

  number(obj: Record<string, unknown>, key: string, path: string): number | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.error('FIELD_TYPE', `${path}.${key}`, `${key} must be a number, not ${JSON.stringify(v)}.`);
      return undefined;
    }
    return v;
  }

  /** A size: a quantity string, or a plain number of bytes. Negative sizes are errors. */
  size(
    obj: Record<string, unknown>,
    key: string,
    path: string,
    negativeCode: IssueCode = 'QUANTITY_INVALID',
  ): bigint | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    const text = typeof v === 'number' ? String(v) : v;
    if (typeof text !== 'string') {
      this.error('FIELD_TYPE', `${path}.${key}`, `${key} must be a quantity such as "10Gi".`);
      return undefined;
    }
    let value: bigint;
    try {
      value = quantityValue(parseQuantity(text));
    } catch (e) {
      this.error('QUANTITY_INVALID', `${path}.${key}`, `${(e as Error).message}.`);
      return undefined;
    }
    if (value < 0n) {
      this.error(negativeCode, `${path}.${key}`, `${key} must not be negative (${text}).`);
      return undefined;
    }
    return value;
  }
}

/** Parses a step: "N%" (1..100, up to two decimals) or a quantity with a unit. */
function parseStep(c: Checker, raw: unknown, path: string): Step | undefined {
  if (raw === undefined || raw === null) return DEFAULT_POLICY.expansion.step;
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\s*[+-]?\d+(\.\d*)?\s*$/.test(raw))) {
    if (Number(raw) === 0) {
      c.error('STEP_ZERO', path, 'step is zero: a resize would not grow the volume.');
    } else {
      c.error(
        'STEP_BARE_INTEGER',
        path,
        `step ${JSON.stringify(raw)} has no unit: write "${String(raw).trim()}%" for a percentage or "${String(raw).trim()}Gi" for a size.`,
      );
    }
    return undefined;
  }
  if (typeof raw !== 'string') {
    c.error('FIELD_TYPE', path, 'step must be a percentage such as "20%" or a quantity such as "10Gi".');
    return undefined;
  }
  const pct = /^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$/.exec(raw);
  if (pct) {
    const value = Number(pct[1]);
    const basisPoints = Math.round(value * 100);
    if (value === 0) {
      c.error('STEP_ZERO', path, 'step is 0%: a resize would not grow the volume.');
      return undefined;
    }
    if (value < 1 || value > 100) {
      c.error('STEP_PERCENT_OUT_OF_RANGE', path, `step ${raw} is outside 1%..100%.`);
      return undefined;
    }
    if (Math.abs(basisPoints - value * 100) > 1e-9) {
      c.error('STEP_INVALID', path, `step ${raw} has more than two decimals.`);
      return undefined;
    }
    return { kind: 'percent', basisPoints };
  }
  let bytes: bigint;
  try {
    bytes = quantityValue(parseQuantity(raw.trim()));
  } catch (e) {
    c.error(
      'STEP_INVALID',
      path,
      `step ${JSON.stringify(raw)} is neither a percentage nor a quantity: ${(e as Error).message}.`,
    );
    return undefined;
  }
  if (bytes === 0n) {
    c.error('STEP_ZERO', path, 'step is zero: a resize would not grow the volume.');
    return undefined;
  }
  if (bytes < 0n) {
    c.error('STEP_INVALID', path, `step ${raw} is negative: volumes are never shrunk.`);
    return undefined;
  }
  return { kind: 'absolute', bytes };
}

/**
 * Parses and validates one `resize` block. `path` is the block's own path
 * (e.g. `spec.storage.resize`).
 */
export function validateResizeBlock(raw: unknown, path: string, ctx: VolumeContext): ResizeBlockResult {
  const c = new Checker();
  if (raw === undefined || raw === null) {
    return { policy: structuredPolicy(DEFAULT_POLICY), issues: [] };
  }
  if (!isRecord(raw)) {
    c.error('DOCUMENT_INVALID', path, 'resize must be a mapping.');
    return { issues: c.issues };
  }
  c.unknownKeys(raw, path, RESIZE_KEYS);
  const d = DEFAULT_POLICY;
  const enabled = c.boolean(raw, 'enabled', path, d.enabled);

  // triggers
  const trig = c.section(raw, 'triggers', path, TRIGGER_KEYS) ?? {};
  const tPath = `${path}.triggers`;
  let usageThreshold = c.number(trig, 'usageThreshold', tPath) ?? d.triggers.usageThreshold;
  if (usageThreshold < 1 || usageThreshold > 99) {
    c.error(
      'THRESHOLD_OUT_OF_RANGE',
      `${tPath}.usageThreshold`,
      `usageThreshold ${usageThreshold} is outside 1..99 (percent of the filesystem used).`,
    );
    usageThreshold = d.triggers.usageThreshold;
  }
  const minAvailableBytes = c.size(trig, 'minAvailable', tPath);
  const predictive = parsePredictive(c, trig, tPath);

  // expansion
  const exp = c.section(raw, 'expansion', path, EXPANSION_KEYS) ?? {};
  const ePath = `${path}.expansion`;
  const step = parseStep(c, exp['step'], `${ePath}.step`);
  const minStepWritten = c.size(exp, 'minStep', ePath);
  const maxStepWritten = c.size(exp, 'maxStep', ePath);
  const limitBytes = c.size(exp, 'limit', ePath);
  const minStepBytes = minStepWritten ?? d.expansion.minStepBytes;
  const maxStepBytes = maxStepWritten ?? d.expansion.maxStepBytes;
  if (minStepBytes > maxStepBytes) {
    c.error(
      'MIN_STEP_ABOVE_MAX_STEP',
      `${ePath}.minStep`,
      `minStep ${formatBytes(minStepBytes)} is larger than maxStep ${formatBytes(maxStepBytes)}.`,
    );
  }

  // strategy
  const strat = c.section(raw, 'strategy', path, STRATEGY_KEYS) ?? {};
  const sPath = `${path}.strategy`;
  let maxActionsPerDay = c.number(strat, 'maxActionsPerDay', sPath) ?? d.strategy.maxActionsPerDay;
  if (!Number.isInteger(maxActionsPerDay) || maxActionsPerDay < 0 || maxActionsPerDay > 10) {
    c.error(
      'MAX_ACTIONS_OUT_OF_RANGE',
      `${sPath}.maxActionsPerDay`,
      `maxActionsPerDay ${maxActionsPerDay} is not a whole number in 0..10.`,
    );
    maxActionsPerDay = d.strategy.maxActionsPerDay;
  }
  const walRaw = c.section(strat, 'walSafetyPolicy', sPath, WAL_KEYS);
  const wal = walRaw ?? {};
  const wPath = `${sPath}.walSafetyPolicy`;
  const dw = d.strategy.walSafetyPolicy;
  const acknowledgeWALRisk = c.boolean(wal, 'acknowledgeWALRisk', wPath, dw.acknowledgeWALRisk);
  const requireArchiveHealthy = c.boolean(wal, 'requireArchiveHealthy', wPath, dw.requireArchiveHealthy);
  const alertOnResize = c.boolean(wal, 'alertOnResize', wPath, dw.alertOnResize);
  let maxPendingWALFiles = c.number(wal, 'maxPendingWALFiles', wPath) ?? dw.maxPendingWALFiles;
  if (maxPendingWALFiles < 0 || !Number.isInteger(maxPendingWALFiles)) {
    c.error(
      'WAL_THRESHOLD_NEGATIVE',
      `${wPath}.maxPendingWALFiles`,
      `maxPendingWALFiles ${maxPendingWALFiles} must be a whole number, 0 or more (0 disables the check).`,
    );
    maxPendingWALFiles = dw.maxPendingWALFiles;
  }
  const maxSlotRetentionBytes =
    c.size(wal, 'maxSlotRetentionBytes', wPath, 'WAL_THRESHOLD_NEGATIVE') ?? dw.maxSlotRetentionBytes;

  // rules that need the cluster shape
  if (enabled && ctx.singleVolumeData && !acknowledgeWALRisk) {
    c.error(
      'WAL_RISK_NOT_ACKNOWLEDGED',
      `${wPath}.acknowledgeWALRisk`,
      'this cluster keeps WAL on the data volume: growing it can hide a WAL archiving or slot problem; set acknowledgeWALRisk: true to allow data resizes.',
    );
  }

  // warnings
  if (maxActionsPerDay === 0 && enabled) {
    c.warn(
      'MAX_ACTIONS_ZERO',
      `${sPath}.maxActionsPerDay`,
      'maxActionsPerDay is 0: no automatic resize will ever happen for this volume.',
    );
  }
  const size = ctx.currentBytes;
  if (size !== undefined && minAvailableBytes !== undefined && minAvailableBytes > size) {
    c.warn(
      'MIN_AVAILABLE_ABOVE_SIZE',
      `${tPath}.minAvailable`,
      `minAvailable ${formatBytes(minAvailableBytes)} is larger than the volume (${formatBytes(size)}): the trigger fires on every pass.`,
    );
  }
  if (size !== undefined && limitBytes !== undefined && limitBytes <= size) {
    c.warn(
      'LIMIT_NOT_ABOVE_SIZE',
      `${ePath}.limit`,
      `limit ${formatBytes(limitBytes)} is not above the current size (${formatBytes(size)}): the volume will not be resized.`,
    );
  }
  if (step?.kind === 'absolute' && (minStepWritten !== undefined || maxStepWritten !== undefined)) {
    c.warn(
      'STEP_BOUNDS_IGNORED',
      minStepWritten !== undefined ? `${ePath}.minStep` : `${ePath}.maxStep`,
      `minStep and maxStep only bound percentage steps; with step ${String(exp['step'])} they are ignored.`,
    );
  }
  if (step?.kind === 'absolute' && size !== undefined && size > 0n && step.bytes > size) {
    c.warn(
      'STEP_ABOVE_SIZE',
      `${ePath}.step`,
      `step ${formatBytes(step.bytes)} is more than 100% of the current size (${formatBytes(size)}): each resize more than doubles the volume.`,
    );
  }
  if (acknowledgeWALRisk && walRaw?.['acknowledgeWALRisk'] === true && ctx.hasWalVolume === true) {
    c.warn(
      'WAL_RISK_ACK_UNNEEDED',
      `${wPath}.acknowledgeWALRisk`,
      'this cluster has a separate WAL volume: acknowledgeWALRisk has no effect.',
    );
  }
  // Data is only known not to hold WAL when the cluster is known to have a WAL volume.
  if (walRaw && !ctx.walSafetyApplies && (ctx.type !== 'data' || ctx.hasWalVolume === true)) {
    c.warn(
      'WAL_SAFETY_NOT_APPLICABLE',
      wPath,
      `walSafetyPolicy only applies to the wal volume and to data on single-volume clusters; it has no effect on this ${ctx.type} volume.`,
    );
  }
  if (ctx.walSafetyApplies && walRaw?.['requireArchiveHealthy'] === true && ctx.archivingConfigured === false) {
    c.warn(
      'ARCHIVE_CHECK_WITHOUT_ARCHIVING',
      `${wPath}.requireArchiveHealthy`,
      'requireArchiveHealthy is set but the cluster archives no WAL (no backup.barmanObjectStore nor a WAL-archiver plugin): the archive check is skipped.',
    );
  }
  if (
    step?.kind === 'percent' &&
    limitBytes !== undefined &&
    size !== undefined &&
    limitBytes > size &&
    minStepBytes > limitBytes - size
  ) {
    c.warn(
      'MIN_STEP_ABOVE_ROOM',
      `${ePath}.minStep`,
      `minStep ${formatBytes(minStepBytes)} is larger than the room left below the limit (${formatBytes(limitBytes - size)}): the next resize goes straight to the limit.`,
    );
  }

  if (c.hasErrors || step === undefined) return { issues: c.issues };
  const walSafetyPolicy: WalSafetyPolicy = {
    acknowledgeWALRisk,
    requireArchiveHealthy,
    maxPendingWALFiles,
    maxSlotRetentionBytes,
    alertOnResize,
  };
  const policy: ResizePolicy = {
    enabled,
    triggers: {
      usageThreshold,
      ...(minAvailableBytes !== undefined ? { minAvailableBytes } : {}),
      ...(predictive !== undefined ? { predictive } : {}),
    },
    expansion: { step, minStepBytes, maxStepBytes, ...(limitBytes !== undefined ? { limitBytes } : {}) },
    strategy: { maxActionsPerDay, walSafetyPolicy },
  };
  return { policy, issues: c.issues };
}

/** A deep copy of a policy, so callers never share the frozen defaults. */
function structuredPolicy(p: Readonly<ResizePolicy>): ResizePolicy {
  return {
    enabled: p.enabled,
    triggers: {
      ...p.triggers,
      ...(p.triggers.predictive ? { predictive: { ...p.triggers.predictive } } : {}),
    },
    expansion: { ...p.expansion, step: { ...p.expansion.step } },
    strategy: {
      maxActionsPerDay: p.strategy.maxActionsPerDay,
      walSafetyPolicy: { ...p.strategy.walSafetyPolicy },
    },
  };
}

export function defaultPolicy(): ResizePolicy {
  return structuredPolicy(DEFAULT_POLICY);
}

/** Current sizes per volume, to judge limit and minAvailable against. */
export interface VolumeSizes {
  data?: bigint;
  wal?: bigint;
  tablespaces?: Record<string, bigint>;
}

export interface PolicySetResult {
  /** One result per block the document has; a block's `policy` is set when it has no errors. */
  data?: ResizeBlockResult;
  wal?: ResizeBlockResult;
  tablespaces: Record<string, ResizeBlockResult>;
  /** Every issue, document-level ones included, in document order. */
  issues: PolicyIssue[];
}

export function volumeContext(
  type: VolumeType,
  cluster: ClusterShape | undefined,
  sizes: VolumeSizes | undefined,
  tablespace?: string,
): VolumeContext {
  const single = cluster?.singleVolume;
  const currentBytes =
    type === 'data' ? sizes?.data : type === 'wal' ? sizes?.wal : sizes?.tablespaces?.[tablespace ?? ''];
  return {
    type,
    ...(tablespace !== undefined ? { tablespace } : {}),
    walSafetyApplies: walSafetyApplies({ type }, { singleVolume: single === true }),
    singleVolumeData: type === 'data' && single === true,
    hasWalVolume: single === undefined ? undefined : !single,
    archivingConfigured: cluster?.archiving.configured,
    ...(currentBytes !== undefined ? { currentBytes } : {}),
  };
}

/**
 * Validates a policy document (annotation or file). Paths are relative to the
 * document (`walStorage.resize.step`).
 */
export function validatePolicyDocument(raw: unknown, cluster?: ClusterShape, sizes?: VolumeSizes): PolicySetResult {
  const result: PolicySetResult = { tablespaces: {}, issues: [] };
  if (!isRecord(raw)) {
    result.issues.push({
      severity: 'error',
      code: 'DOCUMENT_INVALID',
      path: '',
      message: 'the policy document must be a mapping with storage, walStorage and/or tablespaces.',
    });
    return result;
  }
  const c = new Checker();
  c.unknownKeys(raw, '', ['apiVersion', 'kind', 'storage', 'walStorage', 'tablespaces']);
  result.issues.push(...c.issues.map((i) => ({ ...i, path: i.path.replace(/^\./, '') })));
  const doc = raw as PolicyDocument & Record<string, unknown>;

  const blockOf = (holder: unknown, path: string): { present: boolean; raw: unknown } => {
    if (holder === undefined || holder === null) return { present: false, raw: undefined };
    if (!isRecord(holder)) {
      result.issues.push({ severity: 'error', code: 'FIELD_TYPE', path, message: `${path} must be a mapping.` });
      return { present: false, raw: undefined };
    }
    for (const k of Object.keys(holder)) {
      if (k !== 'resize') {
        result.issues.push({
          severity: 'error',
          code: 'UNKNOWN_FIELD',
          path: `${path}.${k}`,
          message: `unknown field ${JSON.stringify(k)}: a policy document holds only resize blocks.`,
        });
      }
    }
    return { present: holder['resize'] !== undefined, raw: holder['resize'] };
  };

  const storage = blockOf(doc.storage, 'storage');
  if (storage.present) {
    const r = validateResizeBlock(storage.raw, 'storage.resize', volumeContext('data', cluster, sizes));
    result.data = r;
    result.issues.push(...r.issues);
  }
  const walStorage = blockOf(doc.walStorage, 'walStorage');
  if (walStorage.present) {
    const r = validateResizeBlock(walStorage.raw, 'walStorage.resize', volumeContext('wal', cluster, sizes));
    result.wal = r;
    result.issues.push(...r.issues);
    if (cluster?.singleVolume) {
      result.issues.push({
        severity: 'warning',
        code: 'NO_WAL_VOLUME',
        path: 'walStorage.resize',
        message: 'this cluster has no WAL volume (WAL lives on the data volume): the walStorage policy has no effect.',
      });
    }
  }
  if (doc.tablespaces !== undefined && doc.tablespaces !== null) {
    if (!isRecord(doc.tablespaces)) {
      result.issues.push({
        severity: 'error',
        code: 'FIELD_TYPE',
        path: 'tablespaces',
        message: 'tablespaces must be a mapping from tablespace name to its policy.',
      });
    } else {
      for (const [name, holder] of Object.entries(doc.tablespaces)) {
        const path = `tablespaces.${name}`;
        const b = blockOf(holder, path);
        if (!b.present) continue;
        const r = validateResizeBlock(b.raw, `${path}.resize`, volumeContext('tablespace', cluster, sizes, name));
        result.tablespaces[name] = r;
        result.issues.push(...r.issues);
        if (cluster && !cluster.tablespaces.includes(name)) {
          result.issues.push({
            severity: 'warning',
            code: 'UNKNOWN_TABLESPACE',
            path,
            message: `the cluster has no tablespace ${JSON.stringify(name)}: this policy has no effect.`,
          });
        }
      }
    }
  }
  return result;
}

/**
 * Validates the resize fields of a Cluster spec (for operator builds that
 * have them). Paths are rooted at `spec`.
 */
export function validateClusterSpecPolicy(spec: unknown, cluster?: ClusterShape, sizes?: VolumeSizes): PolicySetResult {
  const result: PolicySetResult = { tablespaces: {}, issues: [] };
  if (!isRecord(spec)) return result;
  const pick = (holder: unknown): unknown => (isRecord(holder) ? holder['resize'] : undefined);
  const dataRaw = pick(spec['storage']);
  if (dataRaw !== undefined) {
    const r = validateResizeBlock(dataRaw, 'spec.storage.resize', volumeContext('data', cluster, sizes));
    result.data = r;
    result.issues.push(...r.issues);
  }
  const walRaw = pick(spec['walStorage']);
  if (walRaw !== undefined) {
    const r = validateResizeBlock(walRaw, 'spec.walStorage.resize', volumeContext('wal', cluster, sizes));
    result.wal = r;
    result.issues.push(...r.issues);
  }
  const tbs = spec['tablespaces'];
  if (Array.isArray(tbs)) {
    tbs.forEach((t: unknown, i: number) => {
      if (!isRecord(t) || typeof t['name'] !== 'string') return;
      const raw = pick(t['storage']);
      if (raw === undefined) return;
      const name = t['name'];
      const r = validateResizeBlock(
        raw,
        `spec.tablespaces[${i}].storage.resize`,
        volumeContext('tablespace', cluster, sizes, name),
      );
      result.tablespaces[name] = r;
      result.issues.push(...r.issues);
    });
  }
  return result;
}

export function hasErrors(issues: readonly PolicyIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}
