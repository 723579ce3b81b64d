/**
 * The sibling floor: the autoresizer leaves the Cluster's declared size
 * alone (a GitOps tool would revert it), so CloudNativePG creates a new
 * instance's PVCs at the declared size, which can be smaller than the data
 * its siblings already hold. The rule: a PVC smaller than the largest live
 * PVC of the same role (data, wal, or the same tablespace) in the same
 * Cluster is grown to match, as soon as it appears.
 *
 * Same limits as any automatic resize: never shrink, never above the policy
 * limit (capped there), only when the policy for that volume is enabled, only
 * on a storage class that can expand, never while an expansion of that PVC is
 * in progress, and it spends a budget slot like any engine resize (the caller
 * checks the budget with the ledger, which records `why: sibling-floor`).
 */
import type { VolumeType } from './model.js';

export interface FloorVolume {
  pvcName: string;
  type: VolumeType;
  tablespace?: string;
  /** max(request, capacity) when known. */
  currentBytes?: bigint;
  /** Being deleted, or not bound yet (no capacity): not a sibling to match, but may be grown. */
  live: boolean;
}

export interface FloorDecision {
  pvcName: string;
  /** The size the rule asks for (already capped at the limit). */
  targetBytes: bigint;
  /** The largest sibling of the role that set the floor. */
  siblingPvc: string;
  siblingBytes: bigint;
  /** The target was capped at the policy limit (below the sibling's size). */
  capped: boolean;
}

/** The role key: data, wal, or tablespace/<name>. */
export function roleKey(v: Pick<FloorVolume, 'type' | 'tablespace'>): string {
  return v.type === 'tablespace' ? `tablespace/${v.tablespace ?? ''}` : v.type;
}

/**
 * PVCs of one Cluster that are below their role's floor. `limitOf` gives the
 * policy limit of a PVC (undefined: no limit); PVCs whose size is unknown
 * are never grown (fail closed) and never set a floor.
 */
export function siblingFloor(
  volumes: readonly FloorVolume[],
  limitOf: (pvcName: string) => bigint | undefined,
): FloorDecision[] {
  const largest = new Map<string, { pvc: string; bytes: bigint }>();
  for (const v of volumes) {
    if (!v.live || v.currentBytes === undefined) continue;
    const k = roleKey(v);
    const cur = largest.get(k);
    if (!cur || v.currentBytes > cur.bytes) largest.set(k, { pvc: v.pvcName, bytes: v.currentBytes });
  }
  const out: FloorDecision[] = [];
  for (const v of volumes) {
    if (v.currentBytes === undefined) continue;
    const top = largest.get(roleKey(v));
    if (!top || v.currentBytes >= top.bytes) continue;
    const limit = limitOf(v.pvcName);
    const capped = limit !== undefined && limit < top.bytes;
    const target = capped ? limit : top.bytes;
    if (target <= v.currentBytes) continue;
    out.push({ pvcName: v.pvcName, targetBytes: target, siblingPvc: top.pvc, siblingBytes: top.bytes, capped });
  }
  return out;
}
