/**
 * `disk autoresize` without --controller: one pass over the scope (-n, -A,
 * -l, a Cluster name): measure, decide, act, report. For a CronJob, a CI job
 * or a person. The report is the document kind AutoresizeReport (-o json|
 * yaml) or a table; the exit code is the one `disk resize --apply` gives for
 * the same outcomes (docs/cli.md): 0 resized or nothing to do; 1 held or not
 * applied; 2 refused, failed expansion or failed write; 3 could not decide.
 */
import { formatBytes } from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import { ExitCode, usageError } from '../model/errors.js';
import { document, printDocument, type OutputFormat } from '../render/printer.js';
import type { SourceName } from '../model/snapshot.js';
import { resizeExitCode } from '../actions/resize-plan.js';
import { renderTable } from '../render/table.js';
import { sourcesLine } from '../render/common.js';
import { readDefaultPolicy } from './default-policy-file.js';
import { EventRecorder } from './events.js';
import { autoresizePass, type PassResult } from './pass.js';

export interface AutoresizeOnceOptions {
  namespace?: string | undefined;
  allNamespaces: boolean;
  selector?: string | undefined;
  cluster?: string | undefined;
  fromBundle?: string | undefined;
  source: SourceName | 'auto';
  concurrency: number;
  prometheusUrl?: string | undefined;
  output: OutputFormat;
  verbose: boolean;
  defaultPolicyPath?: string | undefined;
  keepSpecInStep: boolean;
  /** Write the Events on the Clusters (the controller always does). */
  events: boolean;
  /** Preview: decide and report, write nothing. */
  dryRun: boolean;
}

export const AUTORESIZE_REPORT_KIND = 'AutoresizeReport';

const q = (b: bigint | undefined) => (b === undefined ? '-' : formatBytes(b));

export function autoresizeTable(r: PassResult, wide: boolean): string {
  const head = ['NAMESPACE', 'CLUSTER', 'PVC', 'VERDICT', 'ACTION', 'SIZE', 'MESSAGE'];
  if (wide) head.splice(3, 0, 'POLICY');
  const rows = r.clusters.flatMap((c) =>
    c.volumes.map((v) => {
      const row = [
        v.namespace,
        v.cluster,
        v.pvc,
        v.reason ? `${v.verdict}/${v.reason}` : v.verdict,
        v.action,
        v.toBytes !== undefined ? `${q(v.fromBytes)} → ${q(v.toBytes)}` : '-',
        v.message,
      ];
      if (wide) row.splice(3, 0, v.policySource);
      return row;
    }),
  );
  return renderTable(head, rows);
}

export function autoresizeDocument(r: PassResult, judgedAt: string, code: ExitCode): Record<string, unknown> {
  const count = (a: string) => r.clusters.reduce((n, c) => n + c.volumes.filter((v) => v.action === a).length, 0);
  return document(AUTORESIZE_REPORT_KIND, {
    judgedAt,
    exitCode: code,
    summary: {
      resized: count('resized'),
      held: count('held'),
      refused: count('refused'),
      failed: count('failed'),
      unknown: count('unknown'),
      skipped: count('skipped'),
      none: count('none'),
    },
    clusters: r.clusters.map((c) => ({
      namespace: c.namespace,
      name: c.name,
      problems: c.problems,
      ...(c.specUpdates ? { specUpdates: c.specUpdates } : {}),
      volumes: c.volumes.map((v) => ({
        pvc: v.pvc,
        instance: v.instance,
        type: v.type,
        ...(v.tablespace !== undefined ? { tablespace: v.tablespace } : {}),
        policySource: v.policySource,
        verdict: v.verdict,
        ...(v.reason ? { reason: v.reason } : {}),
        action: v.action,
        message: v.message,
        ...(v.why ? { why: v.why } : {}),
        ...(v.fromBytes !== undefined ? { fromBytes: v.fromBytes } : {}),
        ...(v.toBytes !== undefined ? { toBytes: v.toBytes } : {}),
        ...(v.conflicts ? { conflicts: v.conflicts } : {}),
        events: v.events.map((e) => ({ type: e.type, reason: e.reason, message: e.message })),
      })),
    })),
  });
}

