/**
 * The policy- and ledger-dependent metrics (cnpg_disk_at_limit,
 * cnpg_disk_resize_blocked{reason}, cnpg_disk_resize_budget_remaining).
 *
 * The probe knows nothing of Kubernetes, so it cannot read the policy
 * annotation or the PVCs' ledger annotations itself: they are given as files
 * (--policy and --ledger, both required together), typically written by
 * whatever deploys the probe. With them, each volume's figures come from
 * core's own functions (validatePolicyDocument, resolvePolicy, parseLedger,
 * budgetOf, decide) on the probe's measurements, so they can never disagree
 * with the CLI's verdicts on the same inputs.
 *
 * cnpg_disk_resizes_total is not exported: it is a counter of resizes
 * performed, and the probe performs none (see docs/probe.md).
 */
import { readFileSync } from 'node:fs';
import {
  budgetOf,
  decide,
  parseBytes,
  parseLedger,
  pvcNameFor,
  resolvePolicy,
  validatePolicyDocument,
  type ClusterShape,
  type ProbeError,
  type ProbeReport,
} from '@cnpg-disk/core';
import { volumeKey, type VolumeResizeMetrics } from './metrics.js';

/** One volume's entry in the ledger file. */
export interface LedgerInput {
  /** The PVC's ledger annotation value, verbatim (absent: no resize recorded). */
  ledger?: string;
  /** spec.resources.requests.storage */
  requestBytes?: bigint;
  /** status.capacity.storage */
  capacityBytes?: bigint;
}

export interface ResizeInputs {
  /** The policy document (same shape as the Cluster annotation), parsed JSON. */
  policy: unknown;
  /** Keyed by volume: "data", "wal", "tablespace/<name>". */
  ledgers: Record<string, LedgerInput>;
}

/** A file or flag problem: one line, for the user. */
export class InputError extends Error {}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(`the ${what} file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function size(v: unknown, where: string): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') {
    try {
      return parseBytes(v);
    } catch (err) {
      throw new InputError(`${where}: ${(err as Error).message}`);
    }
  }
  throw new InputError(`${where}: expected a byte count or a quantity such as "10Gi"`);
}

/** Parses the ledger file: { "<volume>": "<annotation>" | { ledger?, requestBytes?, capacityBytes? } }. */
export function parseLedgerFile(doc: unknown, path = 'ledger file'): Record<string, LedgerInput> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InputError(`${path}: expected an object keyed by volume (data, wal, tablespace/<name>)`);
  }
  const out: Record<string, LedgerInput> = {};
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!/^(data|wal|tablespace\/.+)$/.test(key)) {
      throw new InputError(
        `${path}: unknown volume key ${JSON.stringify(key)} (expected data, wal or tablespace/<name>)`,
      );
    }
    if (typeof v === 'string') {
      out[key] = { ledger: v };
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new InputError(`${path}: ${key}: expected the ledger annotation text or an object`);
    }
    const o = v as Record<string, unknown>;
    const entry: LedgerInput = {};
    if (typeof o['ledger'] === 'string') entry.ledger = o['ledger'];
    else if (o['ledger'] !== undefined && o['ledger'] !== null) entry.ledger = JSON.stringify(o['ledger']);
    const req = size(o['requestBytes'], `${path}: ${key}.requestBytes`);
    const cap = size(o['capacityBytes'], `${path}: ${key}.capacityBytes`);
    if (req !== undefined) entry.requestBytes = req;
    if (cap !== undefined) entry.capacityBytes = cap;
    out[key] = entry;
  }
  return out;
}

export function loadResizeInputs(policyPath: string, ledgerPath: string): ResizeInputs {
  return {
    policy: readJson(policyPath, 'policy'),
    ledgers: parseLedgerFile(readJson(ledgerPath, 'ledger'), ledgerPath),
  };
}

export function clusterShapeOf(report: ProbeReport): ClusterShape {
  return {
    namespace: report.namespace ?? '',
    name: report.cluster ?? '',
    singleVolume: !report.volumes.some((v) => v.type === 'wal'),
    tablespaces: report.volumes.filter((v) => v.type === 'tablespace').map((v) => v.tablespace ?? ''),
    archiving: { configured: report.wal.archivingConfigured },
  };
}

export interface ResizeMetricsResult {
  metrics: Map<string, VolumeResizeMetrics>;
  errors: ProbeError[];
}

/** The per-volume resize figures for a report. `now` is epoch milliseconds. */
export function resizeMetricsFor(report: ProbeReport, inputs: ResizeInputs, now: number): ResizeMetricsResult {
  const cluster = clusterShapeOf(report);
  const set = validatePolicyDocument(inputs.policy, cluster);
  const metrics = new Map<string, VolumeResizeMetrics>();
  const errors: ProbeError[] = [];
  for (const v of report.volumes) {
    const key = volumeKey(v);
    const resolved = resolvePolicy({ file: set }, v.type, v.tablespace);
    if (!resolved.policy) {
      errors.push({
        field: `resize.${key}`,
        message: `the policy for ${key} has errors: ${resolved.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      });
      continue;
    }
    const policy = resolved.policy;
    const input = inputs.ledgers[key] ?? {};
    const ledger = parseLedger(input.ledger);
    const m: VolumeResizeMetrics = {
      budgetRemaining: budgetOf(ledger, policy.strategy.maxActionsPerDay, now).remaining,
    };
    const current =
      input.requestBytes === undefined && input.capacityBytes === undefined
        ? undefined
        : (input.requestBytes ?? 0n) > (input.capacityBytes ?? 0n)
          ? input.requestBytes
          : input.capacityBytes;
    if (current !== undefined) {
      const limit = policy.expansion.limitBytes;
      m.atLimit = limit !== undefined && current >= limit;
    }
    const pvc = { conditions: [] } as { conditions: []; requestBytes?: bigint; capacityBytes?: bigint };
    if (input.requestBytes !== undefined) pvc.requestBytes = input.requestBytes;
    if (input.capacityBytes !== undefined) pvc.capacityBytes = input.capacityBytes;
    const decision = decide({
      volume: {
        namespace: cluster.namespace,
        cluster: cluster.name,
        instance: report.instance,
        pvcName: pvcNameFor(report.instance, v.type, v.tablespace),
        type: v.type,
        ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}),
      },
      cluster,
      policy,
      pvc,
      ...(v.filesystem ? { filesystem: v.filesystem } : {}),
      ledger,
      walHealth: report.wal,
      now,
    });
    if (decision.verdict !== 'unknown') m.blocked = decision.verdict === 'blocked' ? (decision.reason ?? null) : null;
    metrics.set(key, m);
  }
  return { metrics, errors };
}
