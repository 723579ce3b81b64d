/**
 * Builders for engine inputs. Every test starts from one healthy, triggering
 * situation and changes only what it is about, so a table row reads as "this
 * input differs, so that verdict follows".
 */
import {
  GiB,
  defaultPolicy,
  type ClusterShape,
  type DecisionInput,
  type FilesystemFacts,
  type Ledger,
  type LedgerEntry,
  type PvcFacts,
  type ResizePolicy,
  type VolumeRef,
  type VolumeType,
  type WalHealth,
} from '@cnpg-disk/core';

export const NOW = Date.parse('2026-11-26T12:00:00.000Z');
export const SECOND = 1000;
export const HOUR = 3600 * SECOND;
export const DAY = 24 * HOUR;

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The default policy with resize enabled, then changed by `edit`. */
export function policy(edit?: (p: ResizePolicy) => void): ResizePolicy {
  const p = defaultPolicy();
  p.enabled = true;
  edit?.(p);
  return p;
}

export function cluster(over: Partial<ClusterShape> = {}): ClusterShape {
  return {
    namespace: 'db',
    name: 'pg',
    singleVolume: false,
    tablespaces: ['tbs1'],
    archiving: { configured: true, method: 'barmanObjectStore' },
    instances: 3,
    ...over,
  };
}

export function volume(type: VolumeType = 'data', instance = 'pg-1', tablespace?: string): VolumeRef {
  const pvcName = type === 'data' ? instance : type === 'wal' ? `${instance}-wal` : `${instance}-tbs-${tablespace}`;
  return {
    namespace: 'db',
    cluster: 'pg',
    instance,
    pvcName,
    type,
    ...(tablespace !== undefined ? { tablespace } : {}),
  };
}

/** A bound PVC whose request equals its capacity. */
export function pvc(bytes: bigint, over: Partial<PvcFacts> = {}): PvcFacts {
  return { requestBytes: bytes, capacityBytes: bytes, conditions: [], ...over };
}

/** A filesystem of `total` bytes with `used` used and the rest available (no reserved blocks). */
export function fs(total: bigint, used: bigint, available: bigint = total - used): FilesystemFacts {
  return { totalBytes: total, usedBytes: used, availableBytes: available, source: 'test' };
}

export function healthyWal(instance = 'pg-1', over: Partial<WalHealth> = {}): WalHealth {
  return {
    instance,
    isPrimary: instance === 'pg-1',
    archivingConfigured: true,
    archiver: {
      archivedCount: 42,
      failedCount: 0,
      lastArchivedWal: '000000010000000000000042',
      lastArchivedTime: iso(NOW - 60 * SECOND),
    },
    readyFiles: 0,
    slots: [],
    ...over,
  };
}

export function engineEntry(atMs: number, from = 100n * GiB, to = 120n * GiB): LedgerEntry {
  return { at: iso(atMs), fromBytes: from, toBytes: to, by: 'engine' };
}

export function ledgerOf(...entries: LedgerEntry[]): Ledger {
  return { entries };
}

/**
 * A data volume of 100Gi on a cluster with a separate WAL volume, 90% used
 * (the default 80% threshold fires), empty ledger, healthy WAL: the engine
 * answers `resize` to 120Gi.
 */
export function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    volume: volume('data'),
    cluster: cluster(),
    policy: policy(),
    pvc: pvc(100n * GiB),
    filesystem: fs(100n * GiB, 90n * GiB),
    ledger: { entries: [] },
    walHealth: healthyWal(),
    now: NOW,
    ...over,
  };
}

/** The same situation on the wal volume of pg-1. */
export function walInput(over: Partial<DecisionInput> = {}): DecisionInput {
  return input({ volume: volume('wal'), ...over });
}
