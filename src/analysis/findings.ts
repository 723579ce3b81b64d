/**
 * Findings: what is wrong or worth knowing, ranked, each with the command
 * that fixes or investigates it. Used by `disk status` (exit code) and
 * `diagnose` (the whole list). Thresholds are documented in docs/findings.md.
 */
import {
  archiveHealthy,
  formatBytes,
  formatBytesHuman,
  FS_MISMATCH_MIN_BYTES,
  FS_MISMATCH_RATIO_PERCENT,
  GiB,
} from '@cnpg-disk/core';
import type { Severity } from '../cli/errors.js';
import type { ClusterSnapshot, KubeObject } from '../snapshot/types.js';
import type { ClusterReport, VolumeReport } from './evaluate.js';
import { get, nameOf, str } from './kube-objects.js';

export interface Finding {
  severity: Severity;
  /** Stable code scripts can match on. */
  code: string;
  /** namespace/cluster[/pod-or-pvc] */
  subject: string;
  message: string;
  /** The command that fixes or investigates it. */
  command?: string;
}

/** Percent used at which a volume is a warning / critical finding. */
export const NEAR_FULL_WARNING = 80;
export const NEAR_FULL_CRITICAL = 90;
/** An inactive slot retaining more than this is a warning even without a policy. */
export const SLOT_RETENTION_WARNING = 1n * GiB;

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export function sortFindings(f: Finding[]): Finding[] {
  return [...f].sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.subject.localeCompare(b.subject) ||
      a.code.localeCompare(b.code),
  );
}

/** Event reasons that mean a volume cannot attach, mount or grow. */
const VOLUME_EVENT_REASONS = new Set([
  'FailedAttachVolume',
  'FailedMount',
  'VolumeResizeFailed',
  'FileSystemResizeFailed',
  'FailedMapVolume',
  'ProvisioningFailed',
  'ExternalExpanding',
]);

