/**
 * PVC resize states, each rule once: the engine, the findings and the
 * resize wait all read them from pvc-state.ts. Boundary rows compute their
 * expected values from the rule (10 % and 64 MiB), so a row cannot agree with
 * a wrong threshold by accident.
 */
import { describe, expect, it } from 'vitest';
import {
  FS_MISMATCH_MIN_BYTES,
  FS_MISMATCH_RATIO_PERCENT,
  GiB,
  MiB,
  expansionState,
  failedAllocation,
  failedResizeCondition,
  filesystemSmallerThanPvc,
  inProgressAllocation,
  inProgressResizeCondition,
  type PvcCondition,
} from '@cnpg-disk/core';
import { pvc } from './fixtures.js';

const cond = (type: string, status = 'True', message?: string): PvcCondition => ({
  type,
  status,
  ...(message ? { message } : {}),
});

describe('filesystemSmallerThanPvc', () => {
  const capacity = 10n * GiB;
  const allowed = (capacity * FS_MISMATCH_RATIO_PERCENT) / 100n;
  it('is false up to the allowed gap, true one byte past it', () => {
    expect(filesystemSmallerThanPvc(capacity, { totalBytes: capacity - allowed })).toBe(false);
    expect(filesystemSmallerThanPvc(capacity, { totalBytes: capacity - allowed - 1n })).toBe(true);
  });
  it('needs the gap to exceed the minimum too (small volumes keep a larger share for metadata)', () => {
    const small = 256n * MiB;
    // 25 % smaller but exactly the minimum: not a mismatch; one byte more is.
    expect(filesystemSmallerThanPvc(small, { totalBytes: small - FS_MISMATCH_MIN_BYTES })).toBe(false);
    expect(filesystemSmallerThanPvc(small, { totalBytes: small - FS_MISMATCH_MIN_BYTES - 1n })).toBe(true);
  });
  it('is false without a capacity or without a filesystem (nothing to compare)', () => {
    expect(filesystemSmallerThanPvc(undefined, { totalBytes: 1n })).toBe(false);
    expect(filesystemSmallerThanPvc(capacity, undefined)).toBe(false);
  });
});

describe('conditions and allocated-resource states', () => {
  it('a failed condition counts only when True', () => {
    expect(failedResizeCondition(pvc(GiB, { conditions: [cond('NodeResizeError')] }))?.type).toBe('NodeResizeError');
    expect(failedResizeCondition(pvc(GiB, { conditions: [cond('ControllerResizeError', 'False')] }))).toBeUndefined();
    expect(inProgressResizeCondition(pvc(GiB, { conditions: [cond('Resizing')] }))?.type).toBe('Resizing');
    expect(inProgressResizeCondition(pvc(GiB, { conditions: [cond('Resizing', 'Unknown')] }))).toBeUndefined();
  });
  it('reads both spellings of a failed allocation (Infeasible ≥ 1.31, Failed in the 1.28-1.30 alpha)', () => {
    for (const a of [
      'ControllerResizeInfeasible',
      'NodeResizeInfeasible',
      'ControllerResizeFailed',
      'NodeResizeFailed',
    ]) {
      expect(failedAllocation(pvc(GiB, { allocatedResourceStatus: a }))).toBe(a);
      expect(inProgressAllocation(pvc(GiB, { allocatedResourceStatus: a }))).toBeUndefined();
    }
    expect(failedAllocation(pvc(GiB))).toBeUndefined();
    expect(inProgressAllocation(pvc(GiB, { allocatedResourceStatus: 'NodeResizePending' }))).toBe('NodeResizePending');
    expect(inProgressAllocation(pvc(GiB))).toBeUndefined();
  });
});

describe('expansionState', () => {
  const target = 12n * GiB;
  it('failed: a failed condition (with its message, else reason) or a failed allocation', () => {
    expect(
      expansionState(pvc(10n * GiB, { conditions: [cond('NodeResizeError', 'True', 'disk busy')] }), target),
    ).toEqual({
      state: 'failed',
      detail: 'NodeResizeError: disk busy',
    });
    expect(
      expansionState(
        pvc(10n * GiB, { conditions: [{ type: 'ControllerResizeError', status: 'True', reason: 'Quota' }] }),
        target,
      ),
    ).toEqual({ state: 'failed', detail: 'ControllerResizeError: Quota' });
    expect(expansionState(pvc(10n * GiB, { conditions: [cond('ControllerResizeError')] }), target).detail).toBe(
      'ControllerResizeError: no message',
    );
    expect(expansionState(pvc(10n * GiB, { allocatedResourceStatus: 'NodeResizeInfeasible' }), target)).toEqual({
      state: 'failed',
      detail: 'status.allocatedResourceStatuses.storage is NodeResizeInfeasible',
    });
  });
  it('node: FileSystemResizePending (with or without a message) or a node allocation state', () => {
    expect(
      expansionState(pvc(target, { conditions: [cond('FileSystemResizePending', 'True', 'mount it')] }), target),
    ).toEqual({
      state: 'node',
      detail: 'waiting for the node to grow the filesystem (FileSystemResizePending: mount it)',
    });
    expect(expansionState(pvc(target, { conditions: [cond('FileSystemResizePending')] }), target).detail).toBe(
      'waiting for the node to grow the filesystem (FileSystemResizePending)',
    );
    expect(expansionState(pvc(target, { allocatedResourceStatus: 'NodeResizeInProgress' }), target)).toEqual({
      state: 'node',
      detail: 'status.allocatedResourceStatuses.storage is NodeResizeInProgress',
    });
  });
  it('controller: Resizing, the controller allocation state, or a capacity below the target', () => {
    expect(expansionState(pvc(10n * GiB, { conditions: [cond('Resizing')] }), target).detail).toBe(
      'capacity 10Gi of 12Gi (Resizing): waiting for the storage driver',
    );
    expect(
      expansionState(pvc(10n * GiB, { allocatedResourceStatus: 'ControllerResizeInProgress' }), target).detail,
    ).toBe('capacity 10Gi of 12Gi (ControllerResizeInProgress): waiting for the storage driver');
    expect(expansionState(pvc(10n * GiB), target)).toEqual({
      state: 'controller',
      detail: 'capacity 10Gi of 12Gi: waiting for the storage driver',
    });
    expect(expansionState({ conditions: [] }, target).detail).toBe(
      'capacity - of 12Gi: waiting for the storage driver',
    );
  });
  it('capacity-reached once the capacity is at the target', () => {
    expect(expansionState(pvc(target), target)).toEqual({ state: 'capacity-reached', detail: 'capacity 12Gi' });
  });
});
