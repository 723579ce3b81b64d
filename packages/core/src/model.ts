/**
 * The data model shared by the engine, the CLI and the probe.
 *
 * Byte counts are BigInt in memory. In JSON they are decimal strings
 * (see codec.ts) because JSON numbers lose precision above 2^53 bytes (8 PiB).
 * Times are RFC 3339 strings in documents and epoch milliseconds inside the
 * engine.
 */

export type VolumeType = 'data' | 'wal' | 'tablespace';

/** The `cnpg.io/pvcRole` label value for each volume type. */
export const PVC_ROLE_LABEL = 'cnpg.io/pvcRole';
export const PVC_ROLES: Readonly<Record<VolumeType, string>> = {
  data: 'PG_DATA',
  wal: 'PG_WAL',
  tablespace: 'PG_TABLESPACE',
};

export function volumeTypeFromRole(role: string | undefined): VolumeType | undefined {
  switch (role) {
    case 'PG_DATA':
      return 'data';
    case 'PG_WAL':
      return 'wal';
    case 'PG_TABLESPACE':
      return 'tablespace';
    default:
      return undefined;
  }
}

/** Where CloudNativePG mounts each volume inside the instance pod. */
export const MOUNT_PATHS = {
  data: '/var/lib/postgresql/data',
  pgdata: '/var/lib/postgresql/data/pgdata',
  wal: '/var/lib/postgresql/wal',
  pgWal: '/var/lib/postgresql/wal/pg_wal',
  tablespaces: '/var/lib/postgresql/tablespaces',
} as const;

export function mountPathFor(type: VolumeType, tablespace?: string): string {
  if (type === 'data') return MOUNT_PATHS.data;
  if (type === 'wal') return MOUNT_PATHS.wal;
  return `${MOUNT_PATHS.tablespaces}/${tablespace ?? ''}`;
}

/** PVC name CloudNativePG gives each volume of an instance. */
export function pvcNameFor(instance: string, type: VolumeType, tablespace?: string): string {
  if (type === 'data') return instance;
  if (type === 'wal') return `${instance}-wal`;
  return `${instance}-tbs-${tablespace ?? ''}`;
}

/** Identifies one volume: a PVC of one instance. */
export interface VolumeRef {
  namespace: string;
  cluster: string;
  instance: string;
  pvcName: string;
  type: VolumeType;
  /** Set for tablespace volumes only. */
  tablespace?: string;
}

/** A PVC status condition, as the API reports it. */
export interface PvcCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** What the Kubernetes API says about the PVC. */
export interface PvcFacts {
  /** spec.resources.requests.storage */
  requestBytes?: bigint;
  /** status.capacity.storage */
  capacityBytes?: bigint;
  storageClass?: string;
  /** Whether the storage class allows expansion; undefined when unknown. */
  allowVolumeExpansion?: boolean;
  /** status.conditions */
  conditions: PvcCondition[];
  /** status.allocatedResourceStatuses.storage (e.g. ControllerResizeInProgress). */
  allocatedResourceStatus?: string;
  resourceVersion?: string;
  phase?: string;
}

/** What statfs of the mounted filesystem says. */
export interface FilesystemFacts {
  totalBytes: bigint;
  usedBytes: bigint;
  /** Available to unprivileged users (statfs f_bavail), like df. */
  availableBytes: bigint;
  inodesTotal?: bigint;
  inodesUsed?: bigint;
  inodesFree?: bigint;
  /** Which source measured it (exec, kubelet-summary, probe, ...). */
  source?: string;
  /** RFC 3339. */
  observedAt?: string;
}

/**
 * CloudNativePG's own finding that the volume holding pg_wal is full.
 *
 * Before it starts PostgreSQL, and after PostgreSQL stops, CloudNativePG's
 * instance manager checks that pg_wal can take one more WAL segment; when it
 * cannot, the manager exits with code 4 (MissingWALDiskSpaceExitCode) and
 * does so on every restart until the volume grows. Read from the pod status
 * (the postgres container not ready, its last termination exit code 4), it
 * is the one fact left about the volume when the instance is down and no
 * source can run statfs in it: "less than one WAL segment free".
 */
export interface WalSpaceExhausted {
  /** RFC 3339: when the container last exited with code 4, if known. */
  exitedAt?: string;
  /** The postgres container's restart count, if known. */
  restarts?: number;
}

/** How WAL is archived for a cluster, judged from its spec. */
export interface ArchivingShape {
  /** undefined: could not tell. */
  configured: boolean | undefined;
  /** e.g. "barmanObjectStore" or the plugin name that is the WAL archiver. */
  method?: string;
}

