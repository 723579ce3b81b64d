/**
 * WAL facts read again right before a write (`disk resize --apply`,
 * `--rescue`, the autoresizer): one implementation for both.
 *
 * A resize whose WAL-safety gate passed on WAL facts that may predate the
 * run (core's needsFresherWalFacts: CloudNativePG's metrics cache makes
 * /metrics figures up to metricsQueriesTTL old) is not written on those
 * facts. In order:
 *
 * 1. exec, when the run may use it (`--source auto` or `exec`) and the
 *    identity has `get, create pods/exec`: the SQL query, live;
 * 2. else the same source again once the TTL has passed since the run began
 *    (a bounded wait: at most `maxWaitMs`), whose figures then postdate it;
 * 3. else no write: the WAL facts are too stale to act on.
 *
 * Then the engine decides again on the fresh facts; if that differs from the
 * planned resize (e.g. now blocked by an inactive slot), the fresh decision
 * is the one acted on: nothing is written, and it is reported.
 */
import {
  decide,
  decisionInput,
  formatBytes,
  LEDGER_ANNOTATION,
  needsFresherWalFacts,
  parseLedger,
  walFactsObservedSince,
  type WalHealth,
} from '@cnpg-disk/core';
import type { KubeClient } from '../kube/client.js';
import { annotations, nameOf, pvcFacts } from '../model/kube-objects.js';
import type { ClusterSnapshot, SourceAttempt, SourceName } from '../model/snapshot.js';
import { metricsQueriesTtl } from '../sources/pod-proxy.js';
import { measure } from '../snapshot/collect.js';
import type { PlanItem, ResizePlan } from './resize-plan.js';

export type { WalRecheck } from './resize-plan.js';

/** The longest the write path waits for CloudNativePG's metrics cache. */
export const WAL_RECHECK_MAX_WAIT_MS = 60_000;
/** Beyond the TTL: the cache's own timestamp and the request's way to the pod. */
const CACHE_MARGIN_MS = 1000;

