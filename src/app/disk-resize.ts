/**
 * disk resize CLUSTER: the engine's plan for each volume, and with --apply
 * the writes that perform it.
 *
 *   gather → evaluate → plan (pure) → render → [confirm → apply → events →
 *   spec update → wait] → exit code
 *
 * The one write per PVC carries the new request, the ledger entry and the
 * resourceVersion the decision was made on. On 409 Conflict the PVC is read
 * again and the decision is made again from the fresh request, capacity,
 * conditions and ledger: a second run that lost the race sees the first
 * run's request above the capacity (resize-in-progress) or its ledger entry
 * (budget), and never resizes twice. docs/resize.md describes all of it.
 */
import { formatBytes } from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import type { ExitCode } from '../model/errors.js';
import { isMachineFormat, paint, printResult } from '../render/printer.js';

import { evaluateCluster } from '../analysis/evaluate.js';

import { sourcesLine } from '../render/common.js';

import { requireSomeFacts, volumeLabel } from './disk-status.js';
import { gatherSnapshot, judgedAt, requireCluster } from './gather.js';
import {
  type DiskResizeOptions,
  type PlanItem,
  type SpecUpdate,
  buildPlan,
  checkResizeOptions,
  resizeExitCode,
} from '../actions/resize-plan.js';
import { planDocument, planTable, q, reasonText, traceText } from './resize/render.js';
import { type ApplyContext, applyResize, createEvents, eventsFor } from '../actions/resize-apply.js';
import { roleTargets, specChanges, updateClusterSpec } from '../actions/spec-update.js';
import { waitForExpansions } from './resize/wait.js';
import { recheckWalFacts } from '../actions/wal-recheck.js';

// ---------------------------------------------------------------- run

function describeTodo(items: PlanItem[]): string {
  return items
    .map((i) => `${i.volume.pvcName} ${q(i.volume.decision?.currentBytes)} → ${q(i.volume.decision?.newBytes)}`)
    .join(', ');
}

