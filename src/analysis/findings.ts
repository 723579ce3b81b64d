/**
 * Findings: what is wrong or worth knowing, ranked, each with the command
 * that fixes or investigates it. Used by `disk status` (exit code) and
 * `diagnose` (the whole list). Thresholds are documented in docs/findings.md.
 */
import {
  archiveHealthy,
  failedAllocation,
  failedResizeCondition,
  filesystemSmallerThanPvc,
  firstPerReasonAndObject,
  formatBytes,
  formatBytesHuman,
  GiB,
  IN_PROGRESS_CONDITIONS,
} from '@cnpg-disk/core';
import type { Severity } from '../model/errors.js';
import { MISSING_WAL_DISK_SPACE_EXIT_CODE } from '../model/kube-objects.js';
import type { ClusterReport, Finding, VolumeReport } from './report.js';

export type { Finding } from './report.js';

/** Percent used at which a volume is a warning / critical finding. */
export const NEAR_FULL_WARNING = 80;
export const NEAR_FULL_CRITICAL = 90;
/** An inactive slot retaining more than this is a warning even without a policy. */
export const SLOT_RETENTION_WARNING = 1n * GiB;
/** `.ready` files (WAL waiting to be archived) above which the backlog is a warning / critical. */
export const READY_BACKLOG_WARNING = 16;
export const READY_BACKLOG_CRITICAL = 100;
/** A Resizing / FileSystemResizePending condition older than this is a stuck resize. */
export const RESIZE_STUCK_AFTER_MS = 10 * 60 * 1000;
/** Failed automatic resizes in status.autoResizeEvents younger than this are reported. */
export const AUTORESIZE_EVENT_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Finding codes about an instance's WAL (what `wal health` judges an instance on). */
export const WAL_FINDING_CODES: ReadonlySet<string> = new Set([
  'ARCHIVE_FAILING',
  'READY_BACKLOG',
  'INACTIVE_SLOT',
  'SLOT_WAL_AT_RISK',
  'WAL_DISK_FULL_EXIT',
  'WAL_UNKNOWN',
]);

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

