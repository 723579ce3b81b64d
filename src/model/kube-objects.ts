/**
 * Reading Kubernetes objects (as returned by the API, or from a bundle) into
 * the core model. Every read is defensive: the objects are unchecked JSON.
 */
import {
  parseBytes,
  volumeTypeFromRole,
  PVC_ROLE_LABEL,
  type ClusterShape,
  type PvcCondition,
  type PvcFacts,
  type VolumeRef,
} from '@cnpg-disk/core';
import type { KubeObject } from './snapshot.js';

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a nested field: get(o, 'spec', 'storage', 'size'). */
export function get(o: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (typeof p === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[p];
    } else {
      if (!isObj(cur)) return undefined;
      cur = cur[p];
    }
  }
  return cur;
}

export function str(o: unknown, ...path: (string | number)[]): string | undefined {
  const v = get(o, ...path);
  return typeof v === 'string' ? v : undefined;
}

export function arr(o: unknown, ...path: (string | number)[]): unknown[] {
  const v = get(o, ...path);
  return Array.isArray(v) ? v : [];
}

export function nameOf(o: KubeObject | unknown): string {
  return str(o, 'metadata', 'name') ?? '';
}

export function namespaceOf(o: KubeObject | unknown): string {
  return str(o, 'metadata', 'namespace') ?? '';
}

/**
 * One label's value, read in place: fleet-wide reads ask for one or two labels
 * of each of thousands of objects, and copying every label map first was a
 * measurable part of a 1,800-PVC run. Own properties only.
 */
export function label(o: unknown, key: string): string | undefined {
  const l = get(o, 'metadata', 'labels');
  if (!isObj(l) || !Object.hasOwn(l, key)) return undefined;
  const v = l[key];
  return typeof v === 'string' ? v : undefined;
}

/** Every label whose value is a string (a copy). */
export function labels(o: unknown): Record<string, string> {
  const l = get(o, 'metadata', 'labels');
  return isObj(l)
    ? (Object.fromEntries(Object.entries(l).filter(([, v]) => typeof v === 'string')) as Record<string, string>)
    : {};
}

export function annotations(o: unknown): Record<string, string> {
  const a = get(o, 'metadata', 'annotations');
  return isObj(a)
    ? (Object.fromEntries(Object.entries(a).filter(([, v]) => typeof v === 'string')) as Record<string, string>)
    : {};
}

/** A byte quantity field, or undefined (with the problem noted) when absent or malformed. */
export function bytesField(o: unknown, problems: string[], what: string, ...path: string[]): bigint | undefined {
  const v = get(o, ...path);
  if (v === undefined || v === null) return undefined;
  try {
    return parseBytes(typeof v === 'number' ? String(v) : (v as string));
  } catch (e) {
    problems.push(`${what}: ${(e as Error).message}`);
    return undefined;
  }
}

export const CLUSTER_LABEL = 'cnpg.io/cluster';
export const INSTANCE_LABEL = 'cnpg.io/instanceName';
export const TABLESPACE_LABEL = 'cnpg.io/tablespaceName';

/** The shape of a CNPG Cluster that the engine and validation need. */
export function clusterShape(cluster: KubeObject): ClusterShape {
  const spec = get(cluster, 'spec');
  const plugins = arr(spec, 'plugins');
  const walArchiverPlugin = plugins.find((p) => get(p, 'isWALArchiver') === true && get(p, 'enabled') !== false);
  const barman = get(spec, 'backup', 'barmanObjectStore');
  const instances = get(spec, 'instances');
  return {
    namespace: namespaceOf(cluster),
    name: nameOf(cluster),
    singleVolume: !isObj(get(spec, 'walStorage')),
    tablespaces: arr(spec, 'tablespaces')
      .map((t) => str(t, 'name'))
      .filter((n): n is string => !!n),
    archiving: walArchiverPlugin
      ? { configured: true, method: `plugin ${str(walArchiverPlugin, 'name') ?? ''}`.trim() }
      : isObj(barman)
        ? { configured: true, method: 'barmanObjectStore' }
        : { configured: false },
    ...(typeof instances === 'number' ? { instances } : {}),
  };
}

