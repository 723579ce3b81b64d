/**
 * disk resize --update-spec: the Cluster's declared sizes raised to the
 * PVCs' new sizes, with a resourceVersion precondition.
 */
import { formatBytes, parseBytes, type VolumeType } from '@cnpg-disk/core';

import { arr, get, isObj, str } from '../../model/kube-objects.js';

import { KubeApiError } from '../../kube/errors.js';
import { getCluster, patchClusterSpec } from '../../kube/pvc-write.js';

import type { KubeObject } from '../../model/snapshot.js';
import { volumeLabel } from '../disk-status.js';
import { type ResizePlan, type SpecUpdate, largest } from './plan.js';
import { type ApplyContext, apiMessage } from './apply.js';

// ---------------------------------------------------------------- spec update

interface RoleTarget {
  role: string;
  type: VolumeType;
  tablespace?: string;
  bytes: bigint;
}

/** Per resized role: the largest PVC of that role (after the writes). */
export function roleTargets(plan: ResizePlan): RoleTarget[] {
  const applied = plan.items.filter((i) => i.result?.status === 'applied');
  const newSize = new Map(applied.map((i) => [i.volume.pvcName, i.result?.toBytes]));
  const out = new Map<string, RoleTarget>();
  for (const i of applied) {
    const v = i.volume;
    const role = volumeLabel(v);
    if (out.has(role)) continue;
    let bytes = 0n;
    for (const o of plan.report.volumes) {
      if (o.type !== v.type || o.tablespace !== v.tablespace) continue;
      const size = largest(newSize.get(o.pvcName), largest(o.pvc.requestBytes, o.pvc.capacityBytes)) ?? 0n;
      if (size > bytes) bytes = size;
    }
    out.set(role, { role, type: v.type, ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}), bytes });
  }
  return [...out.values()];
}

function specSizeOf(cluster: KubeObject, t: RoleTarget): { field: string; text?: string; index?: number } {
  const spec = get(cluster, 'spec');
  if (t.type === 'data') return { field: 'spec.storage.size', text: str(spec, 'storage', 'size') };
  if (t.type === 'wal') return { field: 'spec.walStorage.size', text: str(spec, 'walStorage', 'size') };
  const index = arr(spec, 'tablespaces').findIndex((x) => str(x, 'name') === t.tablespace);
  if (index < 0) return { field: `spec.tablespaces[name=${t.tablespace ?? ''}]` };
  return {
    field: `spec.tablespaces[${index}].storage.size`,
    text: str(spec, 'tablespaces', index, 'storage', 'size'),
    index,
  };
}

/** Compares the Cluster's sizes with the targets; returns the updates and the spec merge patch. */
export function specChanges(
  cluster: KubeObject,
  targets: RoleTarget[],
): { updates: SpecUpdate[]; patch: Record<string, unknown> | undefined } {
  const updates: SpecUpdate[] = [];
  const patch: Record<string, unknown> = {};
  let tablespaces: unknown[] | undefined;
  for (const t of targets) {
    const s = specSizeOf(cluster, t);
    const base = { role: t.role, field: s.field, toBytes: t.bytes };
    if (s.text === undefined) {
      updates.push({
        ...base,
        status: 'skipped',
        message: `${s.field} is not set (a pvcTemplate?); not changed`,
      });
      continue;
    }
    let from: bigint;
    try {
      from = parseBytes(s.text);
    } catch {
      updates.push({ ...base, status: 'skipped', message: `${s.field} (${s.text}) is not a quantity; not changed` });
      continue;
    }
    if (from >= t.bytes) {
      updates.push({
        ...base,
        fromBytes: from,
        status: 'unchanged',
        message: `${s.field} is already ${s.text}`,
      });
      continue;
    }
    const size = formatBytes(t.bytes);
    updates.push({
      ...base,
      fromBytes: from,
      status: 'updated',
      message: `${s.field} ${s.text} → ${size}`,
    });
    if (t.type === 'data') patch['storage'] = { size };
    else if (t.type === 'wal') patch['walStorage'] = { size };
    else {
      // A merge patch replaces lists whole: send the fresh list with the one size changed
      // (safe: the resourceVersion precondition rejects it if the list changed meanwhile).
      tablespaces ??= structuredClone(arr(get(cluster, 'spec'), 'tablespaces'));
      const entry = tablespaces[s.index as number];
      if (isObj(entry)) {
        const storage = isObj(entry['storage']) ? entry['storage'] : {};
        entry['storage'] = { ...storage, size };
      }
    }
  }
  if (tablespaces) patch['tablespaces'] = tablespaces;
  return { updates, patch: Object.keys(patch).length > 0 ? patch : undefined };
}

/** --update-spec: raises the Cluster's sizes to the largest PVC of each resized role, never lowers them. */
export async function updateClusterSpec(plan: ResizePlan, ctx: ApplyContext): Promise<SpecUpdate[]> {
  const targets = roleTargets(plan);
  if (targets.length === 0) return [];
  const { client } = ctx;
  const { namespace, name } = plan.report;
  let cluster = plan.clusterSnapshot.cluster;
  let last: SpecUpdate[] = [];
  for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
    const { updates, patch } = specChanges(cluster, targets);
    last = updates;
    if (!patch) return updates;
    const rv = str(cluster, 'metadata', 'resourceVersion');
    const failed = (e: unknown) =>
      updates.map((u) =>
        u.status === 'updated'
          ? { ...u, status: 'failed' as const, message: `${u.message} failed: ${apiMessage(e)}` }
          : u,
      );
    try {
      if (!rv) throw new Error('the Cluster has no resourceVersion');
      await patchClusterSpec(client, namespace, name, rv, patch);
      return updates;
    } catch (e) {
      if (!(e instanceof KubeApiError && e.isConflict && attempt < ctx.maxAttempts)) return failed(e);
    }
    try {
      cluster = await getCluster(client, namespace, name);
    } catch (e) {
      return failed(e);
    }
  }
  return last;
}