/** The parts of a Cluster's shape that the engine and validation need. */
export interface ClusterShape {
  namespace: string;
  name: string;
  /** True when the cluster has no spec.walStorage: WAL lives on the data volume. */
  singleVolume: boolean;
  tablespaces: string[];
  archiving: ArchivingShape;
  instances?: number;
}

/** One replication slot as pg_replication_slots reports it. */
export interface ReplicationSlot {
  name: string;
  type: 'physical' | 'logical';
  active: boolean;
  /** WAL this slot holds back: from the current WAL position (primary) or replay position (replica). */
  retainedBytes?: bigint;
  /** reserved | extended | unreserved | lost */
  walStatus?: string;
  /** May be negative when the slot is past max_slot_wal_keep_size. */
  safeWalSizeBytes?: bigint;
}

/** pg_stat_archiver, in short. */
export interface ArchiverStats {
  archivedCount: number;
  failedCount: number;
  lastArchivedWal?: string;
  /** RFC 3339 */
  lastArchivedTime?: string;
  lastFailedWal?: string;
  /** RFC 3339 */
  lastFailedTime?: string;
}

/** WAL health of one instance, judged on its own data (replicas included). */
export interface WalHealth {
  instance: string;
  isPrimary?: boolean;
  /** archive_mode is on and an archive command or library is set. */
  archivingConfigured?: boolean;
  archiver?: ArchiverStats;
  /** Files in pg_wal/archive_status ending in .ready (waiting to be archived). */
  readyFiles?: number;
  doneFiles?: number;
  /** Size of pg_wal. */
  walDirBytes?: bigint;
  slots?: ReplicationSlot[];
  source?: string;
  /** RFC 3339 */
  observedAt?: string;
}

/** One past resize of one PVC. */
export interface LedgerEntry {
  /** RFC 3339 time the resize was requested. */
  at: string;
  fromBytes: bigint;
  toBytes: bigint;
  /** Who decided: this engine (counts against the budget) or a person outside it. */
  by: 'engine' | 'manual';
  /** Why, when not the engine's usage trigger: the autoresizer's sibling floor. */
  why?: LedgerWhy;
}

/** Reasons a ledger entry may give (older readers ignore the field). */
export type LedgerWhy = 'sibling-floor';
export const LEDGER_WHYS: readonly LedgerWhy[] = ['sibling-floor'];

/** The resize history of one PVC, as read from its annotation. */
export interface Ledger {
  entries: LedgerEntry[];
  /**
   * Set when the stored ledger could not be read in full. The engine then
   * refuses to spend budget: a corrupt ledger must never refill it.
   */
  corrupt?: string;
}

export const EMPTY_LEDGER: Ledger = { entries: [] };

/** The document the probe (packages/probe) writes: what one instance's host measured. */
export const PROBE_REPORT_API_VERSION = 'disk.cnpg-plugin.dev/v1alpha1';
export const PROBE_REPORT_KIND = 'ProbeReport';

/** One mounted volume of the instance, as the probe measured it. */
export interface ProbeVolume {
  type: VolumeType;
  /** Set for tablespace volumes only. */
  tablespace?: string;
  mountPath: string;
  /** Absent when the mount could not be measured (the reason is in the report's errors). */
  filesystem?: FilesystemFacts;
}

/** Something the probe could not measure; the rest of the report is still valid. */
export interface ProbeError {
  /** Which part of the report is missing or partial, e.g. `volumes.wal`, `wal.slots`, `wal.archiver`. */
  field: string;
  /** errno code (ENOENT, EACCES, ...) or SQLSTATE, when there is one. */
  code?: string;
  message: string;
}

/** Server facts the probe read over SQL, beyond WalHealth. */
export interface ProbePostgres {
  /** server_version */
  version?: string;
  /** pg_is_in_recovery() */
  inRecovery?: boolean;
  /** archive_mode: off | on | always */
  archiveMode?: string;
  /** Whether archive_command is non-empty (its text is not reported). */
  archiveCommandSet?: boolean;
  /** archive_library, when set. */
  archiveLibrary?: string;
}

export interface ProbeReport {
  apiVersion: typeof PROBE_REPORT_API_VERSION;
  kind: typeof PROBE_REPORT_KIND;
  /** The instance (pod) name. */
  instance: string;
  namespace?: string;
  cluster?: string;
  /** RFC 3339. */
  observedAt: string;
  volumes: ProbeVolume[];
  wal: WalHealth;
  postgres?: ProbePostgres;
  errors: ProbeError[];
}
