/**
 * disk resize, the apply step: one guarded write per PVC (the new request,
 * the ledger entry, the resourceVersion the decision was made on); on 409 a
 * fresh read and a fresh decision. Then the Kubernetes Events.
 */
import {
  addLedgerEntry,
  alreadyRecorded,
  decide,
  decisionInput,
  eventsForAppliedResize,
  eventsForDecision,
  formatBytes,
  LEDGER_ANNOTATION,
  parseLedger,
  serializeLedger,
  type Decision,
  type ResizeEvent,
} from '@cnpg-disk/core';

import type { IOStreams } from '../../cli/io.js';
import { type ClusterReport } from '../../analysis/evaluate.js';
import { annotations, pvcFacts, str } from '../../model/kube-objects.js';
import type { KubeClient } from '../../kube/client.js';
import { KubeApiError } from '../../kube/errors.js';
import { createPvcEvent, getPvc, listEventsFor, patchPvcResize } from '../../kube/pvc-write.js';

import type { KubeObject } from '../../model/snapshot.js';
import { type ApplyResult, type PlanItem, type ResizePlan, refusalFor } from './plan.js';

// ---------------------------------------------------------------- apply

export interface ApplyContext {
  client: KubeClient;
  now: () => Date;
  storageClasses: KubeObject[];
  report: ClusterReport;
  forceUnknownStorageClass: boolean;
  maxAttempts: number;
}