export interface WalRecheckContext {
  client: KubeClient;
  now: () => Date;
  /** When the run began measuring: fresh WAL facts were observed no earlier. */
  notBefore: number;
  /** The run's --source: exec is tried only under auto or exec. */
  source: SourceName | 'auto';
  concurrency: number;
  prometheusUrl?: string | undefined;
  execTimeoutMs: number;
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Progress for people (stderr, the controller's log). */
  log?: (line: string) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The instances' WAL facts from one source, measured again (WAL only: no volume is asked for). */
async function reread(
  cs: ClusterSnapshot,
  pods: Set<string>,
  source: SourceName,
  ctx: WalRecheckContext,
  attempts: SourceAttempt[],
  problems: string[],
): Promise<Map<string, WalHealth>> {
  const clone: ClusterSnapshot = {
    ...cs,
    pods: cs.pods.filter((p) => pods.has(nameOf(p))),
    pvcs: [],
    measurements: [],
  };
  await measure(
    ctx.client,
    [clone],
    {
      namespaces: [cs.namespace],
      source,
      measure: true,
      concurrency: ctx.concurrency,
      execTimeoutMs: ctx.execTimeoutMs,
      context: '',
      now: ctx.now,
      ...(ctx.prometheusUrl ? { prometheusUrl: ctx.prometheusUrl } : {}),
    },
    attempts,
    problems,
  );
  const out = new Map<string, WalHealth>();
  for (const m of clone.measurements) {
    if (m.wal && walFactsObservedSince(m.wal, ctx.notBefore)) out.set(m.pod, m.wal);
  }
  return out;
}

function whyNot(attempts: SourceAttempt[], problems: string[]): string {
  const a = attempts
    .filter((x) => x.outcome !== 'used')
    .map((x) => `${x.source}: ${x.outcome}${x.permission ? ` (${x.permission})` : x.detail ? ` (${x.detail})` : ''}`);
  return [...a, ...problems.slice(0, 2)].join('; ');
}

/**
 * Confirms the WAL facts of every planned resize in `items` that rests on
 * facts older than the run (see above). Items it stops get `result`
 * (not-applied, with the fresh decision when there is one); every item it
 * looked at gets `walRecheck`. Callers write only items without a result.
 */
export async function recheckWalFacts(plan: ResizePlan, items: PlanItem[], ctx: WalRecheckContext): Promise<void> {
  const shape = plan.report.shape;
  const targets = items.filter((i) => {
    const v = i.volume;
    return (
      i.action === 'resize' &&
      !i.result &&
      v.decision !== undefined &&
      v.resolvedPolicy !== undefined &&
      needsFresherWalFacts(
        { volume: v, cluster: shape, policy: v.resolvedPolicy, walHealth: i.walHealth },
        v.decision,
        ctx.notBefore,
      )
    );
  });
  if (targets.length === 0) return;
  const cs = plan.clusterSnapshot;
  const pods = new Set(targets.map((i) => i.volume.instance));
  const fresh = new Map<string, { wal: WalHealth; how: 'exec' | 'rescrape'; waitedMs: number }>();
  const notes: string[] = [];

  // 1. exec, live.
  if (ctx.source === 'auto' || ctx.source === 'exec') {
    ctx.log?.(
      `WAL facts of ${[...pods].join(', ')} may predate this run (metrics cache): trying exec to read them again (used only when permitted)`,
    );
    const attempts: SourceAttempt[] = [];
    const problems: string[] = [];
    const got = await reread(cs, pods, 'exec', ctx, attempts, problems);
    for (const [pod, wal] of got) fresh.set(pod, { wal, how: 'exec', waitedMs: 0 });
    if (got.size < pods.size)
      notes.push(`exec could not read them again (${whyNot(attempts, problems) || 'no answer'})`);
  }

  // 2. The same source once the cache's TTL has passed since the run began.
  const left = [...pods].filter((p) => !fresh.has(p));
  if (left.length > 0) {
    const ttl = metricsQueriesTtl(cs.cluster);
    const maxWait = ctx.maxWaitMs ?? WAL_RECHECK_MAX_WAIT_MS;
    if (!('ms' in ttl)) {
      notes.push(ttl.problem);
    } else {
      const waitMs = Math.max(0, ctx.notBefore + ttl.ms + CACHE_MARGIN_MS - ctx.now().getTime());
      if (waitMs > maxWait) {
        notes.push(
          `waiting out metricsQueriesTTL (${ttl.ms / 1000} s) would take ${Math.ceil(waitMs / 1000)} s, more than the ${maxWait / 1000} s this write may wait`,
        );
      } else {
        ctx.log?.(
          `waiting ${Math.ceil(waitMs / 1000)} s for CloudNativePG's metrics cache (metricsQueriesTTL ${ttl.ms / 1000} s) before reading the WAL facts of ${left.join(', ')} again`,
        );
        await (ctx.sleep ?? defaultSleep)(waitMs);
        const bySource = new Map<SourceName, Set<string>>();
        for (const t of targets) {
          if (!left.includes(t.volume.instance)) continue;
          const s: SourceName = t.walHealth?.source === 'prometheus' ? 'prometheus' : 'pod-proxy';
          const set = bySource.get(s) ?? new Set<string>();
          set.add(t.volume.instance);
          bySource.set(s, set);
        }
        for (const [source, set] of bySource) {
          const attempts: SourceAttempt[] = [];
          const problems: string[] = [];
          const got = await reread(cs, set, source, ctx, attempts, problems);
          for (const [pod, wal] of got) fresh.set(pod, { wal, how: 'rescrape', waitedMs: waitMs });
          if (got.size < set.size) {
            notes.push(
              `${source} read again gave no WAL facts newer than the run (${whyNot(attempts, problems) || 'still cached'})`,
            );
          }
        }
      }
    }
  }

  // 3. Decide again on the fresh facts; act on that decision.
  const now = ctx.now().getTime();
  for (const i of targets) {
    const v = i.volume;
    const planned = v.decision!;
    const stale = i.walHealth;
    const f = fresh.get(v.instance);
    const base = { ...(stale?.observedAt ? { staleObservedAt: stale.observedAt } : {}) };
    if (!f) {
      const message = `not written: the WAL facts of ${v.instance} may predate this run (CloudNativePG caches its metrics for metricsQueriesTTL) and no fresher source could confirm them: ${notes.join('; ') || 'no source answered'}. Grant get, create pods/exec, or run again`;
      i.walRecheck = { how: 'none', outcome: 'stale', ...base, message };
      i.result = { status: 'not-applied', message, attempts: 0, conflicts: 0 };
      continue;
    }
    const decision = decide(
      decisionInput(
        {
          volume: v,
          cluster: shape,
          policy: v.resolvedPolicy!,
          pvc: pvcFacts(i.pvcObject, plan.snapshot.storageClasses, []),
          filesystem: v.filesystem,
          ledger: parseLedger(annotations(i.pvcObject)[LEDGER_ANNOTATION]),
          walHealth: f.wal,
          walSpaceExhausted: v.walSpaceExhausted,
        },
        now,
      ),
    );
    const common = {
      how: f.how,
      ...base,
      ...(f.wal.observedAt ? { observedAt: f.wal.observedAt } : {}),
      ...(f.waitedMs > 0 ? { waitedSeconds: Math.round(f.waitedMs / 100) / 10 } : {}),
    };
    const via = f.how === 'exec' ? 'read again with exec' : 'read again after the metrics cache expired';
    if (decision.verdict === 'resize' && decision.newBytes === planned.newBytes) {
      i.walHealth = f.wal;
      i.walRecheck = {
        ...common,
        outcome: 'confirmed',
        message: `WAL facts ${via}: still ${formatBytes(planned.newBytes ?? 0n)}`,
      };
      continue;
    }
    const message = `not written: the WAL facts of ${v.instance}, ${via}, say ${decision.verdict}${decision.reason ? `/${decision.reason}` : ''}: ${decision.message}`;
    i.walRecheck = { ...common, outcome: 'changed', message };
    i.result = { status: 'not-applied', message, attempts: 0, conflicts: 0, freshDecision: decision };
  }
}