export async function runDiskResize(opts: DiskResizeOptions, deps: Deps): Promise<ExitCode> {
  const { io } = deps;
  checkResizeOptions(opts, io);
  const scope = {
    namespace: opts.namespace,
    allNamespaces: false,
    cluster: opts.cluster,
    fromBundle: opts.fromBundle,
    source: opts.source,
    concurrency: opts.concurrency,
    context: opts.context,
    prometheusUrl: opts.prometheusUrl,
    measure: true,
  };
  // WAL facts observed before this moment may predate the run (docs/resize.md, WAL facts' age).
  const startedAt = deps.now().getTime();
  const snapshot = await gatherSnapshot(scope, deps);
  const cs = requireCluster(snapshot, opts, deps);
  // One clock per snapshot: a bundle is judged at its collectedAt, a live run at now.
  const report = evaluateCluster(cs, snapshot.storageClasses, {
    now: judgedAt(snapshot, deps),
    ...(opts.rescue ? { rescue: true } : {}),
    ...(opts.policyFile !== undefined ? { policyFile: opts.policyFile } : {}),
  });
  requireSomeFacts(snapshot, [report]);
  const plan = buildPlan(snapshot, cs, report, opts);
  // The text is printed as the run goes (plan, confirmation, each write); the
  // document once, at the end, with the results.
  const machine = isMachineFormat(opts.output);
  const wide = opts.output === 'wide';
  const mode = opts.apply ? 'apply' : 'preview';

  const todo = plan.items.filter((i) => i.action === 'resize');
  if (!machine) {
    io.stderr(sourcesLine(snapshot, opts.verbose));
    if (opts.verbose) for (const p of report.problems) io.stderr(`  problem: ${p}\n`);
    // With --yes and something to apply, the outcome table (below) is the only one.
    if (!opts.apply || !opts.yes || todo.length === 0) {
      io.stdout(planTable(plan, wide, false, io.isStdoutTTY ? io.width : undefined));
      if (opts.verbose) io.stdout(traceText(plan));
    }
  }
  const done = (specUpdates?: SpecUpdate[]): ExitCode => {
    const code = resizeExitCode(plan.items, specUpdates);
    if (machine)
      printResult(io, opts.output, {
        document: () => planDocument(plan, mode, specUpdates, code),
        text: () => undefined,
      });
    return code;
  };
  if (!opts.apply) {
    if (!machine && todo.length > 0) {
      io.stderr(`preview only: add --apply to resize ${todo.length} volume(s): ${describeTodo(todo)}\n`);
    }
    return done();
  }
  if (todo.length === 0) {
    io.stderr(`nothing to apply for ${report.namespace}/${report.name}\n`);
    for (const i of plan.items) io.stderr(`  ${i.volume.pvcName}: ${reasonText(i)}\n`);
  } else if (!opts.yes) {
    const ok = await io.confirm(
      `Resize ${todo.length} PVC(s) of ${report.namespace}/${report.name}: ${describeTodo(todo)}?`,
    );
    if (!ok) {
      for (const i of todo) {
        i.result = { status: 'declined', message: 'not confirmed; nothing changed', attempts: 0, conflicts: 0 };
      }
      io.stderr('not confirmed: nothing changed\n');
      return done();
    }
  }

  const client = deps.kube();
  const ctx: ApplyContext = {
    client,
    now: deps.now,
    storageClasses: snapshot.storageClasses,
    report,
    forceUnknownStorageClass: opts.forceUnknownStorageClass,
    maxAttempts: opts.maxAttempts ?? 5,
  };
  await recheckWalFacts(plan, todo, {
    client,
    now: deps.now,
    notBefore: startedAt,
    source: opts.source,
    concurrency: opts.concurrency,
    prometheusUrl: opts.prometheusUrl,
    execTimeoutMs: Math.max(client.timeoutMs, 15_000),
    ...(opts.walRecheckMaxWaitMs !== undefined ? { maxWaitMs: opts.walRecheckMaxWaitMs } : {}),
    log: (line) => io.stderr(`wal: ${line}\n`),
  });
  const applyStarted = Date.now();
  for (const i of todo) {
    i.result ??= await applyResize(i, ctx);
    const r = i.result;
    const label = `${i.volume.pvcName} (${volumeLabel(i.volume)})`;
    if (r.status === 'applied') io.stderr(`${paint(io, 'green', 'resized')} ${label}: ${r.message}\n`);
    else io.stderr(`${paint(io, r.status === 'failed' ? 'red' : 'yellow', `${r.status}`)} ${label}: ${r.message}\n`);
  }

  // Events, also when nothing was applied (blocked, in progress...): printed
  // always, created on the PVCs only with --events.
  for (const i of plan.items) {
    i.events = eventsFor(i);
    for (const e of i.events)
      io.stderr(`event: ${e.type} ${e.reason} ${i.volume.namespace}/${i.volume.pvcName}: ${e.message}\n`);
  }
  if (opts.events) await createEvents(client, plan, deps.now(), io);
  if (todo.length === 0) return done();

  let specUpdates: SpecUpdate[] | undefined;
  const applied = plan.items.filter((i) => i.result?.status === 'applied');
  if (applied.length > 0) {
    if (opts.updateSpec) {
      specUpdates = await updateClusterSpec(plan, ctx);
      for (const u of specUpdates) io.stderr(`spec: ${u.status}: ${u.message}\n`);
      if (specUpdates.some((u) => u.status === 'updated')) {
        io.stderr(
          `warning: the Cluster ${report.namespace}/${report.name} was changed in the API server only; if it is managed by GitOps (Argo CD, Flux, Helm), update its manifest in Git too, or the next sync sets the old size back (the PVCs stay larger: nothing shrinks)\n`,
        );
      }
    } else {
      const { updates } = specChanges(cs.cluster, roleTargets(plan));
      for (const u of updates.filter((x) => x.status === 'updated')) {
        io.stderr(
          `hint: ${u.field} is still ${q(u.fromBytes)}, below the PVC size ${formatBytes(u.toBytes)}: CloudNativePG leaves a larger PVC alone, but a new instance would get the old size; pass --update-spec, or change the manifest\n`,
        );
      }
    }
    if (opts.wait) {
      await waitForExpansions(applied, {
        client,
        io,
        storageClasses: snapshot.storageClasses,
        timeoutMs: opts.waitTimeoutMs,
        pollIntervalMs: opts.pollIntervalMs ?? 2000,
        since: applyStarted,
        remeasure: () => gatherSnapshot(scope, deps),
      });
    }
  }
  if (!machine) {
    io.stdout(`${opts.yes ? '' : '\n'}${planTable(plan, wide, true, io.isStdoutTTY ? io.width : undefined)}`);
    if (opts.verbose) io.stdout(traceText(plan));
  }
  return done(specUpdates);
}
