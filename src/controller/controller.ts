/**
 * `disk autoresize --controller`: the long-running autoresizer.
 *
 *  - caches: list+watch of Clusters, Pods, PVCs, StorageClasses (cache.ts);
 *    a pass builds its Snapshot from memory, so the only requests a steady
 *    state sends are the measurements, the writes and the Lease renewals;
 *  - the loop: every interval (jittered ±10 %) and soon after a relevant
 *    change (a Cluster or PVC edited, a pod that stopped or started: debounced
 *    2 s), measure with the CLI's sources and run one pass (pass.ts);
 *  - only the leader acts (leader.ts); standbys keep their caches warm and
 *    serve /metrics, /healthz, /readyz (server.ts);
 *  - fail closed: caches not synced or a watch broken → no pass (readyz says
 *    why); a pass that throws is logged and counted, the loop goes on;
 *  - SIGTERM: no new pass, the write in flight finishes, the Lease is
 *    released, the process exits 0.
 */
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import { ExitCode, usageError } from '../model/errors.js';
import { CLUSTER_LABEL, label, labels, nameOf, namespaceOf, slim } from '../model/kube-objects.js';
import type { KubeClient } from '../kube/client.js';
import { measure, type CollectOptions } from '../snapshot/collect.js';
import type { ClusterSnapshot, KubeObject, Snapshot, SourceAttempt, SourceName } from '../model/snapshot.js';
import { ObjectCache, type CachedKind } from './cache.js';
import { readDefaultPolicy } from './default-policy-file.js';
import { EventRecorder } from './events.js';
import { LeaderElector } from './leader.js';
import { ControllerMetrics } from './metrics.js';
import { autoresizePass, type PassResult } from './pass.js';
import { startHealthServer, type HealthServer } from './server.js';

export interface ControllerOptions {
  /** Watched namespaces; undefined = all. */
  namespaces?: string[];
  /** Label selector on Clusters. */
  selector?: string;
  intervalMs: number;
  source: SourceName | 'auto';
  prometheusUrl?: string;
  concurrency: number;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  metricsHost: string;
  metricsPort: number;
  defaultPolicyPath?: string;
  keepSpecInStep: boolean;
  /** Lease timing (tests shorten nothing by default). */
  lease?: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  /** How long an access answer (SelfSubjectAccessReview) is reused; default 5 min. */
  accessTtlMs?: number;
  log: (line: string) => void;
  /** Called when a write has finished (logs; tests interrupt a pass here). */
  onWrite?: () => void;
}

/**
 * A view of the client whose SelfSubjectAccessReviews are answered from a
 * cache for `ttlMs`: the sources ask "may I?" before every pass, and the
 * answer changes only when someone edits RBAC. Everything else is the
 * client itself (prototype chain), requests counted as before.
 */
export function withCachedAccess(client: KubeClient, ttlMs: number, now: () => number = Date.now): KubeClient {
  const cache = new Map<string, { at: number; answer: unknown }>();
  const view = Object.create(client) as KubeClient;
  const post = client.postJson.bind(client);
  Object.defineProperty(view, 'postJson', {
    value: async (apiPath: string, body: unknown, action: string): Promise<unknown> => {
      if (!apiPath.endsWith('/selfsubjectaccessreviews')) return post(apiPath, body, action);
      const key = JSON.stringify((body as { spec?: unknown } | null)?.spec);
      const hit = cache.get(key);
      if (hit && now() - hit.at < ttlMs) return hit.answer;
      const answer = await post(apiPath, body, action);
      cache.set(key, { at: now(), answer });
      return answer;
    },
  });
  return view;
}

/** Plain API JSON (the informers hold client-node model objects with Date fields). */
function plain(o: unknown): KubeObject {
  return slim(JSON.parse(JSON.stringify(o)) as KubeObject);
}

