/**
 * diagnose: every check at once, ranked critical → warning → info, each
 * with the command that fixes or investigates it; `--bundle FILE` also
 * writes a support bundle (docs/bundle.md). Secrets are never read: no code
 * path here lists or gets secrets.
 */
import YAML from 'yaml';
import pLimit from 'p-limit';
import type { ContextDepsSet, Deps } from '../cli/deps.js';
import { CliError, ExitCode, exitCodeForSeverities, usageError } from '../model/errors.js';
import { bufferIO, type IOStreams } from '../cli/io.js';
import { document, documentJson, printResult, type OutputFormat } from '../render/printer.js';
import { evaluateSnapshot, type ClusterReport } from '../analysis/evaluate.js';
import { sortFindings, type Finding } from '../analysis/findings.js';
import { arr, get, nameOf, str } from '../model/kube-objects.js';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { renderFindings, sourcesLine } from '../render/common.js';
import { BUNDLE_MANIFEST_PATH, BUNDLE_SNAPSHOT_PATH } from '../snapshot/bundle.js';
import {
  BundleBuilder,
  bundleRoot,
  LOG_MAX_BYTES,
  LOG_TAIL_LINES,
  MAX_BUNDLE_BYTES,
  REDACTION_RULES,
  redactObject,
  redactText,
  openBundleTarget,
  type BundleTarget,
} from '../snapshot/bundle-write.js';
import type { KubeObject, Snapshot } from '../model/snapshot.js';
import { apiGet } from '../sources/pod-proxy.js';
import {
  gatherSnapshot,
  judgedAt,
  liveCollectOptions,
  requirePrometheusUrl,
  snapshotHeader,
  type ScopeOptions,
} from './gather.js';
import {
  contextErrorsText,
  contextPrefixed,
  contextsDocument,
  evaluateContexts,
  labelFindings,
  worstExitCode,
} from './contexts.js';

export interface DiagnoseOptions extends ScopeOptions {
  output: OutputFormat;
  verbose: boolean;
  /** Write a support bundle to this file. */
  bundle?: string | undefined;
  /** Replace an existing --bundle file (never through a symbolic link). */
  force?: boolean | undefined;
  /** Redact credentials in the bundle (default true; --no-redact turns it off). */
  redact: boolean;
  /** This plugin's version, recorded in the bundle. */
  pluginVersion: string;
}

export interface BundleInfo {
  file: string;
  bytes: number;
  files: number;
  redacted: boolean;
  failed: { what: string; reason: string; permission?: string }[];
}

function describe(e: unknown): { reason: string; permission?: string } {
  if (e instanceof KubeApiError) {
    return {
      reason: `${e.status ?? e.reason ?? 'error'}: ${e.message}`,
      ...(e.isForbidden ? { permission: e.action.replace(/ (in|of) .*$/, '') } : {}),
    };
  }
  return { reason: e instanceof Error ? e.message : String(e) };
}

function yamlList(objs: unknown[]): string {
  return YAML.stringify({ apiVersion: 'v1', kind: 'List', items: objs }, { lineWidth: 0 });
}

/** `scope`: what follows "in N cluster(s)" in the heading (the contexts of a several-context run). */
export function diagnosisText(io: IOStreams, reports: ClusterReport[], findings: Finding[], scope = ''): string {
  const count = (s: Finding['severity']) => findings.filter((f) => f.severity === s).length;
  const out = `DIAGNOSIS: ${count('critical')} critical, ${count('warning')} warning, ${count('info')} info in ${reports.length} cluster(s)${scope}\n`;
  if (findings.length === 0) return out + 'no problems found\n';
  return out + '\n' + renderFindings(io, findings, { ran: { command: 'diagnose', verbose: true } });
}