/** The volume a CNPG PVC is, from its labels (and name, for older operator versions). */
export function volumeRefOf(pvc: KubeObject, clusterName: string): VolumeRef | undefined {
  const type = volumeTypeFromRole(label(pvc, PVC_ROLE_LABEL));
  const pvcName = nameOf(pvc);
  if (!type) return undefined;
  const instance = label(pvc, INSTANCE_LABEL) ?? pvcName.replace(/-(wal|tbs-.*)$/, '');
  let tablespace: string | undefined;
  if (type === 'tablespace') {
    tablespace = label(pvc, TABLESPACE_LABEL) ?? (/-tbs-(.+)$/.exec(pvcName)?.[1] || undefined);
  }
  return {
    namespace: namespaceOf(pvc),
    cluster: clusterName,
    instance,
    pvcName,
    type,
    ...(tablespace !== undefined ? { tablespace } : {}),
  };
}

export function pvcFacts(pvc: KubeObject, storageClasses: KubeObject[], problems: string[]): PvcFacts {
  const name = nameOf(pvc);
  const sc = str(pvc, 'spec', 'storageClassName');
  const scObj = storageClasses.find((s) => nameOf(s) === sc);
  const conditions: PvcCondition[] = arr(pvc, 'status', 'conditions')
    .filter(isObj)
    .map((c) => ({
      type: str(c, 'type') ?? '',
      status: str(c, 'status') ?? '',
      ...(str(c, 'reason') ? { reason: str(c, 'reason') } : {}),
      ...(str(c, 'message') ? { message: str(c, 'message') } : {}),
      ...(str(c, 'lastTransitionTime') ? { lastTransitionTime: str(c, 'lastTransitionTime') } : {}),
    }));
  const requestBytes = bytesField(
    pvc,
    problems,
    `PVC ${name} spec.resources.requests.storage`,
    'spec',
    'resources',
    'requests',
    'storage',
  );
  const capacityBytes = bytesField(
    pvc,
    problems,
    `PVC ${name} status.capacity.storage`,
    'status',
    'capacity',
    'storage',
  );
  const alloc = str(pvc, 'status', 'allocatedResourceStatuses', 'storage');
  const expand = scObj ? get(scObj, 'allowVolumeExpansion') === true : undefined;
  const rv = str(pvc, 'metadata', 'resourceVersion');
  const phase = str(pvc, 'status', 'phase');
  return {
    conditions,
    ...(requestBytes !== undefined ? { requestBytes } : {}),
    ...(capacityBytes !== undefined ? { capacityBytes } : {}),
    ...(sc ? { storageClass: sc } : {}),
    ...(expand !== undefined ? { allowVolumeExpansion: expand } : {}),
    ...(alloc ? { allocatedResourceStatus: alloc } : {}),
    ...(rv ? { resourceVersion: rv } : {}),
    ...(phase ? { phase } : {}),
  };
}

/** The primary instance name from the Cluster status. */
export function primaryOf(cluster: KubeObject): string | undefined {
  return str(cluster, 'status', 'currentPrimary') ?? str(cluster, 'status', 'targetPrimary');
}

/** Strips fields that only add bulk (managedFields) — and never carry secrets. */
export function slim<T extends KubeObject>(o: T): T {
  const md = get(o, 'metadata');
  if (!isObj(md) || !('managedFields' in md)) return o;
  const { managedFields: _drop, ...rest } = md;
  return { ...o, metadata: rest } as T;
}

/** CloudNativePG's instance manager exits with this code when pg_wal has no room for one more segment. */
export const MISSING_WAL_DISK_SPACE_EXIT_CODE = 4;
