/**
 * Where a PVC's expansion stands, read from its status: the resize
 * conditions, status.allocatedResourceStatuses, and the gap between the
 * filesystem and the capacity. Each rule is written here once; the engine,
 * the findings and the resize wait all read it from here.
 */
import type { FilesystemFacts, PvcCondition, PvcFacts } from './model.js';
import { formatBytes, MiB } from './quantity.js';

/**
 * How much smaller than the PVC capacity a filesystem must be before we call
 * it an unfinished expansion: filesystems keep part of the device for
 * metadata (ext4 journal and inode tables: about 2-5%; xfs: 1-2%), so a small
 * gap is normal. More than 10% (and at least 64 MiB) is not.
 */
export const FS_MISMATCH_RATIO_PERCENT = 10n;
export const FS_MISMATCH_MIN_BYTES = 64n * MiB;

/** Resize conditions of a PVC that mean an expansion has not finished. */
export const IN_PROGRESS_CONDITIONS: readonly string[] = ['Resizing', 'FileSystemResizePending'];
/** status.allocatedResourceStatuses.storage values of an unfinished expansion. */
export const IN_PROGRESS_ALLOCATED: readonly string[] = [
  'ControllerResizeInProgress',
  'NodeResizePending',
  'NodeResizeInProgress',
];
/** The allocated-resource states that mean the node (not the storage driver) has the next move. */
export const NODE_ALLOCATED: readonly string[] = ['NodeResizePending', 'NodeResizeInProgress'];
/** Kubernetes ≥ 1.31 says Infeasible; the alpha of 1.28-1.30 said Failed. */
export const FAILED_ALLOCATED: readonly string[] = [
  'ControllerResizeInfeasible',
  'NodeResizeInfeasible',
  'ControllerResizeFailed',
  'NodeResizeFailed',
];
export const FAILED_CONDITIONS: readonly string[] = ['ControllerResizeError', 'NodeResizeError'];

function conditionOn(pvc: Pick<PvcFacts, 'conditions'>, types: readonly string[]): PvcCondition | undefined {
  return pvc.conditions.find((c) => types.includes(c.type) && c.status === 'True');
}

/** A true ControllerResizeError / NodeResizeError condition. */
export function failedResizeCondition(pvc: Pick<PvcFacts, 'conditions'>): PvcCondition | undefined {
  return conditionOn(pvc, FAILED_CONDITIONS);
}

/** A true Resizing / FileSystemResizePending condition. */
export function inProgressResizeCondition(pvc: Pick<PvcFacts, 'conditions'>): PvcCondition | undefined {
  return conditionOn(pvc, IN_PROGRESS_CONDITIONS);
}

/** status.allocatedResourceStatuses.storage when it says the expansion failed. */
export function failedAllocation(pvc: Pick<PvcFacts, 'allocatedResourceStatus'>): string | undefined {
  const a = pvc.allocatedResourceStatus;
  return a !== undefined && FAILED_ALLOCATED.includes(a) ? a : undefined;
}

/** status.allocatedResourceStatuses.storage when it says the expansion is under way. */
export function inProgressAllocation(pvc: Pick<PvcFacts, 'allocatedResourceStatus'>): string | undefined {
  const a = pvc.allocatedResourceStatus;
  return a !== undefined && IN_PROGRESS_ALLOCATED.includes(a) ? a : undefined;
}

/**
 * The filesystem is clearly smaller than the PVC capacity (more than
 * FS_MISMATCH_RATIO_PERCENT and more than FS_MISMATCH_MIN_BYTES): the volume
 * was grown but its filesystem was not.
 */
export function filesystemSmallerThanPvc(
  capacityBytes: bigint | undefined,
  fs: Pick<FilesystemFacts, 'totalBytes'> | undefined,
): boolean {
  if (capacityBytes === undefined || fs === undefined) return false;
  const gap = capacityBytes - fs.totalBytes;
  return gap > (capacityBytes * FS_MISMATCH_RATIO_PERCENT) / 100n && gap > FS_MISMATCH_MIN_BYTES;
}

export type ExpansionState =
  | { state: 'failed'; detail: string }
  | { state: 'controller' | 'node'; detail: string }
  | { state: 'capacity-reached'; detail: string };

/** Where a PVC's expansion to `target` stands, from its status alone. */
export function expansionState(pvc: PvcFacts, target: bigint): ExpansionState {
  const failed = failedResizeCondition(pvc);
  if (failed) return { state: 'failed', detail: `${failed.type}: ${failed.message ?? failed.reason ?? 'no message'}` };
  const alloc = pvc.allocatedResourceStatus;
  const failedAlloc = failedAllocation(pvc);
  if (failedAlloc) return { state: 'failed', detail: `status.allocatedResourceStatuses.storage is ${failedAlloc}` };
  const capacity = pvc.capacityBytes;
  const fsPending = conditionOn(pvc, ['FileSystemResizePending']);
  if (fsPending || (alloc && NODE_ALLOCATED.includes(alloc))) {
    return {
      state: 'node',
      detail: fsPending
        ? `waiting for the node to grow the filesystem (FileSystemResizePending${fsPending.message ? `: ${fsPending.message}` : ''})`
        : `status.allocatedResourceStatuses.storage is ${alloc}`,
    };
  }
  const resizing = conditionOn(pvc, ['Resizing']);
  if (resizing || alloc === 'ControllerResizeInProgress' || capacity === undefined || capacity < target) {
    return {
      state: 'controller',
      detail: `capacity ${capacity === undefined ? '-' : formatBytes(capacity)} of ${formatBytes(target)}${resizing ? ' (Resizing)' : alloc ? ` (${alloc})` : ''}: waiting for the storage driver`,
    };
  }
  return { state: 'capacity-reached', detail: `capacity ${formatBytes(capacity)}` };
}