export function diagnosisDocument(
  snapshot: Snapshot,
  reports: ClusterReport[],
  findings: Finding[],
  bundle?: BundleInfo,
): Record<string, unknown> {
  const count = (fs: Finding[], s: Finding['severity']) => fs.filter((f) => f.severity === s).length;
  return document('Diagnosis', {
    ...snapshotHeader(snapshot),
    summary: {
      clusters: reports.length,
      critical: count(findings, 'critical'),
      warning: count(findings, 'warning'),
      info: count(findings, 'info'),
    },
    clusters: reports.map((r) => ({
      namespace: r.namespace,
      name: r.name,
      phase: r.phase,
      primary: r.primary,
      instances: r.instances.length,
      volumes: r.volumes.length,
      critical: count(r.findings, 'critical'),
      warning: count(r.findings, 'warning'),
      info: count(r.findings, 'info'),
    })),
    findings,
    ...(bundle ? { bundle } : {}),
  });
}

/** Live collection for a bundle: the snapshot, the instance payloads, and what only people read. */
async function collectBundle(
  opts: DiagnoseOptions,
  deps: Deps,
): Promise<{ snapshot: Snapshot; reports: ClusterReport[]; findings: Finding[]; info: BundleInfo }> {
  const file = opts.bundle as string;
  // The target is checked and opened before anything is collected.
  const target = await openBundleTarget(file, opts.force === true);
  try {
    return await collectBundleInto(target, opts, deps);
  } finally {
    await target.abort();
  }
}

