/**
 * Realistic CloudNativePG objects for tests (shapes as the API returns them).
 * Used by unit tests of evaluation and rendering; the API-server tests seed
 * the same objects into a real kube-apiserver.
 */
import { serializeLedger, type FilesystemFacts, type LedgerEntry, type WalHealth } from '@cnpg-disk/core';
import type { ClusterSnapshot, KubeObject, Snapshot } from '../../src/model/snapshot.js';

export const GiB = 1024n ** 3n;

export interface ClusterFixture {
  namespace?: string;
  name?: string;
  instances?: number;
  walStorage?: boolean;
  tablespaces?: string[];
  archiving?: boolean;
  annotations?: Record<string, string>;
  specExtra?: Record<string, unknown>;
}

export function cluster(f: ClusterFixture = {}): KubeObject {
  const ns = f.namespace ?? 'db';
  const name = f.name ?? 'pg';
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: {
      name,
      namespace: ns,
      ...(f.annotations ? { annotations: f.annotations } : {}),
      labels: { team: 'payments' },
    },
    spec: {
      instances: f.instances ?? 1,
      storage: { size: '10Gi', storageClass: 'expandable' },
      ...(f.walStorage ? { walStorage: { size: '2Gi', storageClass: 'expandable' } } : {}),
      ...(f.tablespaces ? { tablespaces: f.tablespaces.map((t) => ({ name: t, storage: { size: '5Gi' } })) } : {}),
      ...(f.archiving ? { backup: { barmanObjectStore: { destinationPath: 'https://store/backups' } } } : {}),
      ...f.specExtra,
    },
    status: { phase: 'Cluster in healthy state', currentPrimary: `${name}-1`, targetPrimary: `${name}-1` },
  };
}

export interface PodFixture {
  name: string;
  cluster?: string;
  namespace?: string;
  phase?: string;
  ready?: boolean;
  node?: string;
  lastExitCode?: number;
  waiting?: string;
  restarts?: number;
}

export function pod(f: PodFixture): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: f.name,
      namespace: f.namespace ?? 'db',
      labels: { 'cnpg.io/cluster': f.cluster ?? 'pg', 'cnpg.io/instanceName': f.name, 'cnpg.io/podRole': 'instance' },
    },
    spec: {
      nodeName: f.node ?? 'node-1',
      containers: [{ name: 'postgres', image: 'ghcr.io/cloudnative-pg/postgresql:15' }],
    },
    status: {
      phase: f.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: f.ready === false ? 'False' : 'True' }],
      containerStatuses: [
        {
          name: 'postgres',
          ready: f.ready !== false,
          restartCount: f.restarts ?? 0,
          state: f.waiting ? { waiting: { reason: f.waiting } } : { running: { startedAt: '2026-11-25T00:00:00Z' } },
          ...(f.lastExitCode !== undefined
            ? {
                lastState: {
                  terminated: { exitCode: f.lastExitCode, reason: 'Error', finishedAt: '2026-11-26T00:00:00Z' },
                },
              }
            : {}),
        },
      ],
    },
  };
}

export interface PvcFixture {
  instance: string;
  role: 'PG_DATA' | 'PG_WAL' | 'PG_TABLESPACE';
  tablespace?: string;
  cluster?: string;
  namespace?: string;
  request: string;
  capacity?: string;
  storageClass?: string;
  conditions?: { type: string; status: string; message?: string }[];
  allocated?: string;
  ledger?: LedgerEntry[] | string;
}

export function pvcName(f: Pick<PvcFixture, 'instance' | 'role' | 'tablespace'>): string {
  return f.role === 'PG_DATA'
    ? f.instance
    : f.role === 'PG_WAL'
      ? `${f.instance}-wal`
      : `${f.instance}-tbs-${f.tablespace}`;
}

export function pvc(f: PvcFixture): KubeObject {
  const ledger =
    f.ledger === undefined
      ? undefined
      : typeof f.ledger === 'string'
        ? f.ledger
        : serializeLedger({ entries: f.ledger });
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: pvcName(f),
      namespace: f.namespace ?? 'db',
      resourceVersion: '100',
      labels: {
        'cnpg.io/cluster': f.cluster ?? 'pg',
        'cnpg.io/instanceName': f.instance,
        'cnpg.io/pvcRole': f.role,
        ...(f.tablespace ? { 'cnpg.io/tablespaceName': f.tablespace } : {}),
      },
      ...(ledger !== undefined ? { annotations: { 'disk.cnpg-plugin.dev/resize-ledger': ledger } } : {}),
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: f.request } },
      storageClassName: f.storageClass ?? 'expandable',
    },
    status: {
      phase: 'Bound',
      capacity: { storage: f.capacity ?? f.request },
      ...(f.conditions ? { conditions: f.conditions } : {}),
      ...(f.allocated ? { allocatedResourceStatuses: { storage: f.allocated } } : {}),
    },
  };
}

export const storageClasses: KubeObject[] = [
  {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'expandable' },
    allowVolumeExpansion: true,
    provisioner: 'csi.test',
  },
  { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'fixed' }, provisioner: 'csi.test' },
];

export function fs(totalGi: number, usedPct: number, opts: Partial<FilesystemFacts> = {}): FilesystemFacts {
  const total = BigInt(Math.round(totalGi * 1024)) * 1024n * 1024n;
  const used = (total * BigInt(Math.round(usedPct * 100))) / 10_000n;
  return { totalBytes: total, usedBytes: used, availableBytes: total - used, source: 'test', ...opts };
}

export function clusterSnapshot(
  c: KubeObject,
  pods: KubeObject[],
  pvcs: KubeObject[],
  measurements: ClusterSnapshot['measurements'] = [],
  events: KubeObject[] = [],
): ClusterSnapshot {
  const md = c.metadata as { name: string; namespace: string };
  return { namespace: md.namespace, name: md.name, cluster: c, pods, pvcs, events, measurements };
}

export function snapshot(clusters: ClusterSnapshot[]): Snapshot {
  return {
    collectedAt: '2026-11-26T00:00:00.000Z',
    origin: { kind: 'live', server: 'https://test', context: 'test' },
    namespaces: ['db'],
    clusters,
    storageClasses,
    sources: [],
    problems: [],
  };
}

export function wal(instance: string, extra: Partial<WalHealth> = {}): WalHealth {
  return {
    instance,
    archiver: {
      archivedCount: 10,
      failedCount: 0,
      lastArchivedTime: '2026-11-25T23:59:00.000Z',
      lastArchivedWal: '0000000100000000000000AA',
    },
    readyFiles: 0,
    slots: [],
    ...extra,
  };
}
