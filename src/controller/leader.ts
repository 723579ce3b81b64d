/**
 * Leader election on one coordination.k8s.io/v1 Lease.
 *
 * Written here because @kubernetes/client-node 1.4.0 has no leader-election
 * helper. The rules are those of the usual Kubernetes controllers:
 *
 *  - lease duration 15 s, renew deadline 10 s, retry period 2 s (defaults);
 *  - a candidate takes the Lease when it is free (no holder: released) or
 *    when the record has not changed for a whole lease duration **as seen by
 *    this process's own clock** (the renewTime written by another node's clock
 *    is never compared with ours, so clock skew cannot steal a lease);
 *  - every write is a replace carrying the resourceVersion that was read: two
 *    candidates racing for an expired Lease cannot both win, one gets 409;
 *  - the leader renews with the object of its last successful write (one
 *    request per renewal); a 409 (someone else wrote the Lease: an admin's
 *    label, or a new holder) means read it again and decide again;
 *  - a leader that cannot renew for the renew deadline stops leading before
 *    the lease runs out, so two processes never both believe they lead;
 *  - release (SIGTERM) writes the Lease with no holder, so a standby takes it
 *    at its next retry instead of waiting for expiry.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { toKubeError } from '../kube/errors.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This process (the pod name in a cluster). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Monotonic-enough milliseconds (injectable for tests); default Date.now. */
  now?: () => number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  /** One line per state change and per failed attempt. */
  log?: (line: string) => void;
}

export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

/** RFC 3339 with microseconds: the form of metav1.MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface Observed {
  key: string;
  at: number;
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading' | 'log'>> &
    Pick<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading' | 'log'>;
  private leading = false;
  private own: V1Lease | undefined;
  private lastRenew = 0;
  private observed: Observed | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<unknown> = Promise.resolve();
  /** Conflicts met (409), for tests and logs. */
  conflicts = 0;

  constructor(opts: LeaderElectionOptions) {
    this.o = {
      leaseDurationMs: LEASE_DEFAULTS.leaseDurationMs,
      renewDeadlineMs: LEASE_DEFAULTS.renewDeadlineMs,
      retryPeriodMs: LEASE_DEFAULTS.retryPeriodMs,
      now: Date.now,
      ...opts,
    };
    if (!(this.o.renewDeadlineMs < this.o.leaseDurationMs)) {
      throw new Error('the renew deadline must be shorter than the lease duration');
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts the loop: one attempt now, then one per retry period (jittered while standing by). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  private tick(): void {
    if (!this.running) return;
    const attempt = this.attempt().catch((e: unknown) => this.o.log?.(`leader election: ${String(e)}`));
    this.inFlight = attempt;
    void attempt.then(() => {
      if (!this.running) return;
      const base = this.o.retryPeriodMs;
      // Standbys spread out (like the usual 1.2 jitter factor); the leader renews on the period.
      const wait = this.leading ? base : base + Math.random() * base * 0.2;
      this.timer = setTimeout(() => this.tick(), wait);
    });
  }

  /** One try; the loop's step (exposed for tests). Returns whether this process leads afterwards. */
  async attempt(): Promise<boolean> {
    const ok = await this.tryAcquireOrRenew();
    if (!ok && this.leading && this.o.now() - this.lastRenew >= this.o.renewDeadlineMs) {
      this.stepDown('could not renew the Lease within the renew deadline');
    }
    return this.leading;
  }

  private stepUp(): void {
    if (this.leading) return;
    this.leading = true;
    this.o.log?.(`leader election: ${this.o.identity} leads (Lease ${this.o.namespace}/${this.o.name})`);
    this.o.onStartedLeading?.();
  }

  private stepDown(why: string): void {
    this.own = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.o.log?.(`leader election: ${this.o.identity} stopped leading: ${why}`);
    this.o.onStoppedLeading?.();
  }

  private spec(prev: V1Lease | undefined, now: number): V1Lease['spec'] {
    const mine = prev?.spec?.holderIdentity === this.o.identity;
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.o.leaseDurationMs / 1000),
      acquireTime: (mine ? prev?.spec?.acquireTime : microTime(now)) as unknown as Date,
      renewTime: microTime(now) as unknown as Date,
      leaseTransitions: mine ? (prev?.spec?.leaseTransitions ?? 0) : (prev?.spec?.leaseTransitions ?? -1) + 1,
    };
  }

  private async replace(body: V1Lease): Promise<V1Lease | 'conflict'> {
    try {
      return await (
        await this.o.client.apis()
      ).coordination.replaceNamespacedLease({
        name: this.o.name,
        namespace: this.o.namespace,
        body,
      });
    } catch (e) {
      const k = toKubeError('update leases', e);
      if (k.isConflict) {
        this.conflicts++;
        return 'conflict';
      }
      throw k;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.now();
    // Fast path: the leader renews the object it wrote last.
    if (this.leading && this.own) {
      try {
        const r = await this.replace({ ...this.own, spec: this.spec(this.own, now) });
        if (r !== 'conflict') {
          this.own = r;
          this.lastRenew = now;
          return true;
        }
        this.o.log?.('leader election: the Lease changed under us (409); reading it again');
      } catch (e) {
        this.o.log?.(`leader election: renewal failed: ${(e as Error).message}`);
        return false;
      }
    }
    let cur: V1Lease;
    try {
      cur = await (
        await this.o.client.apis()
      ).coordination.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
    } catch (e) {
      const k = toKubeError('get leases', e);
      if (!k.isNotFound) {
        this.o.log?.(`leader election: cannot read the Lease: ${k.message}`);
        return false;
      }
      try {
        this.own = await (
          await this.o.client.apis()
        ).coordination.createNamespacedLease({
          namespace: this.o.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: this.spec(undefined, now),
          },
        });
      } catch (e2) {
        const k2 = toKubeError('create leases', e2);
        if (k2.status !== 409) this.o.log?.(`leader election: cannot create the Lease: ${k2.message}`);
        return false;
      }
      this.lastRenew = now;
      this.stepUp();
      return true;
    }
    const holder = cur.spec?.holderIdentity ?? '';
    const key = `${holder}|${String(cur.spec?.renewTime ?? '')}|${cur.metadata?.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: now };
    const durationMs = (cur.spec?.leaseDurationSeconds ?? Math.ceil(this.o.leaseDurationMs / 1000)) * 1000;
    if (holder !== '' && holder !== this.o.identity && now - this.observed.at < durationMs) {
      if (this.leading) this.stepDown(`the Lease is held by ${holder}`);
      return false;
    }
    const r = await this.replace({ ...cur, spec: this.spec(cur, now) }).catch((e: unknown) => {
      this.o.log?.(`leader election: cannot write the Lease: ${(e as Error).message}`);
      return 'error' as const;
    });
    if (r === 'conflict' || r === 'error') return false;
    this.own = r;
    this.lastRenew = now;
    this.stepUp();
    return true;
  }

  /**
   * Stops the loop. With release, a leader writes the Lease with no holder
   * (a standby takes over at its next retry). Without, the Lease is simply
   * abandoned, as after kill -9: the others wait for it to expire.
   */
  async stop(opts: { release: boolean }): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    if (opts.release && this.leading && this.own) {
      const now = this.o.now();
      const spec = { ...this.own.spec, leaseDurationSeconds: 1, renewTime: microTime(now) as unknown as Date };
      delete spec.holderIdentity;
      try {
        await this.replace({ ...this.own, spec });
      } catch (e) {
        this.o.log?.(`leader election: could not release the Lease: ${(e as Error).message}`);
      }
    }
    this.stepDown(opts.release ? 'released the Lease' : 'stopped');
  }
}
