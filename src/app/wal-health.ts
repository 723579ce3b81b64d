/**
 * wal health: per instance, is WAL leaving the machine and is anything
 * holding it back? Archiving configured?, last archived / failed WAL and
 * when, failed count, `.ready` backlog, pg_wal size, replication slots, and
 * a verdict with remediation hints. gather → evaluate → render → exit code.
 *
 * The verdict is the worst of the instance's WAL findings (findings.ts, the
 * same checks `diagnose` runs), so the two commands never disagree.
 */
import { archiveHealthy, formatBytesHuman, type WalHealth } from '@cnpg-disk/core';
import type { ContextDepsSet, Deps } from '../cli/deps.js';
import { exitCodeForSeverities, type ExitCode, type Severity } from '../model/errors.js';
import { document, paint, printResult, type OutputFormat } from '../render/printer.js';
import { evaluateSnapshot, type ClusterReport, type InstanceReport } from '../analysis/evaluate.js';
import { WAL_FINDING_CODES, type Finding } from '../analysis/findings.js';
import { parseClusterDiskStatus } from '../sources/cluster-status.js';
import { STATUS_ONLY_SOURCE } from '../sources/pod-proxy.js';
import { renderFindings, sourcesLine } from '../render/common.js';
import { renderTable, type FitStep } from '../render/table.js';
import { sanitize } from '../render/sanitize.js';
import type { Snapshot } from '../model/snapshot.js';
import { gatherSnapshot, judgedAt, snapshotHeader, type ScopeOptions } from './gather.js';
import { noFactsError } from './unmeasured.js';
import {
  contextErrorsText,
  contextPrefixed,
  contextsDocument,
  evaluateContexts,
  labelFindings,
  worstExitCode,
} from './contexts.js';

export interface WalHealthOptions extends ScopeOptions {
  output: OutputFormat;
  verbose: boolean;
}

export type WalVerdict = 'healthy' | 'warning' | 'critical' | 'unknown';

export interface WalInstanceReport {
  pod: string;
  role: InstanceReport['role'];
  ready: boolean;
  phase?: string;
  lastExitCode?: number;
  /** Where the WAL facts came from, and when. */
  source?: string;
  observedAt?: string;
  archivingConfigured?: boolean;
  archiver?: {
    /** null when unknown (only /pg/status answered). */
    archivedCount: number | null;
    failedCount: number | null;
    lastArchivedWal?: string;
    lastArchivedTime?: string;
    lastFailedWal?: string;
    lastFailedTime?: string;
    healthy: boolean;
    why: string;
  };
  /** status.diskStatus walHealth.archiveHealthy, when the operator publishes it. */
  operatorArchiveHealthy?: boolean;
  readyFiles?: number;
  doneFiles?: number;
  walDirBytes?: bigint;
  /** The volume pg_wal lives on (the WAL volume, or data on single-volume clusters). */
  walVolume?: { pvc: string; type: 'data' | 'wal'; percentUsed?: number; availableBytes?: bigint };
  slots?: NonNullable<WalHealth['slots']>;
  verdict: WalVerdict;
  findings: Finding[];
}

export interface WalClusterReport {
  namespace: string;
  name: string;
  archiving: ClusterReport['shape']['archiving'];
  /** The Cluster's ContinuousArchiving condition (the operator's judgement of archiving), when set. */
  continuousArchiving?: ClusterReport['continuousArchiving'];
  instances: WalInstanceReport[];
  /** Cluster-level WAL findings (e.g. no archive configured). */
  findings: Finding[];
}

const RANK: Record<WalVerdict, number> = { critical: 3, warning: 2, unknown: 1, healthy: 0 };

function worst(severities: Severity[]): 'critical' | 'warning' | 'healthy' {
  if (severities.includes('critical')) return 'critical';
  if (severities.includes('warning')) return 'warning';
  return 'healthy';
}

