/**
 * From a snapshot to reports: per cluster, per instance, per volume — the
 * facts, the policy in force and where it came from, the engine's decision,
 * and findings. Pure: no I/O; `now` is an input.
 */
import YAML from 'yaml';
import {
  decide,
  decisionInput,
  walSafetyApplies,
  parseLedger,
  percentUsed,
  resolvePolicy,
  validateClusterSpecPolicy,
  pluginEntryOf,
  validatePluginParameters,
  type PolicySources,
  validatePolicyDocument,
  POLICY_ANNOTATION,
  LEDGER_ANNOTATION,
  type ClusterShape,
  type PolicySource,
  type PvcFacts,
  type VolumeRef,
  type VolumeSizes,
  type WalSpaceExhausted,
  type Ledger,
  type LedgerEntry,
} from '@cnpg-disk/core';
import type { ClusterSnapshot, KubeObject, Snapshot } from '../model/snapshot.js';
import {
  annotations,
  arr,
  clusterShape,
  get,
  nameOf,
  primaryOf,
  pvcFacts,
  str,
  volumeRefOf,
  INSTANCE_LABEL,
  CLUSTER_LABEL,
  MISSING_WAL_DISK_SPACE_EXIT_CODE,
  label,
} from '../model/kube-objects.js';
import { parseAutoResizeEvents, parseClusterDiskStatus } from '../sources/cluster-status.js';
import { findingsForCluster } from './findings.js';
import type {
  ClusterReport,
  ContinuousArchivingCondition,
  InstanceReport,
  VolumeReport,
  WarningEvent,
} from './report.js';

export type { ClusterReport, InstanceReport, VolumeReport } from './report.js';

export interface EvaluateOptions {
  now: number;
  /** Parsed --policy file, when given. */
  policyFile?: unknown;
  /** The autoresize controller's default policy document for this Cluster (weaker than its annotation). */
  defaultPolicy?: unknown;
  /**
   * `disk resize --rescue`: the volume that holds pg_wal of an instance down
   * on exit code 4 is decided with its policy switched on (one step, every
   * other field as resolved: step, limit, budget, WAL safety). Nothing else
   * changes.
   */
  rescue?: boolean;
}

function instanceReport(pod: KubeObject, primary: string | undefined): Omit<InstanceReport, 'wal' | 'errors'> {
  const name = nameOf(pod);
  const statuses = arr(pod, 'status', 'containerStatuses');
  const pg = statuses.find((s) => str(s, 'name') === 'postgres') ?? statuses[0];
  const restarts = Number(get(pg, 'restartCount') ?? 0) || 0;
  // The latest termination: the current state when the container is terminated now, else the last one.
  const lastExit = get(pg, 'state', 'terminated', 'exitCode') ?? get(pg, 'lastState', 'terminated', 'exitCode');
  const lastReason = str(pg, 'state', 'terminated', 'reason') ?? str(pg, 'lastState', 'terminated', 'reason');
  const waiting = str(pg, 'state', 'waiting', 'reason');
  const exhausted = walSpaceExhaustedOf(pg, restarts);
  const ready = arr(pod, 'status', 'conditions').some((c) => str(c, 'type') === 'Ready' && str(c, 'status') === 'True');
  const role = label(pod, 'cnpg.io/instanceRole') ?? label(pod, 'role');
  return {
    pod: name,
    role: primary
      ? name === primary
        ? 'primary'
        : 'replica'
      : role === 'primary'
        ? 'primary'
        : role === 'replica'
          ? 'replica'
          : 'unknown',
    ready,
    restarts,
    ...(str(pod, 'status', 'phase') ? { phase: str(pod, 'status', 'phase') } : {}),
    ...(str(pod, 'spec', 'nodeName') ? { node: str(pod, 'spec', 'nodeName') } : {}),
    ...(typeof lastExit === 'number' ? { lastExitCode: lastExit } : {}),
    ...(lastReason ? { lastTerminationReason: lastReason } : {}),
    ...(waiting ? { waiting } : {}),
    ...(exhausted ? { walSpaceExhausted: exhausted } : {}),
  };
}

/**
 * The container is not running now, and its latest termination (the current
 * one, else the last) was exit code 4. A running container is left out: it
 * may be the start that succeeds, and a source can measure it.
 */
function walSpaceExhaustedOf(pg: unknown, restarts: number): WalSpaceExhausted | undefined {
  if (!pg || get(pg, 'state', 'running') !== undefined) return undefined;
  const current = get(pg, 'state', 'terminated');
  const term = current ?? get(pg, 'lastState', 'terminated');
  if (get(term, 'exitCode') !== MISSING_WAL_DISK_SPACE_EXIT_CODE) return undefined;
  const at = str(term, 'finishedAt');
  return { ...(at ? { exitedAt: at } : {}), restarts };
}