async function collectBundleInto(
  target: BundleTarget,
  opts: DiagnoseOptions,
  deps: Deps,
): Promise<{ snapshot: Snapshot; reports: ClusterReport[]; findings: Finding[]; info: BundleInfo }> {
  const file = target.file;
  const client = deps.kube();
  const { collectSnapshot } = await import('../snapshot/collect.js');
  const spinner = deps.io.spinner('connecting');
  const payloads = new Map<string, { 'pg-status'?: string; metrics?: string }>();
  let snapshot: Snapshot;
  try {
    snapshot = await collectSnapshot(client, {
      ...liveCollectOptions({ ...opts, measure: true }, client, deps, (t) => spinner.update(t)),
      onPayload: (ns, pod, kind, body) => {
        const k = `${ns}/${pod}`;
        payloads.set(k, { ...payloads.get(k), [kind]: body });
      },
    });
    spinner.update('collecting logs, events and versions for the bundle');
    const now = judgedAt(snapshot, deps);
    const reports = evaluateSnapshot(snapshot, { now });
    const findings = sortFindings(reports.flatMap((r) => r.findings));
    const b = new BundleBuilder(MAX_BUNDLE_BYTES);
    const red = <T>(o: T): T => (opts.redact ? redactObject(o) : o);
    const redText = (t: string): string => (opts.redact ? redactText(t) : t);
    const at = new Date(snapshot.collectedAt);
    const root = bundleRoot(at);

    // 1. snapshot.json: exactly what readBundle reads back.
    b.add(
      BUNDLE_SNAPSHOT_PATH,
      documentJson(document('Snapshot', red({ ...snapshot } as unknown as Record<string, unknown>))) + '\n',
      'the Snapshot every read command uses with --from-bundle',
    );
    b.add(
      'diagnosis.txt',
      redText(diagnosisText(bufferIO(), reports, findings)),
      'the findings, as diagnose prints them',
    );

    // 2. Objects, per cluster.
    const extra = await collectExtras(client, snapshot, b, opts, payloads);
    b.add('storageclasses.yaml', yamlList(red(snapshot.storageClasses)), 'storage classes');
    b.add('persistentvolumes.yaml', yamlList(red(extra.pvs)), 'PersistentVolumes bound to the clusters’ PVCs');
    b.add(
      'versions.json',
      JSON.stringify(extra.versions, null, 2) + '\n',
      'API server, operator, instance and plugin versions',
    );
    for (const cs of snapshot.clusters) {
      const dir = `${cs.namespace}/${cs.name}`;
      const report = reports.find((r) => r.namespace === cs.namespace && r.name === cs.name);
      b.add(`${dir}/cluster.yaml`, YAML.stringify(red(cs.cluster), { lineWidth: 0 }), 'the Cluster');
      b.add(`${dir}/pods.yaml`, yamlList(red(cs.pods)), 'instance pods');
      b.add(`${dir}/pvcs.yaml`, yamlList(red(cs.pvcs)), 'PersistentVolumeClaims');
      b.add(
        `${dir}/events.yaml`,
        yamlList(red(extra.events.get(dir) ?? cs.events)),
        'events of the Cluster, its pods and PVCs',
      );
      b.add(
        `${dir}/facts.json`,
        documentJson(
          document('ClusterFacts', {
            namespace: cs.namespace,
            name: cs.name,
            measurements: red(cs.measurements),
            volumes: (report?.volumes ?? []).map((v) => ({
              pvc: v.pvcName,
              instance: v.instance,
              type: v.type,
              tablespace: v.tablespace,
              requestBytes: v.pvc.requestBytes,
              capacityBytes: v.pvc.capacityBytes,
              filesystem: v.filesystem,
              verdict: v.decision?.verdict,
            })),
            findings: report?.findings ?? [],
          }),
        ) + '\n',
        'filesystem and WAL facts per instance, and the findings',
      );
    }
    // 3. Per-instance payloads, then logs (largest last: they go first when the budget runs out).
    for (const cs of snapshot.clusters) {
      for (const p of cs.pods) {
        const pod = nameOf(p);
        const dir = `${cs.namespace}/${cs.name}/${pod}`;
        const pl = payloads.get(`${cs.namespace}/${pod}`);
        if (pl?.['pg-status'] !== undefined) {
          let text = pl['pg-status'];
          try {
            text = JSON.stringify(red(JSON.parse(text) as unknown), null, 2) + '\n';
          } catch {
            text = redText(text);
          }
          b.add(`${dir}/pg-status.json`, text, `/pg/status of ${pod}`);
        }
        if (pl?.metrics !== undefined) b.add(`${dir}/metrics.txt`, redText(pl.metrics), `/metrics of ${pod}`);
      }
    }
    for (const l of extra.logs) b.add(l.path, redText(l.text), l.description);

    const manifest = {
      apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
      kind: 'BundleManifest',
      createdAt: snapshot.collectedAt,
      tool: { name: 'kubectl-cnpg-disk', version: opts.pluginVersion },
      origin: snapshot.origin,
      scope: {
        namespaces: snapshot.namespaces,
        ...(opts.cluster ? { cluster: opts.cluster } : {}),
        ...(opts.selector ? { selector: opts.selector } : {}),
      },
      secretsRead: false,
      redaction: { enabled: opts.redact, rules: opts.redact ? REDACTION_RULES : [] },
      limits: { logTailLines: LOG_TAIL_LINES, logMaxBytes: LOG_MAX_BYTES, bundleMaxBytes: MAX_BUNDLE_BYTES },
      sources: snapshot.sources,
      entries: [...b.entries]
        .sort((x, y) => x.path.localeCompare(y.path))
        .map((e) => ({ path: e.path, description: e.description, bytes: Buffer.byteLength(e.content) })),
      failed: b.failed,
    };
    b.entries.push({
      path: BUNDLE_MANIFEST_PATH,
      content: JSON.stringify(manifest, null, 2) + '\n',
      description: 'what was collected and what failed',
    });
    spinner.update(`writing ${file}`);
    let bytes: number;
    try {
      bytes = await target.write(root, b.entries, at);
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw usageError(
        `cannot write the bundle ${file}: ${(e as Error).message}`,
        'check the path and that it is writable',
      );
    }
    return {
      snapshot,
      reports,
      findings,
      info: { file, bytes, files: b.entries.length, redacted: opts.redact, failed: b.failed },
    };
  } finally {
    spinner.stop();
  }
}

interface Extras {
  pvs: KubeObject[];
  /** All events (not only warnings) per `ns/cluster`. */
  events: Map<string, KubeObject[]>;
  logs: { path: string; text: string; description: string }[];
  versions: Record<string, unknown>;
}

