/**
 * Events on the Cluster, once per change of state per volume, never once
 * per pass.
 *
 * A volume's state is the set of event keys its last pass produced (core's
 * ResizeEvent.key: reason + detail, e.g. AutoResizeBlocked/archive-unhealthy).
 * A key not in the previous state is announced; keys that cleared are
 * forgotten, so a condition that comes back is announced again.
 *
 * Restart: every Event written carries, in annotations, its volume and the
 * volume's whole state at that moment (with the time in milliseconds and a
 * sequence number: Event timestamps have whole seconds), and a label that
 * marks it as ours. On
 * start the recorder lists those Events (one list per namespace) and takes the
 * newest per volume as the state, so a restarted controller does not repeat
 * what its predecessor said.
 *
 * Reasons (the controller's names; the CLI's `disk resize --events` keeps the
 * engine's longer ones): AutoResized, AutoResizeBlocked, AutoResizeAtLimit,
 * AutoResizeFailed, AutoResizeInProgress, WALHealthUnavailable, WALRisk, and
 * AutoResizeUnavailable when the controller could not judge a volume at all
 * (fail closed: facts missing or stale, policy or ledger unreadable).
 */
import type { EventReason, ResizeEvent } from '@cnpg-disk/core';
import type { KubeClient } from '../kube/client.js';
import { toKubeError } from '../kube/errors.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'cnpg-disk-autoresizer';
export const VOLUME_ANNOTATION = 'disk.cnpg-plugin.dev/volume';
export const STATE_ANNOTATION = 'disk.cnpg-plugin.dev/state';

export type ControllerReason =
  | 'AutoResized'
  | 'AutoResizeBlocked'
  | 'AutoResizeAtLimit'
  | 'AutoResizeFailed'
  | 'AutoResizeInProgress'
  | 'WALHealthUnavailable'
  | 'WALRisk'
  | 'AutoResizeUnavailable';

const REASON: Readonly<Record<EventReason, ControllerReason>> = {
  AutoResizeSuccess: 'AutoResized',
  AutoResizeBlocked: 'AutoResizeBlocked',
  AutoResizeAtLimit: 'AutoResizeAtLimit',
  AutoResizeFailed: 'AutoResizeFailed',
  AutoResizeInProgress: 'AutoResizeInProgress',
  AutoResizeWALHealthUnavailable: 'WALHealthUnavailable',
  AutoResizeWALRisk: 'WALRisk',
};

/** An event the controller wants on a Cluster. */
export interface VolumeEvent {
  type: 'Normal' | 'Warning';
  reason: ControllerReason;
  message: string;
  /** Identifies the condition (see the file comment). */
  key: string;
}

/** Core's event (engine names) → the controller's, with the policy source in the message. */
export function fromCoreEvent(e: ResizeEvent, policySource: string): VolumeEvent {
  return { type: e.type, reason: REASON[e.reason], message: `${e.message} (policy: ${policySource})`, key: e.key };
}

export interface ClusterRef {
  namespace: string;
  name: string;
  uid?: string;
}

export interface Recorded {
  cluster: ClusterRef;
  volume: string;
  event: VolumeEvent;
}

export class EventRecorder {
  /** namespace/pvc → keys announced last. */
  private readonly state = new Map<string, string[]>();
  /** Every event written (tests and logs read it). */
  readonly written: Recorded[] = [];
  /** Writes that failed (the loop counts them; an event is never worth a crash). */
  failures = 0;
  /** Orders this process's Events written within one millisecond. */
  private seq = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly o: { identity: string; now: () => Date; log?: (line: string) => void },
  ) {}

  /** Reads the state our earlier Events recorded: one list per namespace (undefined = all namespaces). */
  async rebuild(namespaces: readonly string[] | undefined): Promise<number> {
    const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    const lists = namespaces
      ? await Promise.all(
          namespaces.map((namespace) =>
            this.client.call(`list events in ${namespace}`, async () =>
              (await this.client.apis()).core.listNamespacedEvent({ namespace, labelSelector }),
            ),
          ),
        )
      : [
          await this.client.call('list events', async () =>
            (await this.client.apis()).core.listEventForAllNamespaces({ labelSelector }),
          ),
        ];
    const newest = new Map<string, { at: number; seq: number; keys: string[] }>();
    for (const list of lists) {
      for (const e of list.items) {
        const a = e.metadata?.annotations ?? {};
        const volume = a[VOLUME_ANNOTATION];
        const stateText = a[STATE_ANNOTATION];
        if (!volume || !stateText) continue;
        let doc: unknown;
        try {
          doc = JSON.parse(stateText);
        } catch {
          continue;
        }
        // Written by write(): {"at": ms, "seq": n, "keys": [...]}; anything else is not ours to trust.
        const { at, seq, keys } = (doc ?? {}) as { at?: unknown; seq?: unknown; keys?: unknown };
        if (typeof at !== 'number' || typeof seq !== 'number') continue;
        if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) continue;
        const cur = newest.get(volume);
        if (!cur || at > cur.at || (at === cur.at && seq > cur.seq))
          newest.set(volume, { at, seq, keys: keys as string[] });
      }
    }
    for (const [v, s] of newest) this.state.set(v, s.keys);
    return newest.size;
  }

  /**
   * The events of this pass for one volume: writes those whose key is new,
   * remembers the whole set. Returns what was written.
   */
  async observe(cluster: ClusterRef, volume: string, events: readonly VolumeEvent[]): Promise<VolumeEvent[]> {
    const prev = new Set(this.state.get(volume) ?? []);
    const keys = events.map((e) => e.key);
    const fresh = events.filter((e) => !prev.has(e.key));
    this.state.set(volume, keys);
    for (const e of fresh) await this.write(cluster, volume, e, keys);
    return fresh;
  }

  /** A volume that left the scope: forget it. */
  forget(volume: string): void {
    this.state.delete(volume);
  }

  stateOf(volume: string): readonly string[] | undefined {
    return this.state.get(volume);
  }

  private async write(cluster: ClusterRef, volume: string, e: VolumeEvent, keys: string[]): Promise<void> {
    const now = this.o.now();
    try {
      await (
        await this.client.apis()
      ).core.createNamespacedEvent({
        namespace: cluster.namespace,
        body: {
          metadata: {
            generateName: `${cluster.name}.`,
            namespace: cluster.namespace,
            labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
            annotations: {
              [VOLUME_ANNOTATION]: volume,
              [STATE_ANNOTATION]: JSON.stringify({ at: now.getTime(), seq: ++this.seq, keys }),
            },
          },
          involvedObject: {
            apiVersion: 'postgresql.cnpg.io/v1',
            kind: 'Cluster',
            name: cluster.name,
            namespace: cluster.namespace,
            ...(cluster.uid ? { uid: cluster.uid } : {}),
          },
          type: e.type,
          reason: e.reason,
          message: e.message.slice(0, 1000),
          source: { component: MANAGED_BY },
          reportingComponent: MANAGED_BY,
          reportingInstance: this.o.identity,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      this.written.push({ cluster, volume, event: e });
    } catch (err) {
      this.failures++;
      // Not announced after all: the next pass tries again.
      this.state.set(
        volume,
        (this.state.get(volume) ?? []).filter((k) => k !== e.key),
      );
      this.o.log?.(
        `event ${e.reason} on ${cluster.namespace}/${cluster.name}: ${toKubeError('create events', err).message}`,
      );
    }
  }
}