/**
 * The ledger entry (engine, manual or sibling floor) written at or after the
 * exit code 4, if any: the volume grew after the instance found it full, so
 * that exit no longer says the volume is full. Without a known exit time
 * nothing can be compared and the fact stands.
 */
function resizeSinceExit(ledger: Ledger, fact: WalSpaceExhausted): LedgerEntry | undefined {
  const exited = fact.exitedAt !== undefined ? Date.parse(fact.exitedAt) : NaN;
  if (!Number.isFinite(exited)) return undefined;
  return ledger.entries.find((e) => Date.parse(e.at) >= exited);
}

function policySourcesFor(
  cs: ClusterSnapshot,
  shape: ClusterShape,
  sizes: VolumeSizes,
  opts: EvaluateOptions,
  problems: string[],
): PolicySources {
  const out: PolicySources = {};
  if (opts.defaultPolicy !== undefined)
    out.controllerDefault = validatePolicyDocument(opts.defaultPolicy, shape, sizes);
  if (opts.policyFile !== undefined) out.file = validatePolicyDocument(opts.policyFile, shape, sizes);
  const spec = validateClusterSpecPolicy(get(cs.cluster, 'spec'), shape, sizes);
  if (spec.data || spec.wal || Object.keys(spec.tablespaces).length > 0) out.clusterSpec = spec;
  // The CNPG-I plugin's parameters, when the plugin is listed and enabled on this Cluster.
  const plugin = pluginEntryOf(cs.cluster);
  if (plugin?.enabled) out.plugin = validatePluginParameters(plugin.parameters, shape, sizes);
  const text = annotations(cs.cluster)[POLICY_ANNOTATION];
  if (text !== undefined) {
    let doc: unknown;
    try {
      doc = YAML.parse(text);
      out.annotation = validatePolicyDocument(doc, shape, sizes);
    } catch (e) {
      problems.push(
        `the ${POLICY_ANNOTATION} annotation is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`,
      );
      out.annotation = {
        tablespaces: {},
        issues: [
          {
            severity: 'error',
            code: 'DOCUMENT_INVALID',
            path: `metadata.annotations[${POLICY_ANNOTATION}]`,
            message: 'the policy annotation is not valid YAML/JSON; no volume uses it.',
          },
        ],
        // A broken annotation governs every volume, so none silently falls back to defaults.
        data: { issues: [] },
        wal: { issues: [] },
      };
      for (const t of shape.tablespaces) out.annotation.tablespaces[t] = { issues: [] };
    }
  }
  return out;
}

function warningEvent(e: KubeObject): WarningEvent {
  return {
    reason: str(e, 'reason') ?? '',
    objectKind: str(e, 'involvedObject', 'kind') ?? '',
    objectName: str(e, 'involvedObject', 'name') ?? '',
    eventName: nameOf(e),
    count: Number(get(e, 'count') ?? 1) || 1,
    message: str(e, 'message') ?? '',
  };
}