async function collectExtras(
  client: KubeClient,
  snapshot: Snapshot,
  b: BundleBuilder,
  opts: DiagnoseOptions,
  payloads: Map<string, { 'pg-status'?: string; metrics?: string }>,
): Promise<Extras> {
  const limit = pLimit(Math.max(1, opts.concurrency));
  const timeout = Math.max(client.timeoutMs, 15_000);
  const plain = (o: unknown): KubeObject => {
    const p = JSON.parse(JSON.stringify(o)) as KubeObject;
    if (p.metadata && 'managedFields' in p.metadata) delete p.metadata['managedFields'];
    return p;
  };
  const out: Extras = { pvs: [], events: new Map(), logs: [], versions: {} };

  // PersistentVolumes: one list, filtered to the volumes our PVCs are bound to.
  const wanted = new Set(
    snapshot.clusters.flatMap((c) => c.pvcs.map((p) => str(p, 'spec', 'volumeName')).filter((v): v is string => !!v)),
  );
  if (wanted.size > 0) {
    try {
      const list = await client.call('list persistentvolumes', async () =>
        (await client.apis()).core.listPersistentVolume(),
      );
      out.pvs = (list.items ?? []).map(plain).filter((pv) => wanted.has(nameOf(pv)));
    } catch (e) {
      const d = describe(e);
      b.fail('persistentvolumes.yaml', d.reason, d.permission);
    }
  }

  // Events of every type (the snapshot keeps warnings only), one list per namespace.
  const namespaces = [...new Set(snapshot.clusters.map((c) => c.namespace))];
  await Promise.all(
    namespaces.map((namespace) =>
      limit(async () => {
        try {
          const list = await client.call(`list events in ${namespace}`, async () =>
            (await client.apis()).core.listNamespacedEvent({ namespace }),
          );
          const items = (list.items ?? []).map(plain);
          for (const cs of snapshot.clusters.filter((c) => c.namespace === namespace)) {
            const names = new Set([cs.name, ...cs.pods.map(nameOf), ...cs.pvcs.map(nameOf)]);
            out.events.set(
              `${namespace}/${cs.name}`,
              items.filter((e) => names.has(str(e, 'involvedObject', 'name') ?? '')),
            );
          }
        } catch (e) {
          const d = describe(e);
          b.fail(
            `events of namespace ${namespace} (only the warnings of the snapshot are included)`,
            d.reason,
            d.permission,
          );
        }
      }),
    ),
  );

  // Logs of the postgres container: current and, after a restart, previous; bounded.
  await Promise.all(
    snapshot.clusters.flatMap((cs) =>
      cs.pods.map((p) =>
        limit(async () => {
          const pod = nameOf(p);
          const statuses = arr(p, 'status', 'containerStatuses');
          const pg = statuses.find((s) => str(s, 'name') === 'postgres');
          const restarted =
            Number(get(pg, 'restartCount') ?? 0) > 0 || get(pg, 'lastState', 'terminated') !== undefined;
          for (const previous of restarted ? [false, true] : [false]) {
            const path = `${cs.namespace}/${cs.name}/${pod}/postgres${previous ? '.previous' : ''}.log`;
            try {
              const text = await client.call(`get pods/log ${cs.namespace}/${pod}`, async () =>
                (await client.apis()).core.readNamespacedPodLog({
                  name: pod,
                  namespace: cs.namespace,
                  container: 'postgres',
                  tailLines: LOG_TAIL_LINES,
                  limitBytes: LOG_MAX_BYTES,
                  ...(previous ? { previous: true } : {}),
                }),
              );
              out.logs.push({
                path,
                text: typeof text === 'string' ? text : JSON.stringify(text),
                description: `${previous ? 'previous' : 'current'} log of ${pod}/postgres (last ${LOG_TAIL_LINES} lines, at most ${LOG_MAX_BYTES} bytes)`,
              });
            } catch (e) {
              const d = describe(e);
              b.fail(path, d.reason, d.permission);
            }
          }
        }),
      ),
    ),
  );
  out.logs.sort((x, y) => x.path.localeCompare(y.path));

  // Versions.
  try {
    const r = await apiGet(client, '/version', 'get /version', timeout);
    out.versions['apiServer'] = r.status === 200 ? (JSON.parse(r.body) as unknown) : { error: `HTTP ${r.status}` };
    if (r.status !== 200) b.fail('API server version', `HTTP ${r.status}`);
  } catch (e) {
    b.fail('API server version', describe(e).reason);
  }
  try {
    const r = await apiGet(
      client,
      '/apis/apps/v1/deployments?labelSelector=' + encodeURIComponent('app.kubernetes.io/name=cloudnative-pg'),
      'list deployments.apps',
      timeout,
    );
    if (r.status === 200) {
      const items = arr(JSON.parse(r.body) as unknown, 'items');
      out.versions['operator'] = items.map((d) => ({
        namespace: str(d, 'metadata', 'namespace'),
        name: str(d, 'metadata', 'name'),
        images: arr(d, 'spec', 'template', 'spec', 'containers').map((c) => str(c, 'image')),
      }));
      if (items.length === 0)
        b.fail('operator version', 'no Deployment labelled app.kubernetes.io/name=cloudnative-pg');
    } else {
      b.fail(
        'operator version',
        `HTTP ${r.status} listing Deployments`,
        r.status === 403 ? 'list deployments.apps (all namespaces)' : undefined,
      );
    }
  } catch (e) {
    b.fail('operator version', describe(e).reason);
  }
  out.versions['instances'] = snapshot.clusters.flatMap((cs) =>
    cs.pods.map((p) => {
      const pod = nameOf(p);
      const pg = arr(p, 'spec', 'containers').find((c) => str(c, 'name') === 'postgres');
      let im: string | undefined;
      const status = payloads.get(`${cs.namespace}/${pod}`)?.['pg-status'];
      if (status) {
        try {
          im = str(JSON.parse(status) as unknown, 'instanceManagerVersion');
        } catch {
          // unreadable status: no version
        }
      }
      return {
        namespace: cs.namespace,
        cluster: cs.name,
        pod,
        image: str(pg, 'image'),
        ...(im ? { instanceManagerVersion: im } : {}),
      };
    }),
  );
  out.versions['plugin'] = { name: 'kubectl-cnpg-disk', version: opts.pluginVersion, node: process.version };
  return out;
}