function volumeFindings(c: ClusterReport, v: VolumeReport, now: number | undefined): Finding[] {
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
        message: `${label} is ${pct.toFixed(1)}% full (${formatBytesHuman(fs.availableBytes)} available)`,
        command: resize,
      });
    } else if (pct > NEAR_FULL_WARNING) {
      out.push({
        severity: 'warning',
        code: 'VOLUME_NEAR_FULL',
        subject,
        message: `${label} is ${pct.toFixed(1)}% full (${formatBytesHuman(fs.availableBytes)} available)`,
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
    if (cap !== undefined && filesystemSmallerThanPvc(cap, fs)) {
      out.push({
        severity: 'warning',
        code: 'FILESYSTEM_SMALLER_THAN_PVC',
        subject,
        message: `the filesystem (${formatBytes(fs.totalBytes)}) is much smaller than the PVC capacity (${formatBytes(cap)}): the filesystem was not grown`,
        command: `kubectl describe pvc ${v.pvcName} -n ${ns}`,
      });
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
  const describe = `kubectl describe pvc ${v.pvcName} -n ${ns}`;
  const failedCond = failedResizeCondition(v.pvc);
  const failedAlloc = failedAllocation(v.pvc);
  if ((failedCond || failedAlloc) && v.decision?.verdict !== 'resize-failed') {
    out.push({
      severity: 'critical',
      code: 'RESIZE_FAILED',
      subject,
      message: `the expansion of ${v.pvcName} failed (${failedCond ? `${failedCond.type}${failedCond.message ? `: ${failedCond.message}` : ''}` : failedAlloc})`,
      command: describe,
    });
  }
  if (now !== undefined) {
    for (const k of v.pvc.conditions) {
      if (!IN_PROGRESS_CONDITIONS.includes(k.type) || k.status !== 'True' || !k.lastTransitionTime) continue;
      const since = Date.parse(k.lastTransitionTime);
      if (Number.isNaN(since) || now - since <= RESIZE_STUCK_AFTER_MS) continue;
      const minutes = Math.floor((now - since) / 60_000);
      out.push({
        severity: fs && fs.percentUsed >= NEAR_FULL_CRITICAL ? 'critical' : 'warning',
        code: 'RESIZE_STUCK',
        subject,
        message: `${v.pvcName} has been ${k.type} for ${minutes} min (since ${k.lastTransitionTime})${k.type === 'FileSystemResizePending' ? ': the filesystem grows only when a pod mounts the volume again' : ''}${k.message ? `: ${k.message}` : ''}`,
        command: describe,
      });
    }
  }
  if (v.pvc.phase === 'Pending') {
    out.push({
      severity: 'warning',
      code: 'PVC_PENDING',
      subject,
      message: `PVC ${v.pvcName} is Pending (not bound to a volume)`,
      command: describe,
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
  const statusByPod = new Map(c.operatorStatus.map((x) => [x.pod, x]));
  const walCommand = `kubectl cnpg wal health ${c.name} -n ${ns}`;
  for (const i of c.instances) {
    const subject = `${ns}/${c.name}/${i.pod}`;
    // Down on exit 4 now, or started again after it but not ready yet; once
    // ready, an old exit 4 in lastState is history, not a finding.
    if (i.walSpaceExhausted || (i.lastExitCode === MISSING_WAL_DISK_SPACE_EXIT_CODE && !i.ready)) {
      out.push({
        severity: 'critical',
        code: 'WAL_DISK_FULL_EXIT',
        subject,
        message: `postgres on ${i.pod} exited with code 4 (disk full)${i.waiting ? `, now ${i.waiting}` : ''}: CloudNativePG will not resize the PVC while the instance is down; patch the PVC directly`,
        // --rescue: works under the default (disabled) policy; one step, limit and budget honoured.
        command: `kubectl cnpg disk resize ${c.name} -n ${ns} --instance ${i.pod} --volume ${c.shape.singleVolume ? 'data' : 'wal'} --rescue --apply`,
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
    const st = statusByPod.get(i.pod);
    const archivingOn = (c.shape.archiving.configured ?? w?.archivingConfigured) !== false;
    let archiveFailing = false;
    if (w?.archiver && archivingOn) {
      const h = archiveHealthy(w.archiver);
      if (!h.healthy) {
        archiveFailing = true;
        out.push({
          severity: 'critical',
          code: 'ARCHIVE_FAILING',
          subject,
          message: `WAL archiving is failing on ${i.pod}: ${h.why}${w.readyFiles !== undefined ? `; ${w.readyFiles} WAL files wait (.ready)` : ''}`,
          command: walCommand,
        });
      }
    } else if (st?.archiveHealthy === false && archivingOn) {
      archiveFailing = true;
      out.push({
        severity: 'critical',
        code: 'ARCHIVE_FAILING',
        subject,
        message: `the operator reports WAL archiving unhealthy on ${i.pod} (status.diskStatus)${w?.readyFiles !== undefined ? `; ${w.readyFiles} WAL files wait (.ready)` : ''}`,
        command: walCommand,
      });
    } else if (
      st?.archiveHealthy === undefined &&
      archivingOn &&
      i.pod === c.primary &&
      c.continuousArchiving?.status === 'False'
    ) {
      // Fallback fact: no source gave the archiver's counters, but the operator
      // judges archiving (of the primary) on the Cluster itself.
      archiveFailing = true;
      const ca = c.continuousArchiving;
      out.push({
        severity: 'critical',
        code: 'ARCHIVE_FAILING',
        subject,
        message: `CloudNativePG reports WAL archiving failing (Cluster condition ContinuousArchiving=False${ca.reason ? `, ${ca.reason}` : ''}${ca.message ? `: ${ca.message}` : ''})${w?.readyFiles !== undefined ? `; ${w.readyFiles} WAL files wait (.ready) on ${i.pod}` : ''}`,
        command: walCommand,
      });
    }
    // Fail closed: an instance no source gave any WAL fact for is not healthy,
    // it is unknown, and says so (the same finding in every command).
    if (!w && st?.archiveHealthy === undefined && st?.inactiveSlots === undefined) {
      const ca = c.continuousArchiving?.status;
      out.push({
        severity: 'warning',
        code: 'WAL_UNKNOWN',
        subject,
        message:
          ca === 'True' && archivingOn
            ? `no source gave WAL facts for ${i.pod}: CloudNativePG reports archiving working (ContinuousArchiving=True), but its .ready backlog and replication slots are unknown`
            : `no source gave WAL facts for ${i.pod}: archiving, the .ready backlog and replication slots are unknown`,
        command: `${walCommand} -v`,
      });
    }
    if (!archiveFailing && w?.readyFiles !== undefined && w.readyFiles > READY_BACKLOG_WARNING && archivingOn) {
      out.push({
        severity: w.readyFiles > READY_BACKLOG_CRITICAL ? 'critical' : 'warning',
        code: 'READY_BACKLOG',
        subject,
        message: `${w.readyFiles} WAL files wait to be archived on ${i.pod} (.ready); archiving is falling behind`,
        command: walCommand,
      });
    }
    for (const s of w?.slots ?? []) {
      if (!s.active || (s.walStatus !== 'unreserved' && s.walStatus !== 'lost')) continue;
      out.push({
        severity: 'warning',
        code: 'SLOT_WAL_AT_RISK',
        subject,
        message: `replication slot ${s.name} on ${i.pod} is ${s.walStatus === 'lost' ? 'past max_slot_wal_keep_size: its WAL is lost and the standby must be re-cloned' : 'unreserved: its WAL will be removed at the next checkpoint'}`,
        command: walCommand,
      });
    }
    if (!w?.slots && st?.inactiveSlots && st.inactiveSlots.length > 0) {
      out.push({
        severity: 'warning',
        code: 'INACTIVE_SLOT',
        subject,
        message: `the operator reports inactive replication slots on ${i.pod}: ${st.inactiveSlots.join(', ')} (retention unknown)`,
        command: walCommand,
      });
    }
    for (const s of w?.slots ?? []) {
      if (s.active) continue;
      const big = s.retainedBytes !== undefined && s.retainedBytes > SLOT_RETENTION_WARNING;
      out.push({
        severity: big || s.walStatus === 'lost' || s.walStatus === 'unreserved' ? 'warning' : 'info',
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

function eventFindings(c: ClusterReport): Finding[] {
  const out: Finding[] = [];
  const volumeEvents = c.warningEvents.filter((e) => VOLUME_EVENT_REASONS.has(e.reason));
  for (const e of firstPerReasonAndObject(volumeEvents)) {
    const obj = `${e.objectKind}/${e.objectName}`;
    out.push({
      severity: 'warning',
      code:
        e.reason === 'VolumeResizeFailed' || e.reason === 'FileSystemResizeFailed'
          ? 'RESIZE_FAILED_EVENT'
          : 'VOLUME_EVENT',
      subject: `${c.namespace}/${c.name}/${e.objectName || e.eventName}`,
      message: `${e.reason} on ${obj}${e.count > 1 ? ` (${e.count}×)` : ''}: ${e.message.slice(0, 300)}`,
      command: `kubectl get events -n ${c.namespace} --field-selector involvedObject.name=${e.objectName}`,
    });
  }
  return out;
}

function clusterFindings(c: ClusterReport, now: number | undefined): Finding[] {
  const out: Finding[] = [];
  const ns = c.namespace;
  const subject = `${ns}/${c.name}`;
  if (c.shape.archiving.configured === false) {
    out.push({
      severity: 'info',
      code: 'ARCHIVING_NOT_CONFIGURED',
      subject,
      message: `${c.name} has no WAL archive (no backup.barmanObjectStore, no WAL-archiver plugin): no point-in-time recovery`,
      command: `kubectl get cluster ${c.name} -n ${ns} -o yaml`,
    });
  }
  const unmeasured = c.volumes.filter((v) => !v.filesystem);
  const rejected = unmeasured.filter((v) => v.unmeasuredReason !== undefined);
  if (unmeasured.length > rejected.length) {
    out.push({
      severity: 'info',
      code: 'NOT_MEASURED',
      subject,
      message: `${unmeasured.length - rejected.length} of ${c.volumes.length} volume(s) could not be measured (no source answered for them)`,
      command: `kubectl cnpg disk status ${c.name} -n ${ns} -v`,
    });
  }
  // Malformed facts are not "no answer": each such volume is unmeasured with its reason.
  for (const v of rejected) {
    out.push({
      severity: 'info',
      code: 'NOT_MEASURED',
      subject: `${subject}/${v.pvcName}`,
      message: `${v.pvcName} is unmeasured: its filesystem facts were rejected (${v.unmeasuredReason ?? ''})`,
      command: `kubectl cnpg disk status ${c.name} -n ${ns} -v`,
    });
  }
  for (const e of c.autoResizeEvents) {
    if (e.result !== 'failed' || !e.time) continue;
    if (now !== undefined && now - Date.parse(e.time) > AUTORESIZE_EVENT_WINDOW_MS) continue;
    out.push({
      severity: 'warning',
      code: 'AUTORESIZE_FAILED',
      subject: `${subject}/${e.pvc ?? e.pod ?? ''}`.replace(/\/$/, ''),
      message: `the operator's automatic resize of ${e.pvc ?? e.pod ?? 'a volume'} failed at ${e.time}${e.reason ? `: ${e.reason}` : ''}`,
      command: `kubectl get cluster ${c.name} -n ${ns} -o jsonpath='{.status.autoResizeEvents}'`,
    });
  }
  return out;
}

/**
 * The instance finding that already reports the fault a WAL-safety block is
 * made of: the failing archive, the .ready backlog (or the failing archive
 * behind it), the inactive slot the engine named.
 */
function faultOfBlock(v: VolumeReport, instance: readonly Finding[], subject: string): Finding | undefined {
  const d = v.decision;
  if (d?.verdict !== 'blocked') return undefined;
  const on = instance.filter((f) => f.subject === subject);
  if (d.reason === 'archive-unhealthy') return on.find((f) => f.code === 'ARCHIVE_FAILING');
  if (d.reason === 'pending-wal') return on.find((f) => f.code === 'READY_BACKLOG' || f.code === 'ARCHIVE_FAILING');
  if (d.reason === 'slot-retention') {
    const slot = d.trace.find((t) => t.check === 'wal-safety' && typeof t.inputs['slot'] === 'string')?.inputs['slot'];
    return on.find((f) => f.code === 'INACTIVE_SLOT' && f.message.includes(` slot ${String(slot)} on `));
  }
  return undefined;
}

const SEVERITY_ORDER: readonly Severity[] = ['info', 'warning', 'critical'];

/**
 * One fault, one finding: a volume whose resize the engine blocked because
 * of a WAL fault an instance finding already reports (failing archive,
 * .ready backlog, inactive slot) gets no RESIZE_BLOCKED finding of its own;
 * the instance finding names the blocked volumes and takes the higher of
 * the two severities.
 */
function oneFindingPerFault(c: ClusterReport, volume: Finding[], instance: Finding[]): Finding[] {
  const blocked = new Map<Finding, { volumes: string[]; severity: Severity }>();
  const kept: Finding[] = [];
  for (const f of volume) {
    const v = c.volumes.find((x) => f.subject === `${c.namespace}/${c.name}/${x.pvcName}`);
    const fault =
      f.code === 'RESIZE_BLOCKED' && v
        ? faultOfBlock(v, instance, `${c.namespace}/${c.name}/${v.instance}`)
        : undefined;
    if (!fault || !v) {
      kept.push(f);
      continue;
    }
    const entry = blocked.get(fault) ?? { volumes: [], severity: fault.severity };
    entry.volumes.push(v.pvcName);
    if (SEVERITY_ORDER.indexOf(f.severity) > SEVERITY_ORDER.indexOf(entry.severity)) entry.severity = f.severity;
    blocked.set(fault, entry);
  }
  const merged = instance.map((f) => {
    const b = blocked.get(f);
    return b
      ? { ...f, severity: b.severity, message: `${f.message}; it blocks the resize of ${b.volumes.join(', ')}` }
      : f;
  });
  return [...kept, ...merged];
}

/**
 * Every finding of one cluster, ranked. `now` (epoch ms) enables the checks
 * that depend on age (stuck resizes, recent failed automatic resizes).
 * Reads only the report: evaluation put in it everything a finding needs.
 */
export function findingsForCluster(c: ClusterReport, now?: number): Finding[] {
  return sortFindings([
    ...oneFindingPerFault(
      c,
      c.volumes.flatMap((v) => volumeFindings(c, v, now)),
      instanceFindings(c),
    ),
    ...clusterFindings(c, now),
    ...eventFindings(c),
    ...c.problems.map((p) => ({
      severity: 'info' as const,
      code: 'OBJECT_PROBLEM',
      subject: `${c.namespace}/${c.name}`,
      message: p,
    })),
  ]);
}