/** Builds the WAL view of one evaluated cluster. */
export function walClusterReport(snapshot: Snapshot, r: ClusterReport): WalClusterReport {
  const cs = snapshot.clusters.find((c) => c.namespace === r.namespace && c.name === r.name);
  const status = cs ? parseClusterDiskStatus(cs.cluster, snapshot.collectedAt) : undefined;
  const clusterFindings = r.findings.filter((f) => f.code === 'ARCHIVING_NOT_CONFIGURED');
  const instances = r.instances.map((i): WalInstanceReport => {
    const subject = `${r.namespace}/${r.name}/${i.pod}`;
    const walType = r.shape.singleVolume ? 'data' : 'wal';
    const vol = r.volumes.find((v) => v.instance === i.pod && v.type === walType);
    const volSubject = vol ? `${r.namespace}/${r.name}/${vol.pvcName}` : undefined;
    const findings = r.findings.filter(
      (f) =>
        (f.subject === subject && WAL_FINDING_CODES.has(f.code)) ||
        (volSubject !== undefined &&
          f.subject === volSubject &&
          ['VOLUME_NEAR_FULL', 'INODES_NEAR_FULL', 'RESIZE_FAILED', 'RESIZE_STUCK'].includes(f.code)),
    );
    const w = i.wal;
    const st = status?.instances.find((x) => x.pod === i.pod);
    const configured = r.shape.archiving.configured ?? w?.archivingConfigured;
    const countsKnown = w?.source !== STATUS_ONLY_SOURCE;
    // WAL_UNKNOWN is the finding for "no fact": the verdict says unknown
    // unless a known fact (the volume, the operator's judgement) is worse.
    let verdict: WalVerdict = worst(findings.filter((f) => f.code !== 'WAL_UNKNOWN').map((f) => f.severity));
    if (verdict === 'healthy' && findings.some((f) => f.code === 'WAL_UNKNOWN')) verdict = 'unknown';
    const report: WalInstanceReport = {
      pod: i.pod,
      role: i.role,
      ready: i.ready,
      ...(i.phase ? { phase: i.phase } : {}),
      ...(i.lastExitCode !== undefined ? { lastExitCode: i.lastExitCode } : {}),
      ...(w?.source ? { source: w.source } : {}),
      ...(w?.observedAt ? { observedAt: w.observedAt } : {}),
      ...(configured !== undefined ? { archivingConfigured: configured } : {}),
      ...(st?.archiveHealthy !== undefined ? { operatorArchiveHealthy: st.archiveHealthy } : {}),
      ...(w?.readyFiles !== undefined ? { readyFiles: w.readyFiles } : {}),
      ...(w?.doneFiles !== undefined ? { doneFiles: w.doneFiles } : {}),
      ...(w?.walDirBytes !== undefined ? { walDirBytes: w.walDirBytes } : {}),
      ...(w?.slots ? { slots: w.slots } : {}),
      verdict,
      findings,
    };
    if (w?.archiver) {
      const h = archiveHealthy(w.archiver);
      report.archiver = {
        archivedCount: countsKnown ? w.archiver.archivedCount : null,
        failedCount: countsKnown ? w.archiver.failedCount : null,
        ...(w.archiver.lastArchivedWal ? { lastArchivedWal: w.archiver.lastArchivedWal } : {}),
        ...(w.archiver.lastArchivedTime ? { lastArchivedTime: w.archiver.lastArchivedTime } : {}),
        ...(w.archiver.lastFailedWal ? { lastFailedWal: w.archiver.lastFailedWal } : {}),
        ...(w.archiver.lastFailedTime ? { lastFailedTime: w.archiver.lastFailedTime } : {}),
        healthy: h.healthy,
        why: h.why,
      };
    }
    if (vol) {
      report.walVolume = {
        pvc: vol.pvcName,
        type: walType,
        ...(vol.filesystem
          ? { percentUsed: vol.filesystem.percentUsed, availableBytes: vol.filesystem.availableBytes }
          : {}),
      };
    }
    return report;
  });
  return {
    namespace: r.namespace,
    name: r.name,
    archiving: r.shape.archiving,
    ...(r.continuousArchiving ? { continuousArchiving: r.continuousArchiving } : {}),
    instances,
    findings: clusterFindings,
  };
}

/** "4m ago", "3h ago", "2d ago"; relative to `now`. */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return '-';
  if (ms < 0) return 'in the future';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function slotsText(slots: WalInstanceReport['slots']): string {
  if (!slots) return '?';
  if (slots.length === 0) return '0';
  const inactive = slots.filter((s) => !s.active);
  const retained = inactive.reduce((n, s) => n + (s.retainedBytes ?? 0n), 0n);
  return inactive.length === 0
    ? `${slots.length}`
    : `${slots.length} (${inactive.length} inactive, ${formatBytesHuman(retained)})`;
}

/**
 * What the WAL table gives up, in order, to fit a terminal narrower than it
 * (docs/cli.md): the failure time and count (the findings say them), the
 * size of pg_wal, the role, the namespace, the slot details, the cluster
 * column (CloudNativePG names every instance `<cluster>-<n>`).
 */