function checkDiagnoseOptions(opts: DiagnoseOptions): void {
  if (opts.bundle && opts.fromBundle) {
    throw usageError('--bundle writes a bundle from a live cluster; it cannot be combined with --from-bundle');
  }
  if (opts.force && !opts.bundle) throw usageError('--force only applies to --bundle FILE');
  if (opts.allNamespaces && opts.namespace)
    throw usageError('--namespace and --all-namespaces cannot be used together');
  requirePrometheusUrl(opts); // before --bundle's live collection, as gatherSnapshot does for the rest
}

interface DiagnoseEvaluation {
  snapshot: Snapshot;
  reports: ClusterReport[];
  findings: Finding[];
  exitCode: ExitCode;
  /** Why the exit code says "could not evaluate" although no finding does (stderr lines). */
  notEvaluated: string[];
}

/**
 * The exit code of a diagnosis: the worst finding; and when volumes exist
 * but not one was measured, "could not evaluate" with the reason (never a
 * silent 0).
 */
function diagnosisExitCode(
  snapshot: Snapshot,
  reports: ClusterReport[],
  findings: Finding[],
): { exitCode: ExitCode; notEvaluated: string[] } {
  const code = exitCodeForSeverities(findings.map((f) => f.severity));
  const volumes = reports.flatMap((r) => r.volumes);
  const denied = snapshot.sources.filter((s) => s.outcome === 'denied');
  if (code !== ExitCode.OK || volumes.length === 0 || volumes.some((v) => v.filesystem))
    return { exitCode: code, notEvaluated: [] };
  if (snapshot.origin.kind === 'live' && denied.length > 0 && !snapshot.sources.some((s) => s.outcome === 'used')) {
    return {
      exitCode: ExitCode.UNKNOWN,
      notEvaluated: [
        'error: no source of filesystem or WAL facts is permitted, so the volumes could not be checked\n',
        ...[...new Set(denied.map((d) => d.permission))].map((p) => `  hint: grant "${p}"\n`),
      ],
    };
  }
  return {
    exitCode: ExitCode.UNKNOWN,
    notEvaluated: [
      'error: no volume could be measured, so the volumes could not be checked (see the NOT_MEASURED findings)\n',
    ],
  };
}

async function evaluateDiagnosis(opts: DiagnoseOptions, deps: Deps): Promise<DiagnoseEvaluation> {
  const snapshot = await gatherSnapshot({ ...opts, measure: true }, deps);
  const reports = evaluateSnapshot(snapshot, { now: judgedAt(snapshot, deps) });
  const findings = sortFindings(reports.flatMap((r) => r.findings));
  return { snapshot, reports, findings, ...diagnosisExitCode(snapshot, reports, findings) };
}