export function evaluateCluster(
  cs: ClusterSnapshot,
  storageClasses: KubeObject[],
  opts: EvaluateOptions,
): ClusterReport {
  const problems: string[] = [];
  const shape = clusterShape(cs.cluster);
  const primary = primaryOf(cs.cluster);
  const measurements = new Map(cs.measurements.map((m) => [m.pod, m]));

  const pods = cs.pods.filter((p) => label(p, CLUSTER_LABEL) === cs.name || nameOf(p).startsWith(`${cs.name}-`));
  const instances: InstanceReport[] = pods
    .filter((p) => label(p, INSTANCE_LABEL) !== undefined || /-\d+$/.test(nameOf(p)))
    .map((p) => {
      const m = measurements.get(nameOf(p));
      return { ...instanceReport(p, primary), ...(m?.wal ? { wal: m.wal } : {}), errors: m?.errors ?? [] };
    })
    .sort((a, b) => a.pod.localeCompare(b.pod, undefined, { numeric: true }));

  const vols: { ref: VolumeRef; pvc: PvcFacts; raw: KubeObject }[] = [];
  for (const raw of cs.pvcs) {
    const ref = volumeRefOf(raw, cs.name);
    if (!ref) continue;
    vols.push({ ref, pvc: pvcFacts(raw, storageClasses, problems), raw });
  }
  const sizes: VolumeSizes = { tablespaces: {} };
  for (const v of vols) {
    const size = [v.pvc.requestBytes, v.pvc.capacityBytes].reduce<bigint | undefined>(
      (m, b) => (b !== undefined && (m === undefined || b > m) ? b : m),
      undefined,
    );
    if (size === undefined) continue;
    if (v.ref.type === 'data') sizes.data = sizes.data !== undefined && sizes.data > size ? sizes.data : size;
    else if (v.ref.type === 'wal') sizes.wal = sizes.wal !== undefined && sizes.wal > size ? sizes.wal : size;
    else {
      const t = v.ref.tablespace ?? '';
      const cur = sizes.tablespaces?.[t];
      (sizes.tablespaces as Record<string, bigint>)[t] = cur !== undefined && cur > size ? cur : size;
    }
  }
  const sources = policySourcesFor(cs, shape, sizes, opts, problems);
  const policyIssues = (['file', 'clusterSpec', 'plugin', 'annotation'] as const)
    .filter((k) => sources[k])
    .map((k) => ({
      source: (k === 'clusterSpec' ? 'cluster-spec' : k) as PolicySource,
      issues: sources[k]?.issues ?? [],
    }));

  const volumes: VolumeReport[] = vols
    .map(({ ref, pvc, raw }) => {
      const m = measurements.get(ref.instance);
      const fs = m?.filesystems[ref.pvcName];
      // Only the volume that holds pg_wal: the wal volume, or data when there is none.
      const exitFact = walSafetyApplies(ref, shape)
        ? instances.find((i) => i.pod === ref.instance)?.walSpaceExhausted
        : undefined;
      const ledger = parseLedger(annotations(raw)[LEDGER_ANNOTATION]);
      // An exit 4 the volume was already grown for is answered: the pod has not
      // started on the new size yet, so its last exit is still the old one.
      const exhausted = exitFact && !resizeSinceExit(ledger, exitFact) ? exitFact : undefined;
      const resolved = resolvePolicy(sources, ref.type, ref.tablespace);
      const policy =
        resolved.policy && exhausted && opts.rescue ? { ...resolved.policy, enabled: true } : resolved.policy;
      const report: VolumeReport = {
        ...ref,
        pvc,
        policy: { source: resolved.source, enabled: policy?.enabled ?? false, errors: resolved.errors },
        lastResizes: [...ledger.entries].sort((a, b) => Date.parse(b.at) - Date.parse(a.at)),
        ...(ledger.corrupt !== undefined ? { ledgerProblem: ledger.corrupt } : {}),
        ...(fs ? { filesystem: { ...fs, percentUsed: percentUsed(fs) } } : {}),
        ...(exhausted ? { walSpaceExhausted: exhausted } : {}),
      };
      if (!fs) {
        const prefix = `filesystem facts of ${ref.pvcName} rejected: `;
        const rejected = m?.errors.find((e) => e.startsWith(prefix));
        if (rejected) report.unmeasuredReason = rejected.slice(prefix.length);
      }
      if (policy) {
        report.resolvedPolicy = policy;
        report.decision = decide(
          decisionInput(
            {
              volume: ref,
              cluster: shape,
              policy,
              pvc,
              filesystem: fs,
              ledger,
              walHealth: m?.wal,
              walSpaceExhausted: exhausted,
            },
            opts.now,
          ),
        );
      }
      return report;
    })
    .sort(
      (a, b) =>
        a.instance.localeCompare(b.instance, undefined, { numeric: true }) ||
        ['data', 'wal', 'tablespace'].indexOf(a.type) - ['data', 'wal', 'tablespace'].indexOf(b.type) ||
        (a.tablespace ?? '').localeCompare(b.tablespace ?? ''),
    );

  const phase = str(cs.cluster, 'status', 'phase');
  const continuousArchiving = continuousArchivingOf(cs.cluster);
  const report: ClusterReport = {
    namespace: cs.namespace,
    name: cs.name,
    shape,
    ...(phase ? { phase } : {}),
    ...(primary ? { primary } : {}),
    instances,
    volumes,
    findings: [],
    ...(continuousArchiving ? { continuousArchiving } : {}),
    operatorStatus: parseClusterDiskStatus(cs.cluster, '').instances,
    autoResizeEvents: parseAutoResizeEvents(cs.cluster).events,
    warningEvents: cs.events.filter((e) => str(e, 'type') === 'Warning').map(warningEvent),
    policyIssues,
    problems,
  };
  report.findings = findingsForCluster(report, opts.now);
  return report;
}

/**
 * The Cluster's `ContinuousArchiving` condition, read defensively: a status
 * other than True/False/Unknown, or a condition that is not an object, is no
 * fact (never guessed).
 */
export function continuousArchivingOf(cluster: KubeObject): ContinuousArchivingCondition | undefined {
  const c = arr(cluster, 'status', 'conditions').find((x) => str(x, 'type') === 'ContinuousArchiving');
  const status = str(c, 'status');
  if (status !== 'True' && status !== 'False' && status !== 'Unknown') return undefined;
  const reason = str(c, 'reason');
  const message = str(c, 'message');
  const at = str(c, 'lastTransitionTime');
  return {
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    ...(at ? { lastTransitionTime: at } : {}),
  };
}

export function evaluateSnapshot(snapshot: Snapshot, opts: EvaluateOptions): ClusterReport[] {
  return snapshot.clusters.map((c) => evaluateCluster(c, snapshot.storageClasses, opts));
}