/** The Snapshot of a pass, from the caches (no request). */
export function snapshotFromCache(
  cache: ObjectCache,
  o: { selector?: LabelSelector; namespaces?: string[]; server: string; now: Date },
): Snapshot {
  const clusters = cache
    .list('clusters')
    .map(plain)
    .filter((c) => !o.selector || matchesLabelSelector(o.selector, labels(c)));
  const byNs = new Map<string, { pods: KubeObject[]; pvcs: KubeObject[] }>();
  const objs = (ns: string) => {
    let e = byNs.get(ns);
    if (!e) {
      e = {
        pods: cache.list('pods', ns).map(plain),
        pvcs: cache.list('persistentvolumeclaims', ns).map(plain),
      };
      byNs.set(ns, e);
    }
    return e;
  };
  const snaps: ClusterSnapshot[] = clusters.map((c) => {
    const ns = namespaceOf(c);
    const name = nameOf(c);
    const mine = (x: KubeObject) => label(x, CLUSTER_LABEL) === name;
    const { pods, pvcs } = objs(ns);
    return {
      namespace: ns,
      name,
      cluster: c,
      pods: pods.filter(mine),
      pvcs: pvcs.filter(mine),
      events: [],
      measurements: [],
    };
  });
  return {
    collectedAt: o.now.toISOString(),
    origin: { kind: 'live', server: o.server, context: 'in-cluster' },
    namespaces: o.namespaces ?? 'all',
    clusters: snaps,
    storageClasses: cache.list('storageclasses').map(plain),
    sources: [],
    problems: [],
  };
}

const RELEVANT: ReadonlySet<CachedKind> = new Set(['clusters', 'persistentvolumeclaims', 'pods']);

export class Controller {
  readonly metrics = new ControllerMetrics();
  cache: ObjectCache | undefined;
  readonly elector: LeaderElector;
  readonly recorder: EventRecorder;
  private server: HealthServer | undefined;
  private readonly client: KubeClient;
  private readonly selector: LabelSelector | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: NodeJS.Timeout | undefined;
  private stopping = false;
  private passing: Promise<unknown> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private recorderReady = false;
  /** Passes run (tests and logs). */
  passes = 0;
  lastPass: PassResult | undefined;

  constructor(
    client: KubeClient,
    private readonly o: ControllerOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.client = withCachedAccess(client, o.accessTtlMs ?? 5 * 60_000);
    if (o.selector) {
      const parsed = parseLabelSelector(o.selector);
      if (!parsed.ok) throw usageError(`-l ${JSON.stringify(o.selector)}: ${parsed.error}`);
      this.selector = parsed.selector;
    }
    this.elector = new LeaderElector({
      client,
      namespace: o.leaseNamespace,
      name: o.leaseName,
      identity: o.identity,
      ...o.lease,
      log: o.log,
      onStartedLeading: () => {
        this.metrics.leader.set(1);
        this.schedule(0);
      },
      onStoppedLeading: () => this.metrics.leader.set(0),
    });
    this.recorder = new EventRecorder(client, { identity: o.identity, now, log: o.log });
  }

  get port(): number | undefined {
    return this.server?.port;
  }

  /** Why the process is not ready, or undefined. */
  notReady(): string | undefined {
    if (!this.cache) return 'caches not listed yet';
    const broken = this.cache.unhealthy;
    if (broken.length > 0) return `watch of ${broken.join(', ')} broken; re-listing`;
    return undefined;
  }

