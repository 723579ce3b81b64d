/**
 * disk status: how full is every volume, what policy is in force, and what
 * the engine would do. gather → evaluate → render → exit code.
 */
import { formatBytes, type UsageForecast } from '@cnpg-disk/core';
import type { ContextDepsSet, Deps } from '../cli/deps.js';
import type { IOStreams } from '../cli/io.js';
import type { ExitCode } from '../model/errors.js';
import { cannotEvaluate, exitCodeForSeverities } from '../model/errors.js';
import { document, printResult, type OutputFormat } from '../render/printer.js';
import { evaluateSnapshot, type ClusterReport, type VolumeReport } from '../analysis/evaluate.js';
import { sortFindings, type Finding } from '../analysis/findings.js';
import { gatherSnapshot, judgedAt, snapshotHeader, type ScopeOptions } from './gather.js';
import { noFactsError } from './unmeasured.js';
import { forecastCells, human, pct, usageText, renderFindings, sourcesLine } from '../render/common.js';
import { renderTable, type FitStep } from '../render/table.js';
import type { Snapshot } from '../model/snapshot.js';
import { sanitize } from '../render/sanitize.js';
import {
  contextErrorsText,
  contextPrefixed,
  contextsDocument,
  evaluateContexts,
  labelFindings,
  worstExitCode,
} from './contexts.js';

export interface DiskStatusOptions extends ScopeOptions {
  output: OutputFormat;
  verbose: boolean;
  policyFile?: unknown;
}

export { volumeLabel } from '../render/common.js';
import { volumeLabel } from '../render/common.js';

function verdictText(v: VolumeReport): string {
  if (v.policy.errors.length > 0) return 'policy-invalid';
  const d = v.decision;
  if (!d) return '-';
  if (d.verdict === 'blocked') return `blocked/${d.reason}`;
  if (d.verdict === 'resize' && d.newBytes !== undefined) return `resize→${formatBytes(d.newBytes)}`;
  return d.verdict;
}

/**
 * Fails with "could not evaluate" when volumes exist but not one could be
 * measured: exit 0 would claim health that nobody checked.
 */
export function requireSomeFacts(snapshot: Snapshot, reports: ClusterReport[]): void {
  const volumes = reports.flatMap((r) => r.volumes);
  // A WAL volume CloudNativePG itself reported full (exit code 4) is a fact the engine can act on.
  if (volumes.length === 0 || volumes.some((v) => v.filesystem || v.walSpaceExhausted)) return;
  if (snapshot.origin.kind === 'bundle') {
    throw cannotEvaluate(
      `the bundle holds no filesystem measurement for its ${volumes.length} volume(s)`,
      'NOT_MEASURED',
      'collect the bundle with a source that can measure (see docs/sources.md)',
    );
  }
  throw noFactsError(snapshot, 'filesystem', 'no volume could be measured');
}

/** A Cluster as the DiskStatus and ResizePlan documents name it: identity, then shape. */
export function clusterFields(r: ClusterReport): Record<string, unknown> {
  return {
    namespace: r.namespace,
    name: r.name,
    phase: r.phase,
    primary: r.primary,
    singleVolume: r.shape.singleVolume,
    tablespaces: r.shape.tablespaces,
    archiving: r.shape.archiving,
  };
}

/** A volume as the DiskStatus and ResizePlan documents open it: which one, and its PVC's class and sizes. */
export function volumeFields(v: VolumeReport): Record<string, unknown> {
  return {
    instance: v.instance,
    pvc: v.pvcName,
    type: v.type,
    tablespace: v.tablespace,
    storageClass: v.pvc.storageClass,
    expandable: v.pvc.allowVolumeExpansion,
    requestBytes: v.pvc.requestBytes,
    capacityBytes: v.pvc.capacityBytes,
  };
}

/** Growth per volume while watching, keyed by volumeKey(). */
export type Forecasts = ReadonlyMap<string, UsageForecast>;

/** The key of a volume across refreshes: namespace/PVC. */
export function volumeKey(v: Pick<VolumeReport, 'namespace' | 'pvcName'>): string {
  return `${v.namespace}/${v.pvcName}`;
}

