/**
 * Resize policy: the document users write, the resolved form the engine
 * reads, and the defaults of spec/engine.md.
 */
import { GiB } from './quantity.js';

/** The `resize` block as written by a user (every field optional, unchecked types). */
export interface ResizePolicySpec {
  enabled?: boolean;
  triggers?: {
    usageThreshold?: number;
    minAvailable?: string;
    /** Opt-in: present (and not `enabled: false`) turns the predictive trigger on. */
    predictive?: {
      enabled?: boolean;
      /** Duration ("12h", "90m", "2d"): fire when the forecast time to full is below it. */
      horizon?: string;
      /** Duration: how far back the least-squares fit looks. */
      window?: string;
      /** Fewest samples in the window before a forecast is believed. */
      minSamples?: number;
    };
  };
  expansion?: {
    step?: string;
    minStep?: string;
    maxStep?: string;
    limit?: string;
  };
  strategy?: {
    maxActionsPerDay?: number;
    walSafetyPolicy?: {
      acknowledgeWALRisk?: boolean;
      requireArchiveHealthy?: boolean;
      maxPendingWALFiles?: number;
      maxSlotRetentionBytes?: string | number;
      alertOnResize?: boolean;
    };
  };
}

/** A step: a percentage of the current size (in basis points) or a fixed size. */
export type Step = { kind: 'percent'; basisPoints: number } | { kind: 'absolute'; bytes: bigint };

export interface WalSafetyPolicy {
  acknowledgeWALRisk: boolean;
  requireArchiveHealthy: boolean;
  /** 0 disables the check. */
  maxPendingWALFiles: number;
  /** 0 disables the check. */
  maxSlotRetentionBytes: bigint;
  alertOnResize: boolean;
}

/**
 * The predictive trigger, resolved: fire when core's least-squares forecast
 * of used bytes over `windowMs` says the volume fills within `horizonMs`,
 * and size the step for the growth expected over the horizon.
 */
export interface PredictiveTrigger {
  horizonMs: number;
  windowMs: number;
  minSamples: number;
}

export const DEFAULT_PREDICTIVE: Readonly<PredictiveTrigger> = Object.freeze({
  horizonMs: 24 * 3_600_000,
  windowMs: 6 * 3_600_000,
  minSamples: 12,
});

/**
 * A forecast is believed only when the growth it fitted over the window is
 * at least this many times the scatter (root mean square of the residuals)
 * around the fitted line: a flat volume whose figures jitter never looks
 * like one that grows.
 */
export const PREDICTIVE_MIN_SIGNAL_TO_NOISE = 6;

/** A policy with every default applied and every quantity parsed. */
export interface ResizePolicy {
  enabled: boolean;
  triggers: {
    usageThreshold: number;
    minAvailableBytes?: bigint;
    /** Absent: the predictive trigger is off (it is opt-in). */
    predictive?: PredictiveTrigger;
  };
  expansion: {
    step: Step;
    minStepBytes: bigint;
    maxStepBytes: bigint;
    limitBytes?: bigint;
  };
  strategy: {
    maxActionsPerDay: number;
    walSafetyPolicy: WalSafetyPolicy;
  };
}

export const DEFAULT_POLICY: Readonly<ResizePolicy> = Object.freeze({
  enabled: false,
  triggers: { usageThreshold: 80 },
  expansion: {
    step: { kind: 'percent', basisPoints: 2000 } as Step,
    minStepBytes: 2n * GiB,
    maxStepBytes: 500n * GiB,
  },
  strategy: {
    maxActionsPerDay: 3,
    walSafetyPolicy: {
      acknowledgeWALRisk: false,
      requireArchiveHealthy: true,
      maxPendingWALFiles: 100,
      maxSlotRetentionBytes: 0n,
      alertOnResize: true,
    },
  },
});

/** Where a policy came from, in the order they are consulted. */
export type PolicySource = 'file' | 'cluster-spec' | 'plugin' | 'annotation' | 'controller-default' | 'defaults';

/**
 * The policy document: the same shape as the Cluster's own fields
 * (spec.storage.resize, spec.walStorage.resize, spec.tablespaces[].storage.resize),
 * with tablespaces keyed by name.
 */
export interface PolicyDocument {
  apiVersion?: string;
  kind?: string;
  storage?: { resize?: ResizePolicySpec };
  walStorage?: { resize?: ResizePolicySpec };
  tablespaces?: Record<string, { resize?: ResizePolicySpec }>;
}

/** Annotation on the Cluster that holds a policy document (YAML or JSON). */
export const POLICY_ANNOTATION = 'disk.cnpg-plugin.dev/resize-policy';
/** Annotation on each PVC that holds its resize ledger. */
export const LEDGER_ANNOTATION = 'disk.cnpg-plugin.dev/resize-ledger';
export const POLICY_DOCUMENT_API_VERSION = 'disk.cnpg-plugin.dev/v1alpha1';
export const POLICY_DOCUMENT_KIND = 'ResizePolicy';
