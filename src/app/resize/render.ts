/**
 * disk resize, rendering: the plan table, the decision traces and the
 * ResizePlan document.
 */
import { formatBytes, type Decision } from '@cnpg-disk/core';

import type { ExitCode } from '../../model/errors.js';
import { document } from '../../render/printer.js';

import { renderTable, type FitStep } from '../../render/table.js';
import { usageText } from '../../render/common.js';

import { clusterFields, volumeFields, volumeLabel } from '../disk-status.js';
import { snapshotHeader } from '../gather.js';
import {
  type PlanAction,
  type PlanItem,
  type ResizePlan,
  type SpecUpdate,
  largest,
} from '../../actions/resize-plan.js';
import { sanitize } from '../../render/sanitize.js';

// ---------------------------------------------------------------- rendering

export function q(b: bigint | undefined): string {
  return b === undefined ? '-' : formatBytes(b);
}

function verdictText(i: PlanItem): string {
  if (i.action === 'refuse') return i.refusal?.code === 'policy-invalid' ? 'policy-invalid' : 'refused';
  const d = i.volume.decision;
  if (!d) return '-';
  return d.verdict === 'blocked' && d.reason ? `blocked/${d.reason}` : d.verdict;
}

export function reasonText(i: PlanItem): string {
  if (i.refusal) return i.refusal.message;
  return i.volume.decision?.message ?? '-';
}

function resultText(i: PlanItem): string {
  if (!i.result) return '-';
  const w = i.wait ? ` (${i.wait.status === 'done' ? 'expanded' : `wait: ${i.wait.status}`})` : '';
  return `${i.result.status}${w}`;
}

/**
 * The plan table on a terminal narrower than it: the step goes first, then
 * the reason is cut (the findings and `-o wide` keep it whole).
 */
export const PLAN_FIT_STEPS: readonly FitStep[] = [{ drop: 'STEP' }];

export function planTable(plan: ResizePlan, wide: boolean, withResult: boolean, width?: number): string {
  const head = ['INSTANCE', 'VOLUME', 'CURRENT', 'NEW', 'STEP', 'VERDICT', 'REASON'];
  if (wide) head.splice(6, 0, 'PVC', 'STORAGECLASS', 'EXPAND', 'USE%', 'POLICY', 'BUDGET');
  if (withResult) head.push('RESULT');
  const rows = plan.items.map((i) => {
    const v = i.volume;
    const d = v.decision;
    const current = d?.currentBytes ?? largest(v.pvc.requestBytes, v.pvc.capacityBytes);
    const row = [
      v.instance,
      volumeLabel(v),
      q(current),
      q(d?.verdict === 'resize' ? d.newBytes : undefined),
      q(d?.verdict === 'resize' ? d.stepBytes : undefined),
      verdictText(i),
    ];
    if (wide) {
      const b = d?.budget;
      row.push(
        v.pvcName,
        v.pvc.storageClass ?? '-',
        v.pvc.allowVolumeExpansion === undefined ? '?' : v.pvc.allowVolumeExpansion ? 'yes' : 'no',
        usageText(v),
        `${v.policy.enabled ? 'on' : 'off'} (${v.policy.source})`,
        b ? `${b.remaining}/${b.max}` : '-',
      );
    }
    row.push(reasonText(i));
    if (withResult) row.push(resultText(i));
    return row;
  });
  return renderTable(head, rows, width === undefined || wide ? undefined : { width, steps: PLAN_FIT_STEPS });
}

export function traceText(plan: ResizePlan): string {
  return sanitize(traceLines(plan), { keepNewlines: true });
}

function traceLines(plan: ResizePlan): string {
  let out = '';
  for (const i of plan.items) {
    const d = i.result?.freshDecision ?? i.volume.decision;
    if (!d) continue;
    out += `\n${i.volume.pvcName} (${volumeLabel(i.volume)}): ${d.verdict}${i.walRecheck?.outcome === 'changed' ? ' (after reading the WAL facts again)' : i.result?.freshDecision ? ' (after re-reading the PVC)' : ''}\n`;
    for (const t of d.trace) out += `  ${t.outcome.padEnd(4)} ${t.check}: ${t.message}\n`;
    for (const w of d.warnings) out += `  warning: ${w.message}\n`;
  }
  return out;
}

function decisionDoc(d: Decision | undefined): Record<string, unknown> | undefined {
  if (!d) return undefined;
  return {
    verdict: d.verdict,
    reason: d.reason,
    message: d.message,
    currentBytes: d.currentBytes,
    newBytes: d.newBytes,
    stepBytes: d.stepBytes,
    percentUsed: d.percentUsed,
    walSafetyApplies: d.walSafetyApplies,
    budget: d.budget,
    warnings: d.warnings,
    trace: d.trace,
  };
}

export function planDocument(
  plan: ResizePlan,
  mode: 'preview' | 'apply',
  specUpdates: SpecUpdate[] | undefined,
  exitCode: ExitCode,
): Record<string, unknown> {
  const { snapshot, report } = plan;
  const count = (a: PlanAction) => plan.items.filter((i) => i.action === a).length;
  return document('ResizePlan', {
    mode,
    ...snapshotHeader(snapshot, report.problems),
    cluster: clusterFields(report),
    policyIssues: report.policyIssues,
    summary: {
      volumes: plan.items.length,
      resize: count('resize'),
      refused: count('refuse'),
      nothingToDo: count('none'),
      held: count('hold'),
      failed: count('failed'),
      unknown: count('unknown'),
      ...(mode === 'apply'
        ? { applied: plan.items.filter((i) => i.result?.status === 'applied').length, exitCode }
        : { exitCode }),
    },
    volumes: plan.items.map((i) => {
      const v = i.volume;
      return {
        ...volumeFields(v),
        resourceVersion: v.pvc.resourceVersion,
        filesystem: v.filesystem,
        walSpaceExhausted: v.walSpaceExhausted,
        policy: v.policy,
        action: i.action,
        refusal: i.refusal,
        decision: decisionDoc(v.decision),
        lastResizes: v.lastResizes,
        ledgerProblem: v.ledgerProblem,
        events:
          i.events.length > 0 ? i.events.map(({ type, reason, message }) => ({ type, reason, message })) : undefined,
        result: i.result && {
          status: i.result.status,
          message: i.result.message,
          attempts: i.result.attempts,
          conflicts: i.result.conflicts,
          fromBytes: i.result.fromBytes,
          toBytes: i.result.toBytes,
          ledger: i.result.ledger,
          freshDecision: decisionDoc(i.result.freshDecision),
        },
        walRecheck: i.walRecheck,
        wait: i.wait,
      };
    }),
    specUpdates,
  });
}