/** A forecast as the document carries it: counts and byte rates as decimal strings, times in RFC 3339. */
function forecastFields(f: UsageForecast): Record<string, unknown> {
  return {
    samples: f.samples,
    spanSeconds: Math.round(f.spanMs / 1000),
    ...(f.bytesPerHour !== undefined ? { bytesPerHour: BigInt(Math.round(f.bytesPerHour)) } : {}),
    ...(f.msToFull !== undefined ? { secondsToFull: Math.ceil(f.msToFull / 1000) } : {}),
    ...(f.fullAt !== undefined ? { fullAt: new Date(f.fullAt).toISOString() } : {}),
  };
}

export function statusDocument(
  snapshot: Snapshot,
  reports: ClusterReport[],
  verbose: boolean,
  forecasts?: Forecasts,
): Record<string, unknown> {
  const findings = reports.flatMap((r) => r.findings);
  return document('DiskStatus', {
    ...snapshotHeader(snapshot),
    summary: {
      clusters: reports.length,
      volumes: reports.reduce((n, r) => n + r.volumes.length, 0),
      critical: findings.filter((f) => f.severity === 'critical').length,
      warning: findings.filter((f) => f.severity === 'warning').length,
      info: findings.filter((f) => f.severity === 'info').length,
    },
    clusters: reports.map((r) => ({
      ...clusterFields(r),
      instances: r.instances,
      volumes: r.volumes.map((v) => ({
        ...volumeFields(v),
        conditions: v.pvc.conditions,
        filesystem: v.filesystem,
        ...(v.unmeasuredReason ? { unmeasuredReason: v.unmeasuredReason } : {}),
        walSpaceExhausted: v.walSpaceExhausted,
        ...(forecasts ? { forecast: forecastFields(forecasts.get(volumeKey(v)) ?? { samples: 0, spanMs: 0 }) } : {}),
        policy: v.policy,
        decision: v.decision && {
          verdict: v.decision.verdict,
          reason: v.decision.reason,
          message: v.decision.message,
          currentBytes: v.decision.currentBytes,
          newBytes: v.decision.newBytes,
          budget: v.decision.budget,
          warnings: v.decision.warnings,
          ...(verbose ? { trace: v.decision.trace } : {}),
        },
        lastResizes: v.lastResizes,
        ledgerProblem: v.ledgerProblem,
      })),
      policyIssues: r.policyIssues,
      findings: r.findings,
    })),
  });
}

/**
 * What the status table gives up, in order, to fit a terminal narrower than
 * it (docs/cli.md): the filesystem size (usually the PVC's), USED (AVAIL and
 * USE% remain), the policy's source, the verdict's reason (the findings say
 * it), the role, the namespace, the cluster column (CloudNativePG names
 * every instance `<cluster>-<n>`, so INSTANCE still says it), the growth rate
 * of --watch. `-o wide` and output that is not a terminal are
 * never fitted.
 */
