/**
 * List+watch caches (client-node's informer): one list, then one long watch
 * that resumes from the last resourceVersion. A watch that ends normally is
 * re-opened from where it stopped (no new list); a 410 Gone relists. An error
 * stops the informer: `startInformer` restarts it after a pause and says so
 * through onError, so the caller can treat its facts as stale meanwhile.
 */
import { makeInformer, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';

export interface CachedInformer<T extends KubernetesObject> {
  list(namespace?: string): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  /** True after the first list, false while an error has stopped the watch. */
  readonly healthy: boolean;
  stop(): Promise<void>;
}

export interface InformerOptions<T extends KubernetesObject> {
  /** The watch path, e.g. /api/v1/namespaces/db/pods. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  onChange?: (verb: 'add' | 'update' | 'delete', obj: T) => void;
  onError?: (err: unknown) => void;
  /** Pause before restarting after an error; default 5 s. */
  restartDelayMs?: number;
}

/** Starts an informer; resolves when the first list has been stored and the watch is open. */
export async function startInformer<T extends KubernetesObject>(
  client: KubeClient,
  o: InformerOptions<T>,
): Promise<CachedInformer<T>> {
  const inf = makeInformer<T>(await client.clientNodeConfig(), o.path, o.list, o.labelSelector);
  let healthy = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  if (o.onChange) {
    const cb = o.onChange;
    inf.on('add', (obj) => cb('add', obj));
    inf.on('update', (obj) => cb('update', obj));
    inf.on('delete', (obj) => cb('delete', obj));
  }
  inf.on('connect', () => {
    if (!stopped) healthy = true;
  });
  inf.on('error', (err) => {
    healthy = false;
    o.onError?.(err);
    if (stopped) return;
    timer = setTimeout(() => {
      if (!stopped) inf.start().catch((e: unknown) => o.onError?.(e));
    }, o.restartDelayMs ?? 5_000);
  });
  await inf.start();
  if (!healthy) {
    stopped = true;
    if (timer) clearTimeout(timer);
    await inf.stop();
    throw new Error(`cannot list and watch ${o.path}`);
  }
  return {
    list: (ns) => inf.list(ns),
    get: (name, ns) => inf.get(name, ns),
    get healthy() {
      return healthy;
    },
    stop: async () => {
      stopped = true;
      healthy = false;
      if (timer) clearTimeout(timer);
      await inf.stop();
    },
  };
}