  async start(): Promise<void> {
    this.server = await startHealthServer({
      host: this.o.metricsHost,
      port: this.o.metricsPort,
      metrics: this.metrics,
      notReady: () => this.notReady(),
    });
    this.o.log(`serving /metrics, /healthz, /readyz on ${this.o.metricsHost}:${this.server.port}`);
    // The caches: retried until they list (RBAC not applied yet, API server restarting).
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        this.cache = await ObjectCache.start(this.client, {
          ...(this.o.namespaces ? { namespaces: this.o.namespaces } : {}),
          onChange: (kind) => {
            if (RELEVANT.has(kind)) this.soon();
          },
          onError: (kind, err) => {
            this.metrics.sourceErrors.inc({ source: 'api' });
            this.o.log(`watch of ${kind} failed: ${String((err as Error)?.message ?? err)}; restarting it`);
          },
        });
        break;
      } catch (e) {
        this.metrics.sourceErrors.inc({ source: 'api' });
        this.o.log(`cannot list and watch (attempt ${attempt}): ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(30_000, 1_000 * attempt)));
      }
    }
    this.elector.start();
    this.schedule(this.jittered());
  }

  private jittered(): number {
    return Math.round(this.o.intervalMs * (0.9 + Math.random() * 0.2));
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  /** A relevant change: a pass soon (debounced), not one per event. */
  private soon(): void {
    if (this.stopping || this.wake || !this.elector.isLeader) return;
    this.wake = setTimeout(() => {
      this.wake = undefined;
      this.schedule(0);
    }, 2_000);
  }

  private async tick(): Promise<void> {
    if (this.stopping) return;
    if (!this.passing) {
      this.passing = this.pass()
        .catch((e: unknown) => this.o.log(`pass failed: ${(e as Error).stack ?? String(e)}`))
        .finally(() => (this.passing = undefined));
      await this.passing;
    }
    this.schedule(this.jittered());
  }

  private sleepUnlessStopping(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const end = Date.now() + ms;
      const tick = () =>
        this.stopping || Date.now() >= end ? resolve() : setTimeout(tick, Math.min(200, end - Date.now()));
      tick();
    });
  }

  private mayAct = (): boolean => !this.stopping && this.elector.isLeader;

  /** One pass, when leading and the caches are sound. Returns undefined when it did not run. */
  async pass(): Promise<PassResult | undefined> {
    if (!this.mayAct() || !this.cache || this.notReady()) return undefined;
    const started = process.hrtime.bigint();
    if (!this.recorderReady) {
      await this.recorder.rebuild(this.o.namespaces);
      this.recorderReady = true;
    }
    const now = this.now();
    const measuredFrom = now.getTime();
    const snapshot = snapshotFromCache(this.cache, {
      ...(this.selector ? { selector: this.selector } : {}),
      ...(this.o.namespaces ? { namespaces: this.o.namespaces } : {}),
      server: this.client.server,
      now,
    });
    if (snapshot.clusters.length > 0) {
      const opts: CollectOptions = {
        namespaces: this.o.namespaces ?? 'all',
        source: this.o.source,
        measure: true,
        concurrency: this.o.concurrency,
        execTimeoutMs: 20_000,
        context: 'in-cluster',
        now: this.now,
        ...(this.o.prometheusUrl ? { prometheusUrl: this.o.prometheusUrl } : {}),
      };
      const sources: SourceAttempt[] = [];
      await measure(this.client, snapshot.clusters, opts, sources, snapshot.problems);
      snapshot.sources = sources;
      for (const s of sources) if (s.outcome === 'failed') this.metrics.sourceErrors.inc({ source: s.source });
    }
    const defaultPolicy = this.o.defaultPolicyPath ? await readDefaultPolicy(this.o.defaultPolicyPath) : undefined;
    if (defaultPolicy?.error) {
      this.metrics.sourceErrors.inc({ source: 'default-policy' });
      this.o.log(defaultPolicy.error);
    }
    const result = await autoresizePass(snapshot, {
      client: this.client,
      now: this.now,
      ...(defaultPolicy ? { defaultPolicy } : {}),
      keepSpecInStep: this.o.keepSpecInStep,
      maxFactAgeMs: 2 * this.o.intervalMs,
      mayAct: this.mayAct,
      walRecheck: {
        notBefore: measuredFrom,
        source: this.o.source,
        concurrency: this.o.concurrency,
        prometheusUrl: this.o.prometheusUrl,
        execTimeoutMs: 20_000,
        // A stop ends the wait at once; the write is then not made (mayAct is false).
        sleep: (ms) => this.sleepUnlessStopping(ms),
        log: (line) => this.o.log(line),
      },
      metrics: this.metrics,
      recorder: this.recorder,
      concurrency: this.o.concurrency,
      track: (p) => {
        this.inFlight.add(p);
        void p.finally(() => {
          this.inFlight.delete(p);
          this.o.onWrite?.();
        });
      },
    });
    for (const c of result.clusters) {
      for (const v of c.volumes) {
        if (v.action === 'resized') this.o.log(`resized ${v.namespace}/${v.pvc}: ${v.message} (${v.why ?? 'engine'})`);
      }
      for (const p of c.problems) this.o.log(`${c.namespace}/${c.name}: ${p}`);
    }
    this.passes++;
    this.lastPass = result;
    this.metrics.loopDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.lastLoop.set(Date.now() / 1000);
    return result;
  }

  /**
   * Graceful stop: no new pass or write; the write in flight finishes; the
   * Lease is released (`release: false` abandons it, as a crash would).
   */
  async stop(opts: { release: boolean } = { release: true }): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.wake) clearTimeout(this.wake);
    await Promise.allSettled([...this.inFlight]);
    await this.passing?.catch(() => undefined);
    await this.elector.stop(opts);
    this.metrics.leader.set(0);
    await this.cache?.stop();
    await this.server?.close();
  }
}

/** The command's run: start, then wait for SIGTERM/SIGINT and stop gracefully. */
export async function runController(o: ControllerOptions, deps: Deps): Promise<ExitCode> {
  const c = new Controller(deps.kube(), o, deps.now);
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    o.log(`${sig}: finishing the write in flight, releasing the Lease`);
    stop?.();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await c.start();
  await stopped;
  await c.stop({ release: true });
  o.log('stopped');
  return ExitCode.OK;
}