export const STATUS_FIT_STEPS: readonly FitStep[] = [
  { drop: 'FS SIZE' },
  { drop: 'USED' },
  { column: 'POLICY', shorten: (c) => c.replace(/ \(.*\)$/, '') },
  { column: 'VERDICT', shorten: (c) => c.replace(/^blocked\/.*$/, 'blocked') },
  { drop: 'ROLE' },
  { column: 'CLUSTER', shorten: (c) => c.replace(/^[^/]*\//, '') },
  { drop: 'CLUSTER' },
  { drop: 'GROWTH/H' },
];

export function statusTable(
  reports: ClusterReport[],
  wide: boolean,
  allNamespaces: boolean,
  forecasts?: Forecasts,
  width?: number,
): string {
  const { head, rows } = statusRows(reports, wide, allNamespaces, forecasts);
  return renderTable(head, rows, width === undefined || wide ? undefined : { width, steps: STATUS_FIT_STEPS });
}

/** The status table's header and rows (statusTable; the several-context table adds its CONTEXT column). */
export function statusRows(
  reports: ClusterReport[],
  wide: boolean,
  allNamespaces: boolean,
  forecasts?: Forecasts,
): { head: string[]; rows: string[][] } {
  const head = [
    'CLUSTER',
    'INSTANCE',
    'ROLE',
    'VOLUME',
    'PVC SIZE',
    'FS SIZE',
    'USED',
    'AVAIL',
    'USE%',
    ...(forecasts ? ['GROWTH/H', 'FULL IN'] : []),
    'POLICY',
    'VERDICT',
  ];
  if (wide)
    head.push('PVC', 'STORAGECLASS', 'EXPAND', 'REQUEST', 'INODE%', 'BUDGET', 'NEXT SLOT', 'LAST RESIZE', 'SOURCE');
  const rows: string[][] = [];
  for (const r of reports) {
    const roles = new Map(r.instances.map((i) => [i.pod, i.role]));
    for (const v of r.volumes) {
      const fs = v.filesystem;
      const row = [
        allNamespaces ? `${r.namespace}/${r.name}` : r.name,
        v.instance,
        roles.get(v.instance) ?? '-',
        volumeLabel(v),
        human(v.pvc.capacityBytes ?? v.pvc.requestBytes),
        human(fs?.totalBytes),
        human(fs?.usedBytes),
        human(fs?.availableBytes),
        usageText(v),
        ...(forecasts ? forecastCells(forecasts.get(volumeKey(v))) : []),
        `${v.policy.enabled ? 'on' : 'off'} (${v.policy.source})`,
        verdictText(v),
      ];
      if (wide) {
        const b = v.decision?.budget;
        const inodePct =
          fs?.inodesTotal && fs.inodesFree !== undefined && fs.inodesTotal > 0n
            ? pct(Number(((fs.inodesTotal - fs.inodesFree) * 1000n) / fs.inodesTotal) / 10)
            : '-';
        const last = v.lastResizes[0];
        row.push(
          v.pvcName,
          v.pvc.storageClass ?? '-',
          v.pvc.allowVolumeExpansion === undefined ? '?' : v.pvc.allowVolumeExpansion ? 'yes' : 'no',
          human(v.pvc.requestBytes),
          inodePct,
          b ? `${b.remaining}/${b.max}` : '-',
          b ? (b.nextSlotAt ?? (b.remaining > 0 ? 'now' : '-')) : '-',
          last ? `${last.at} ${formatBytes(last.fromBytes)}→${formatBytes(last.toBytes)}` : '-',
          fs?.source ?? '-',
        );
      }
      rows.push(row);
    }
  }
  return { head, rows };
}

/** The width a table for people must fit: the terminal's, or none when stdout is not a terminal. */
export function terminalWidth(io: IOStreams): number | undefined {
  return io.isStdoutTTY ? io.width : undefined;
}

/** One evaluation: gather, judge, and refuse to call unmeasured volumes healthy. */
export async function evaluateStatus(
  opts: DiskStatusOptions,
  deps: Deps,
): Promise<{ snapshot: Snapshot; reports: ClusterReport[]; findings: Finding[] }> {
  const snapshot = await gatherSnapshot({ ...opts, measure: true }, deps);
  const reports = evaluateSnapshot(snapshot, {
    now: judgedAt(snapshot, deps),
    ...(opts.policyFile !== undefined ? { policyFile: opts.policyFile } : {}),
  });
  requireSomeFacts(snapshot, reports);
  return { snapshot, reports, findings: sortFindings(reports.flatMap((r) => r.findings)) };
}

/** Prints one evaluation in the chosen format; with forecasts (--watch) the growth columns and fields too. */
export function printStatus(
  io: IOStreams,
  opts: Pick<DiskStatusOptions, 'output' | 'verbose' | 'allNamespaces'>,
  e: { snapshot: Snapshot; reports: ClusterReport[]; findings: Finding[] },
  forecasts?: Forecasts,
): void {
  const { snapshot, reports, findings } = e;
  printResult(io, opts.output, {
    document: () => statusDocument(snapshot, reports, opts.verbose, forecasts),
    text: (wide) => {
      io.stderr(sourcesLine(snapshot, opts.verbose));
      if (reports.length === 0) {
        io.stderr('no CloudNativePG clusters found\n');
        return;
      }
      io.stdout(
        statusTable(
          reports,
          wide,
          opts.allNamespaces || snapshot.origin.kind === 'bundle',
          forecasts,
          terminalWidth(io),
        ),
      );
      const shown = opts.verbose ? findings : findings.filter((f) => f.severity !== 'info');
      if (shown.length > 0)
        io.stdout('\n' + renderFindings(io, shown, { ran: { command: 'disk status', verbose: opts.verbose } }));
      if (opts.verbose) {
        for (const r of reports)
          for (const v of r.volumes) {
            if (!v.decision) continue;
            io.stdout(
              sanitize(`\n${r.namespace}/${r.name} ${v.pvcName} (${volumeLabel(v)}): ${v.decision.verdict}\n`, {
                keepNewlines: true,
              }),
            );
            for (const t of v.decision.trace)
              io.stdout(sanitize(`  ${t.outcome.padEnd(4)} ${t.check}: ${t.message}`) + '\n');
          }
      }
    },
  });
}

export async function runDiskStatus(opts: DiskStatusOptions, deps: Deps): Promise<ExitCode> {
  const e = await evaluateStatus(opts, deps);
  printStatus(deps.io, opts, e);
  return exitCodeForSeverities(e.findings.map((f) => f.severity));
}

type StatusEvaluation = Awaited<ReturnType<typeof evaluateStatus>>;

/**
 * `disk status` over several contexts (docs/cli.md): each evaluated as a
 * single-context run, at most `bound` at once; one table with a CONTEXT
 * column (a context that could not be evaluated is a row saying so, and
 * its reason follows the findings); `-o json|yaml` a DiskStatusList.
 */
export async function runDiskStatusContexts(
  opts: DiskStatusOptions,
  set: ContextDepsSet,
  bound: number,
): Promise<ExitCode> {
  const results = await evaluateContexts(
    set,
    bound,
    async (deps) => {
      const e = await evaluateStatus(opts, deps);
      return { value: e, exitCode: exitCodeForSeverities(e.findings.map((f) => f.severity)) };
    },
    opts,
  );
  const { io } = set;
  printResult(io, opts.output, {
    document: () =>
      contextsDocument<StatusEvaluation>('DiskStatus', results, (e) =>
        statusDocument(e.snapshot, e.reports, opts.verbose),
      ),
    text: (wide) => {
      let head: string[] = [];
      const rows: string[][] = [];
      const findings: Finding[] = [];
      for (const r of results) {
        if (!r.value) continue;
        io.stderr(contextPrefixed(r.context, sourcesLine(r.value.snapshot, opts.verbose)));
        if (r.value.reports.length === 0) io.stderr(contextPrefixed(r.context, 'no CloudNativePG clusters found\n'));
        const t = statusRows(r.value.reports, wide, opts.allNamespaces);
        head = t.head;
        rows.push(...t.rows.map((row) => [r.context, ...row]));
        findings.push(...labelFindings(r.context, r.value.findings));
      }
      if (head.length === 0) head = statusRows([], wide, opts.allNamespaces).head;
      const verdict = head.indexOf('VERDICT');
      for (const r of results)
        if (r.error) rows.push([r.context, ...head.map((_, i) => (i === verdict ? 'not evaluated' : '-'))]);
      const width = terminalWidth(io);
      if (rows.length > 0)
        io.stdout(
          renderTable(
            ['CONTEXT', ...head],
            rows,
            width === undefined || wide ? undefined : { width, steps: STATUS_FIT_STEPS },
          ),
        );
      const sorted = sortFindings(findings);
      const shown = opts.verbose ? sorted : sorted.filter((f) => f.severity !== 'info');
      if (shown.length > 0)
        io.stdout('\n' + renderFindings(io, shown, { ran: { command: 'disk status', verbose: opts.verbose } }));
      const errors = contextErrorsText(results);
      if (errors) io.stdout((rows.length > 0 ? '\n' : '') + errors);
      if (opts.verbose) {
        for (const r of results) {
          if (!r.value) continue;
          for (const c of r.value.reports)
            for (const v of c.volumes) {
              if (!v.decision) continue;
              io.stdout(
                sanitize(
                  `\n[${r.context}] ${c.namespace}/${c.name} ${v.pvcName} (${volumeLabel(v)}): ${v.decision.verdict}\n`,
                  { keepNewlines: true },
                ),
              );
              for (const t of v.decision.trace)
                io.stdout(sanitize(`  ${t.outcome.padEnd(4)} ${t.check}: ${t.message}`) + '\n');
            }
        }
      }
    },
  });
  return worstExitCode(results.map((r) => r.exitCode));
}