function volumeFindings(c: ClusterReport, v: VolumeReport): Finding[] {
  const out: Finding[] = [];
  const ns = c.namespace;
  const subject = `${ns}/${c.name}/${v.pvcName}`;
  const resize = `kubectl cnpg disk resize ${c.name} -n ${ns} --instance ${v.instance} --volume ${v.type}${v.tablespace ? ` --tablespace ${v.tablespace}` : ''}`;
  const fs = v.filesystem;
  if (fs) {
    const pct = fs.percentUsed;
    const label = `${v.type}${v.tablespace ? ` ${v.tablespace}` : ''} volume ${v.pvcName}`;
    if (fs.availableBytes === 0n || pct >= NEAR_FULL_CRITICAL) {
      out.push({
        severity: 'critical',
        code: 'VOLUME_NEAR_FULL',
        subject,
        message: `${label} is ${pct}% full (${formatBytesHuman(fs.availableBytes)} available)`,
        command: resize,
      });
    } else if (pct > NEAR_FULL_WARNING) {
      out.push({
        severity: 'warning',
        code: 'VOLUME_NEAR_FULL',
        subject,
        message: `${label} is ${pct}% full (${formatBytesHuman(fs.availableBytes)} available)`,
        command: resize,
      });
    }
    if (fs.inodesTotal !== undefined && fs.inodesFree !== undefined && fs.inodesTotal > 0n) {
      const inodePct = Number(((fs.inodesTotal - fs.inodesFree) * 1000n) / fs.inodesTotal) / 10;
      if (inodePct >= NEAR_FULL_CRITICAL) {
        out.push({
          severity: 'critical',
          code: 'INODES_NEAR_FULL',
          subject,
          message: `${label} has used ${inodePct}% of its inodes`,
          command: resize,
        });
      } else if (inodePct > NEAR_FULL_WARNING) {
        out.push({
          severity: 'warning',
          code: 'INODES_NEAR_FULL',
          subject,
          message: `${label} has used ${inodePct}% of its inodes`,
          command: resize,
        });
      }
    }
    const cap = v.pvc.capacityBytes;
    if (cap !== undefined) {
      const gap = cap - fs.totalBytes;
      if (gap > (cap * FS_MISMATCH_RATIO_PERCENT) / 100n && gap > FS_MISMATCH_MIN_BYTES) {
        out.push({
          severity: 'warning',
          code: 'FILESYSTEM_SMALLER_THAN_PVC',
          subject,
          message: `the filesystem (${formatBytes(fs.totalBytes)}) is much smaller than the PVC capacity (${formatBytes(cap)}): the filesystem was not grown`,
          command: `kubectl describe pvc ${v.pvcName} -n ${ns}`,
        });
      }
    }
  }
  if (
    v.pvc.requestBytes !== undefined &&
    v.pvc.capacityBytes !== undefined &&
    v.pvc.requestBytes > v.pvc.capacityBytes
  ) {
    out.push({
      severity: 'info',
      code: 'RESIZE_IN_PROGRESS',
      subject,
      message: `requested ${formatBytes(v.pvc.requestBytes)}, capacity still ${formatBytes(v.pvc.capacityBytes)}`,
      command: `kubectl describe pvc ${v.pvcName} -n ${ns}`,
    });
  }
  if (v.pvc.allowVolumeExpansion === false) {
    out.push({
      severity: v.policy.enabled || (fs && fs.percentUsed > NEAR_FULL_WARNING) ? 'warning' : 'info',
      code: 'STORAGE_CLASS_NOT_EXPANDABLE',
      subject,
      message: `storage class ${v.pvc.storageClass} does not allow volume expansion: this volume cannot be grown in place`,
      command: `kubectl get storageclass ${v.pvc.storageClass} -o yaml`,
    });
  }
  if (v.policy.errors.length > 0) {
    out.push({
      severity: 'warning',
      code: 'POLICY_INVALID',
      subject,
      message: `the ${v.policy.source} policy for this volume is invalid: ${v.policy.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      command: `kubectl cnpg disk policy validate --cluster ${c.name} -n ${ns}`,
    });
  }
  if (v.ledgerProblem) {
    out.push({
      severity: 'warning',
      code: 'LEDGER_UNREADABLE',
      subject,
      message: `the resize ledger annotation cannot be read (${v.ledgerProblem}); automatic resizes are held back`,
      command: `kubectl get pvc ${v.pvcName} -n ${ns} -o yaml`,
    });
  }
  const d = v.decision;
  if (d) {
    if (d.verdict === 'resize') {
      out.push({
        severity: 'warning',
        code: 'RESIZE_RECOMMENDED',
        subject,
        message: d.message,
        command: `${resize} --apply`,
      });
    } else if (d.verdict === 'resize-failed') {
      out.push({
        severity: 'critical',
        code: 'RESIZE_FAILED',
        subject,
        message: d.message,
        command: `kubectl describe pvc ${v.pvcName} -n ${ns}`,
      });
    } else if (d.verdict === 'blocked') {
      const code = d.reason === 'rate-limit' ? 'BUDGET_EXHAUSTED' : 'RESIZE_BLOCKED';
      out.push({
        severity: 'warning',
        code,
        subject,
        message: d.message,
        command: d.walSafetyApplies ? `kubectl cnpg wal health ${c.name} -n ${ns}` : resize,
      });
    } else if (d.verdict === 'at-limit') {
      out.push({ severity: 'warning', code: 'AT_LIMIT', subject, message: d.message, command: resize });
    }
  }
  return out;
}

function instanceFindings(c: ClusterReport): Finding[] {
  const out: Finding[] = [];
  const ns = c.namespace;
  for (const i of c.instances) {
    const subject = `${ns}/${c.name}/${i.pod}`;
    if (i.lastExitCode === 4) {
      out.push({
        severity: 'critical',
        code: 'WAL_DISK_FULL_EXIT',
        subject,
        message: `postgres on ${i.pod} exited with code 4 (disk full)${i.waiting ? `, now ${i.waiting}` : ''}: CloudNativePG will not resize the PVC while the instance is down; patch the PVC directly`,
        command: `kubectl cnpg disk resize ${c.name} -n ${ns} --instance ${i.pod} --volume ${c.shape.singleVolume ? 'data' : 'wal'} --apply`,
      });
    } else if (i.waiting === 'CrashLoopBackOff') {
      out.push({
        severity: 'critical',
        code: 'INSTANCE_CRASH_LOOP',
        subject,
        message: `${i.pod} is crash-looping (${i.restarts} restarts${i.lastExitCode !== undefined ? `, last exit code ${i.lastExitCode}` : ''})`,
        command: `kubectl logs ${i.pod} -n ${ns} -c postgres --previous`,
      });
    }
    if (i.phase === 'Pending') {
      out.push({
        severity: 'warning',
        code: 'POD_PENDING',
        subject,
        message: `${i.pod} is Pending`,
        command: `kubectl describe pod ${i.pod} -n ${ns}`,
      });
    }
    const w = i.wal;
    if (w?.archiver && (c.shape.archiving.configured ?? w.archivingConfigured) !== false) {
      const h = archiveHealthy(w.archiver);
      if (!h.healthy) {
        out.push({
          severity: 'critical',
          code: 'ARCHIVE_FAILING',
          subject,
          message: `WAL archiving is failing on ${i.pod}: ${h.why}${w.readyFiles !== undefined ? `; ${w.readyFiles} WAL files wait (.ready)` : ''}`,
          command: `kubectl cnpg wal health ${c.name} -n ${ns}`,
        });
      }
    }
    for (const s of w?.slots ?? []) {
      if (s.active) continue;
      const big = s.retainedBytes !== undefined && s.retainedBytes > SLOT_RETENTION_WARNING;
      out.push({
        severity: big || s.walStatus === 'lost' ? 'warning' : 'info',
        code: 'INACTIVE_SLOT',
        subject,
        message: `inactive ${s.type} replication slot ${s.name} on ${i.pod}${s.retainedBytes !== undefined ? ` retains ${formatBytesHuman(s.retainedBytes)} of WAL` : ''}${s.walStatus ? ` (wal_status ${s.walStatus})` : ''}`,
        command: `kubectl cnpg wal health ${c.name} -n ${ns}`,
      });
    }
    for (const e of i.errors) {
      out.push({ severity: 'info', code: 'MEASUREMENT_FAILED', subject, message: e });
    }
  }
  return out;
}

function eventFindings(c: ClusterReport, cs: ClusterSnapshot): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const e of cs.events) {
    const reason = str(e, 'reason') ?? '';
    if (str(e, 'type') !== 'Warning' || !VOLUME_EVENT_REASONS.has(reason)) continue;
    const obj = `${str(e, 'involvedObject', 'kind') ?? ''}/${str(e, 'involvedObject', 'name') ?? ''}`;
    const key = `${reason}|${obj}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const count = Number(get(e, 'count') ?? 1) || 1;
    out.push({
      severity: 'warning',
      code:
        reason === 'VolumeResizeFailed' || reason === 'FileSystemResizeFailed' ? 'RESIZE_FAILED_EVENT' : 'VOLUME_EVENT',
      subject: `${c.namespace}/${c.name}/${str(e, 'involvedObject', 'name') ?? nameOf(e)}`,
      message: `${reason} on ${obj}${count > 1 ? ` (${count}×)` : ''}: ${(str(e, 'message') ?? '').slice(0, 300)}`,
      command: `kubectl get events -n ${c.namespace} --field-selector involvedObject.name=${str(e, 'involvedObject', 'name') ?? ''}`,
    });
  }
  return out;
}

export function findingsForCluster(c: ClusterReport, cs: ClusterSnapshot, _storageClasses: KubeObject[]): Finding[] {
  return sortFindings([
    ...c.volumes.flatMap((v) => volumeFindings(c, v)),
    ...instanceFindings(c),
    ...eventFindings(c, cs),
    ...c.problems.map((p) => ({
      severity: 'info' as const,
      code: 'OBJECT_PROBLEM',
      subject: `${c.namespace}/${c.name}`,
      message: p,
    })),
  ]);
}