export async function runAutoresizeOnce(o: AutoresizeOnceOptions, deps: Deps): Promise<ExitCode> {
  if (o.fromBundle) throw usageError('disk autoresize acts on a live cluster; --from-bundle cannot be used');
  const defaultPolicy = o.defaultPolicyPath ? await readDefaultPolicy(o.defaultPolicyPath) : undefined;
  if (defaultPolicy?.error) throw usageError(defaultPolicy.error);
  if (o.allNamespaces && o.namespace) throw usageError('--namespace and --all-namespaces cannot be used together');
  if (o.source === 'prometheus' && !o.prometheusUrl) throw usageError('--source prometheus needs --prometheus-url');
  const client = deps.kube();
  // The live collection every read command makes (app/gather.ts asks the same; the
  // controller layer may not import app, so the options are spelt out here).
  const { collectSnapshot } = await import('../snapshot/collect.js');
  const spinner = deps.io.spinner('connecting');
  const namespace = o.namespace ?? client.currentNamespace;
  let snapshot;
  const measuredFrom = deps.now().getTime();
  try {
    snapshot = await collectSnapshot(client, {
      namespaces: o.allNamespaces ? 'all' : [namespace],
      cluster: o.cluster,
      selector: o.selector,
      source: o.source,
      measure: true,
      concurrency: o.concurrency,
      execTimeoutMs: Math.max(client.timeoutMs, 15_000),
      context: client.kc.getCurrentContext(),
      now: deps.now,
      onProgress: (t) => spinner.update(t),
      prometheusUrl: o.prometheusUrl,
    });
  } finally {
    spinner.stop();
  }
  if (o.cluster !== undefined && !snapshot.clusters.some((c) => c.name === o.cluster)) {
    throw usageError(
      `there is no CloudNativePG Cluster ${JSON.stringify(o.cluster)} in ${o.allNamespaces ? 'any namespace' : `namespace ${namespace}`}`,
      'list them with: kubectl get clusters.postgresql.cnpg.io -A',
    );
  }
  if (snapshot.clusters.length === 0) deps.io.stderr('no CloudNativePG Cluster in scope\n');
  const result = await autoresizePass(snapshot, {
    client,
    now: deps.now,
    ...(defaultPolicy ? { defaultPolicy } : {}),
    keepSpecInStep: o.keepSpecInStep,
    mayAct: () => !o.dryRun,
    walRecheck: {
      notBefore: measuredFrom,
      source: o.source,
      concurrency: o.concurrency,
      prometheusUrl: o.prometheusUrl,
      execTimeoutMs: Math.max(client.timeoutMs, 15_000),
      log: (line) => deps.io.stderr(`wal: ${line}\n`),
    },
    ...(o.events && !o.dryRun
      ? {
          recorder: await startedRecorder(
            client,
            snapshot.clusters.map((c) => c.namespace),
            deps,
          ),
        }
      : {}),
    concurrency: Math.max(1, Math.min(o.concurrency, 16)),
  });
  const code =
    result.items.length === 0
      ? ExitCode.OK
      : resizeExitCode(
          result.items,
          result.clusters.flatMap((c) => c.specUpdates ?? []),
        );
  if (o.output === 'json' || o.output === 'yaml') {
    printDocument(deps.io, o.output, autoresizeDocument(result, snapshot.collectedAt, code));
  } else {
    deps.io.stderr(sourcesLine(snapshot, o.verbose));
    deps.io.stdout(autoresizeTable(result, o.output === 'wide'));
    for (const c of result.clusters)
      for (const p of c.problems) deps.io.stderr(`problem: ${c.namespace}/${c.name}: ${p}\n`);
    if (o.dryRun) deps.io.stderr('dry run: nothing written\n');
  }
  return code;
}

async function startedRecorder(
  client: Parameters<typeof autoresizePass>[1]['client'],
  namespaces: string[],
  deps: Deps,
): Promise<EventRecorder> {
  const r = new EventRecorder(client, {
    identity: 'kubectl-cnpg-disk',
    now: deps.now,
    log: (l) => deps.io.stderr(`warning: ${l}\n`),
  });
  try {
    await r.rebuild([...new Set(namespaces)]);
  } catch (e) {
    deps.io.stderr(
      `warning: cannot read earlier autoresize events (${(e as Error).message}); conditions may be announced again\n`,
    );
  }
  return r;
}