export function apiMessage(e: unknown): string {
  if (e instanceof KubeApiError) return `${e.status ?? e.reason ?? 'error'}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Performs one planned resize: one merge patch with the new request, the
 * ledger entry and the resourceVersion precondition. On 409 the PVC is read
 * again and the decision made again from its fresh facts; the write is
 * retried only when that decision is still the planned resize.
 */
export async function applyResize(item: PlanItem, ctx: ApplyContext): Promise<ApplyResult> {
  const v = item.volume;
  const planned = v.decision;
  const policy = v.resolvedPolicy;
  if (!planned || planned.verdict !== 'resize' || planned.newBytes === undefined || !policy) {
    return { status: 'not-applied', message: 'nothing planned for this volume', attempts: 0, conflicts: 0 };
  }
  const { client } = ctx;
  let raw = item.pvcObject;
  let decision = planned;
  let conflicts = 0;
  let freshDecision: Decision | undefined;
  for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
    const now = ctx.now().getTime();
    const facts = pvcFacts(raw, ctx.storageClasses, []);
    const ledger = parseLedger(annotations(raw)[LEDGER_ANNOTATION]);
    if (attempt > 1) {
      // Decide again: the fresh request, capacity, conditions and ledger.
      decision = decide(
        decisionInput(
          {
            volume: v,
            cluster: ctx.report.shape,
            policy,
            pvc: facts,
            filesystem: v.filesystem,
            ledger,
            walHealth: item.walHealth,
            walSpaceExhausted: v.walSpaceExhausted,
          },
          now,
        ),
      );
      freshDecision = decision;
      const base = { attempts: attempt - 1, conflicts, freshDecision };
      if (decision.verdict !== 'resize' || decision.newBytes === undefined) {
        return {
          status: 'not-applied',
          message: `the PVC changed while this run was deciding (another run or a person?); read again, it is ${decision.verdict}: ${decision.message}`,
          ...base,
        };
      }
      if (decision.newBytes !== planned.newBytes) {
        return {
          status: 'not-applied',
          message: `the PVC changed while this run was deciding; the engine now plans ${formatBytes(decision.currentBytes ?? 0n)} → ${formatBytes(decision.newBytes)} instead of ${formatBytes(planned.newBytes)}, which was not the plan shown; run again`,
          ...base,
        };
      }
    }
    const refusal = refusalFor(v.pvcName, decision, facts, policy, {
      forceUnknownStorageClass: ctx.forceUnknownStorageClass,
    });
    if (refusal) {
      return {
        status: 'not-applied',
        message: refusal.message,
        attempts: attempt - 1,
        conflicts,
        ...(freshDecision ? { freshDecision } : {}),
      };
    }
    const rv = facts.resourceVersion;
    if (!rv) {
      return {
        status: 'failed',
        message: `${v.pvcName} has no resourceVersion, so the write cannot be made safe against concurrent changes`,
        attempts: attempt - 1,
        conflicts,
      };
    }
    const fromBytes = decision.currentBytes as bigint;
    const toBytes = decision.newBytes as bigint;
    const ledgerText = serializeLedger(
      addLedgerEntry(ledger, { at: new Date(now).toISOString(), fromBytes, toBytes, by: 'engine' }, now),
    );
    try {
      const updated = await patchPvcResize(client, v.namespace, v.pvcName, {
        resourceVersion: rv,
        storage: formatBytes(toBytes),
        annotations: { [LEDGER_ANNOTATION]: ledgerText },
      });
      return {
        status: 'applied',
        message: `resized ${formatBytes(fromBytes)} → ${formatBytes(toBytes)}${conflicts ? ` after ${conflicts} conflict(s)` : ''}`,
        attempts: attempt,
        conflicts,
        fromBytes,
        toBytes,
        ledger: ledgerText,
        pvcObject: updated,
        ...(freshDecision ? { freshDecision } : {}),
      };
    } catch (e) {
      if (e instanceof KubeApiError && e.isConflict) {
        conflicts++;
        try {
          raw = await getPvc(client, v.namespace, v.pvcName);
        } catch (g) {
          return {
            status: 'failed',
            message: `the write conflicted and re-reading ${v.pvcName} failed (${apiMessage(g)})`,
            attempts: attempt,
            conflicts,
          };
        }
        continue;
      }
      const forbidden = e instanceof KubeApiError && e.isForbidden;
      const rbac = forbidden && /cannot patch/i.test(e.message);
      return {
        status: 'failed',
        message: `the API server refused the patch (${apiMessage(e)})${rbac ? `; grant "patch persistentvolumeclaims" in namespace ${v.namespace}` : ''}`,
        attempts: attempt,
        conflicts,
      };
    }
  }
  return {
    status: 'not-applied',
    message: `gave up after ${conflicts} conflicting writes in a row: ${v.pvcName} keeps changing; run again`,
    attempts: ctx.maxAttempts,
    conflicts,
    ...(freshDecision ? { freshDecision } : {}),
  };
}

// ---------------------------------------------------------------- events

export function eventsFor(i: PlanItem): ResizeEvent[] {
  const v = i.volume;
  if (i.result?.status === 'applied') {
    const d = i.result.freshDecision ?? v.decision;
    return d && v.resolvedPolicy ? eventsForAppliedResize(v, d, v.resolvedPolicy) : [];
  }
  const d = i.result?.freshDecision ?? v.decision;
  return d && i.action !== 'refuse' ? eventsForDecision(v, d) : [];
}

export async function createEvents(client: KubeClient, plan: ResizePlan, now: Date, io: IOStreams): Promise<void> {
  for (const i of plan.items) {
    if (i.events.length === 0) continue;
    const v = i.volume;
    let existing: KubeObject[] = [];
    try {
      existing = await listEventsFor(client, v.namespace, 'PersistentVolumeClaim', v.pvcName);
    } catch (e) {
      io.stderr(`warning: cannot list events of ${v.pvcName} (${apiMessage(e)}); creating them anyway\n`);
    }
    const recorded = existing.map((x) => ({ reason: str(x, 'reason') ?? '', message: str(x, 'message') }));
    for (const e of i.events) {
      // The same condition is not announced again (an event with the same reason and message exists).
      if (alreadyRecorded(recorded, e)) continue;
      try {
        await createPvcEvent(client, i.result?.pvcObject ?? i.pvcObject, e, now);
      } catch (err) {
        io.stderr(
          `warning: could not create event ${e.reason} on ${v.pvcName} (${apiMessage(err)}); grant "create events" in namespace ${v.namespace}\n`,
        );
      }
    }
  }
}