export async function runDiagnose(opts: DiagnoseOptions, deps: Deps): Promise<ExitCode> {
  checkDiagnoseOptions(opts);
  let e: DiagnoseEvaluation;
  let bundle: BundleInfo | undefined;
  if (opts.bundle) {
    const r = await collectBundle(opts, deps);
    e = { ...r, ...diagnosisExitCode(r.snapshot, r.reports, r.findings) };
    bundle = r.info;
  } else {
    e = await evaluateDiagnosis(opts, deps);
  }
  const { snapshot, reports, findings } = e;
  const { io } = deps;
  printResult(io, opts.output, {
    document: () => diagnosisDocument(snapshot, reports, findings, bundle),
    text: () => {
      io.stderr(sourcesLine(snapshot, opts.verbose));
      if (reports.length === 0) io.stderr('no CloudNativePG clusters found\n');
      else io.stdout(diagnosisText(io, reports, findings));
    },
  });
  if (bundle) {
    io.stderr(
      `bundle written: ${bundle.file} (mode 0600, ${bundle.bytes} bytes, ${bundle.files} files${bundle.redacted ? ', redacted' : ', NOT redacted'})\n`,
    );
    if (bundle.failed.length > 0) {
      io.stderr(`  ${bundle.failed.length} item(s) could not be collected (listed in manifest.json):\n`);
      for (const f of bundle.failed.slice(0, opts.verbose ? undefined : 5)) {
        io.stderr(`  - ${f.what}: ${f.reason}${f.permission ? ` (grant "${f.permission}")` : ''}\n`);
      }
    }
  }
  // Volumes exist but not one was measured: the findings are printed, and the
  // exit code says the disks could not be evaluated (never a silent 0).
  for (const line of e.notEvaluated) io.stderr(line);
  return e.exitCode;
}

/**
 * `diagnose` over several contexts (docs/cli.md): the findings of every
 * context ranked together, each labelled `[context]`; a context that could
 * not be evaluated is said after them, with its reason; `-o json|yaml` a
 * DiagnosisList. `--bundle` is refused before (one bundle is one context).
 */
export async function runDiagnoseContexts(
  opts: DiagnoseOptions,
  set: ContextDepsSet,
  bound: number,
): Promise<ExitCode> {
  checkDiagnoseOptions(opts);
  const results = await evaluateContexts(
    set,
    bound,
    async (deps) => {
      const e = await evaluateDiagnosis(opts, deps);
      return { value: e, exitCode: e.exitCode };
    },
    opts,
  );
  const { io } = set;
  printResult(io, opts.output, {
    document: () =>
      contextsDocument<DiagnoseEvaluation>('Diagnosis', results, (e) =>
        diagnosisDocument(e.snapshot, e.reports, e.findings),
      ),
    text: () => {
      const reports: ClusterReport[] = [];
      const findings: Finding[] = [];
      for (const r of results) {
        if (!r.value) continue;
        io.stderr(contextPrefixed(r.context, sourcesLine(r.value.snapshot, opts.verbose)));
        if (r.value.reports.length === 0) io.stderr(contextPrefixed(r.context, 'no CloudNativePG clusters found\n'));
        for (const line of r.value.notEvaluated) io.stderr(contextPrefixed(r.context, line));
        reports.push(...r.value.reports);
        findings.push(...labelFindings(r.context, r.value.findings));
      }
      const evaluated = results.filter((r) => r.value).length;
      const failed = results.length - evaluated;
      const text = diagnosisText(
        io,
        reports,
        sortFindings(findings),
        ` of ${evaluated} context(s)${failed > 0 ? `, ${failed} context(s) not evaluated` : ''}`,
      );
      // "No problems" holds only for the contexts that could be read.
      io.stdout(
        failed > 0 ? text.replace(/no problems found\n$/, 'no problems found in the contexts evaluated\n') : text,
      );
      const errors = contextErrorsText(results);
      if (errors) io.stdout('\n' + errors);
    },
  });
  return worstExitCode(results.map((r) => r.exitCode));
}