export const WAL_FIT_STEPS: readonly FitStep[] = [
  { drop: 'LAST FAILED' },
  { drop: 'FAILED' },
  { drop: 'PG_WAL' },
  { drop: 'ROLE' },
  { column: 'CLUSTER', shorten: (c) => c.replace(/^[^/]*\//, '') },
  { column: 'SLOTS', shorten: (c) => c.replace(/ \(.*\)$/, '') },
  { drop: 'CLUSTER' },
];

export function walTable(
  reports: WalClusterReport[],
  wide: boolean,
  withNamespace: boolean,
  now: number,
  width?: number,
): string {
  const { head, rows } = walRows(reports, wide, withNamespace, now);
  return renderTable(head, rows, width === undefined || wide ? undefined : { width, steps: WAL_FIT_STEPS });
}

/** The WAL table's header and rows (walTable; the several-context table adds its CONTEXT column). */
export function walRows(
  reports: WalClusterReport[],
  wide: boolean,
  withNamespace: boolean,
  now: number,
): { head: string[]; rows: string[][] } {
  const head = [
    'CLUSTER',
    'INSTANCE',
    'ROLE',
    'ARCHIVING',
    'LAST ARCHIVED',
    'LAST FAILED',
    'FAILED',
    'READY',
    'PG_WAL',
    'WAL VOL',
    'SLOTS',
    'VERDICT',
  ];
  if (wide) head.push('LAST ARCHIVED WAL', 'LAST FAILED WAL', 'ARCHIVED', 'DONE', 'SOURCE', 'OBSERVED');
  const rows: string[][] = [];
  for (const c of reports) {
    for (const i of c.instances) {
      const a = i.archiver;
      const archiving =
        i.archivingConfigured === false
          ? 'off'
          : a
            ? a.healthy
              ? 'ok'
              : 'FAILING'
            : i.operatorArchiveHealthy !== undefined
              ? i.operatorArchiveHealthy
                ? 'ok'
                : 'FAILING'
              : i.archivingConfigured
                ? 'on'
                : '?';
      const row = [
        withNamespace ? `${c.namespace}/${c.name}` : c.name,
        i.pod,
        i.role,
        archiving,
        age(a?.lastArchivedTime, now),
        age(a?.lastFailedTime, now),
        a?.failedCount === null || a === undefined ? '-' : String(a.failedCount),
        i.readyFiles === undefined ? '-' : String(i.readyFiles),
        i.walDirBytes === undefined ? '-' : formatBytesHuman(i.walDirBytes),
        i.walVolume?.percentUsed === undefined ? '-' : `${i.walVolume.percentUsed.toFixed(1)}%`,
        slotsText(i.slots),
        i.verdict,
      ];
      if (wide) {
        row.push(
          a?.lastArchivedWal ?? '-',
          a?.lastFailedWal ?? '-',
          a?.archivedCount === null || a === undefined ? '-' : String(a.archivedCount),
          i.doneFiles === undefined ? '-' : String(i.doneFiles),
          i.source ?? '-',
          i.observedAt ?? '-',
        );
      }
      rows.push(row);
    }
  }
  return { head, rows };
}

export function walDocument(snapshot: Snapshot, reports: WalClusterReport[]): Record<string, unknown> {
  const all = reports.flatMap((c) => c.instances);
  const count = (v: WalVerdict) => all.filter((i) => i.verdict === v).length;
  return document('WalHealthReport', {
    ...snapshotHeader(snapshot),
    summary: {
      clusters: reports.length,
      instances: all.length,
      healthy: count('healthy'),
      warning: count('warning'),
      critical: count('critical'),
      unknown: count('unknown'),
    },
    clusters: reports,
  });
}

/** Live runs where no instance has WAL facts and sources were denied cannot be evaluated. */
export function requireSomeWalFacts(snapshot: Snapshot, reports: WalClusterReport[]): void {
  const instances = reports.flatMap((r) => r.instances);
  if (instances.length === 0 || snapshot.origin.kind !== 'live') return;
  // Any WAL fact at all (from any source, or the operator's own judgement) is enough to report.
  if (instances.some((i) => i.source !== undefined || i.operatorArchiveHealthy !== undefined)) return;
  // With every permitted source answering "nothing here" the verdicts say unknown;
  // a denial, though, is something the user can fix, so it is an error.
  if (!snapshot.sources.some((s) => s.outcome === 'denied' && s.fact === 'wal')) return;
  throw noFactsError(snapshot, 'wal', 'no instance could be judged');
}

interface WalEvaluation {
  snapshot: Snapshot;
  reports: WalClusterReport[];
  now: number;
  exitCode: ExitCode;
}

/** One evaluation: gather, judge every instance, refuse a run where no instance could be judged. */
async function evaluateWal(opts: WalHealthOptions, deps: Deps): Promise<WalEvaluation> {
  const snapshot = await gatherSnapshot({ ...opts, measure: true }, deps);
  const now = judgedAt(snapshot, deps);
  const reports = evaluateSnapshot(snapshot, { now }).map((r) => walClusterReport(snapshot, r));
  requireSomeWalFacts(snapshot, reports);
  const verdicts = reports.flatMap((c) => c.instances.map((i) => i.verdict));
  // An unknown instance is a warning, as its WAL_UNKNOWN finding is in
  // disk status and diagnose: the three commands give one exit code.
  const exitCode = exitCodeForSeverities(
    verdicts.sort((a, b) => RANK[b] - RANK[a]).map((v) => (v === 'healthy' ? 'ok' : v === 'unknown' ? 'warning' : v)),
  );
  return { snapshot, reports, now, exitCode };
}

/** The findings shown under the WAL table (info ones with -v only). */
function shownFindings(reports: WalClusterReport[], verbose: boolean): Finding[] {
  const hints = reports.flatMap((c) => [...c.instances.flatMap((i) => i.findings), ...(verbose ? c.findings : [])]);
  return verbose ? hints : hints.filter((f) => f.severity !== 'info');
}

function unknownLine(io: Deps['io'], pods: string[]): string {
  return `\n${paint(io, 'dim', `no WAL facts for ${sanitize(pods.join(', '))} (run with -v to see which sources were tried)`)}\n`;
}

export async function runWalHealth(opts: WalHealthOptions, deps: Deps): Promise<ExitCode> {
  const { snapshot, reports, now, exitCode } = await evaluateWal(opts, deps);
  const { io } = deps;
  printResult(io, opts.output, {
    document: () => walDocument(snapshot, reports),
    text: (wide) => {
      io.stderr(sourcesLine(snapshot, opts.verbose));
      if (reports.length === 0) {
        io.stderr('no CloudNativePG clusters found\n');
        return;
      }
      io.stdout(
        walTable(
          reports,
          wide,
          opts.allNamespaces || snapshot.origin.kind === 'bundle',
          now,
          io.isStdoutTTY ? io.width : undefined,
        ),
      );
      const shown = shownFindings(reports, opts.verbose);
      if (shown.length > 0)
        io.stdout('\n' + renderFindings(io, shown, { ran: { command: 'wal health', verbose: opts.verbose } }));
      const unknown = reports.flatMap((c) => c.instances.filter((i) => i.verdict === 'unknown').map((i) => i.pod));
      if (unknown.length > 0) io.stdout(unknownLine(io, unknown));
    },
  });
  return exitCode;
}

/**
 * `wal health` over several contexts (docs/cli.md): one table with a
 * CONTEXT column, a row saying "not evaluated" for a context that could
 * not be, its reason after the findings; `-o json|yaml` a WalHealthReportList.
 */
export async function runWalHealthContexts(
  opts: WalHealthOptions,
  set: ContextDepsSet,
  bound: number,
): Promise<ExitCode> {
  const results = await evaluateContexts(
    set,
    bound,
    async (deps) => {
      const e = await evaluateWal(opts, deps);
      return { value: e, exitCode: e.exitCode };
    },
    opts,
  );
  const { io } = set;
  printResult(io, opts.output, {
    document: () =>
      contextsDocument<WalEvaluation>('WalHealthReport', results, (e) => walDocument(e.snapshot, e.reports)),
    text: (wide) => {
      let head: string[] = [];
      const rows: string[][] = [];
      const findings: Finding[] = [];
      const unknown: string[] = [];
      for (const r of results) {
        if (!r.value) continue;
        const { snapshot, reports, now } = r.value;
        io.stderr(contextPrefixed(r.context, sourcesLine(snapshot, opts.verbose)));
        if (reports.length === 0) io.stderr(contextPrefixed(r.context, 'no CloudNativePG clusters found\n'));
        const t = walRows(reports, wide, opts.allNamespaces, now);
        head = t.head;
        rows.push(...t.rows.map((row) => [r.context, ...row]));
        findings.push(...labelFindings(r.context, shownFindings(reports, opts.verbose)));
        unknown.push(
          ...reports.flatMap((c) =>
            c.instances.filter((i) => i.verdict === 'unknown').map((i) => `[${r.context}] ${i.pod}`),
          ),
        );
      }
      if (head.length === 0) head = walRows([], wide, opts.allNamespaces, 0).head;
      const verdict = head.indexOf('VERDICT');
      for (const r of results)
        if (r.error) rows.push([r.context, ...head.map((_, i) => (i === verdict ? 'not evaluated' : '-'))]);
      const width = io.isStdoutTTY ? io.width : undefined;
      if (rows.length > 0)
        io.stdout(
          renderTable(
            ['CONTEXT', ...head],
            rows,
            width === undefined || wide ? undefined : { width, steps: WAL_FIT_STEPS },
          ),
        );
      if (findings.length > 0)
        io.stdout('\n' + renderFindings(io, findings, { ran: { command: 'wal health', verbose: opts.verbose } }));
      if (unknown.length > 0) io.stdout(unknownLine(io, unknown));
      const errors = contextErrorsText(results);
      if (errors) io.stdout((rows.length > 0 ? '\n' : '') + errors);
    },
  });
  return worstExitCode(results.map((r) => r.exitCode));
}
