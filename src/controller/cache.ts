/**
 * The controller's view of the cluster: list+watch caches of Clusters, Pods,
 * PVCs and StorageClasses, so a steady-state pass reads memory and sends no
 * list requests (only the measurements and the writes go to the API server).
 * Pods and PVCs are narrowed to CloudNativePG's (label cnpg.io/cluster).
 *
 * Scope: every namespace (one watch per kind), or the listed namespaces (one
 * watch per kind and namespace, which is what namespaced Roles allow).
 * StorageClasses are cluster-scoped: one watch always.
 */
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { CLUSTER_LABEL } from '../model/kube-objects.js';
import type { KubeClient } from '../kube/client.js';
import { startInformer, type CachedInformer } from '../kube/informer.js';
import { CNPG_GROUP, CNPG_VERSION } from '../model/cnpg.js';
import type { KubeObject } from '../model/snapshot.js';

export type CachedKind = 'clusters' | 'pods' | 'persistentvolumeclaims' | 'storageclasses';

export interface CacheOptions {
  /** Watched namespaces; undefined = all. */
  namespaces?: readonly string[];
  /** A relevant object changed (not the initial list). */
  onChange?: (kind: CachedKind, verb: 'add' | 'update' | 'delete', obj: KubeObject) => void;
  onError?: (kind: CachedKind, err: unknown) => void;
  restartDelayMs?: number;
}

type Obj = KubernetesObject & KubeObject;

export class ObjectCache {
  private readonly informers = new Map<string, { kind: CachedKind; inf: CachedInformer<Obj> }>();
  private started = false;

  private constructor(
    private readonly client: KubeClient,
    private readonly o: CacheOptions,
  ) {}

  /** Lists and watches everything; resolves when every cache holds its first list. */
  static async start(client: KubeClient, o: CacheOptions): Promise<ObjectCache> {
    const c = new ObjectCache(client, o);
    try {
      await c.startAll();
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  private async startAll(): Promise<void> {
    const { client } = this;
    const nss = this.o.namespaces;
    const { core, custom, storage } = await client.apis();
    const crd = { group: CNPG_GROUP, version: CNPG_VERSION, plural: 'clusters' };
    const labelSelector = CLUSTER_LABEL;
    const list = <T>(p: Promise<T>) => p as unknown as Promise<KubernetesListObject<Obj>>;
    const specs: {
      key: string;
      kind: CachedKind;
      path: string;
      list: () => Promise<KubernetesListObject<Obj>>;
      sel?: string;
    }[] = [];
    const base = `/apis/${CNPG_GROUP}/${CNPG_VERSION}`;
    if (!nss) {
      specs.push(
        {
          key: 'clusters',
          kind: 'clusters',
          path: `${base}/clusters`,
          list: () => list(custom.listClusterCustomObject(crd)),
        },
        {
          key: 'pods',
          kind: 'pods',
          path: '/api/v1/pods',
          sel: labelSelector,
          list: () => list(core.listPodForAllNamespaces({ labelSelector })),
        },
        {
          key: 'pvcs',
          kind: 'persistentvolumeclaims',
          path: '/api/v1/persistentvolumeclaims',
          sel: labelSelector,
          list: () => list(core.listPersistentVolumeClaimForAllNamespaces({ labelSelector })),
        },
      );
    } else {
      for (const namespace of nss) {
        specs.push(
          {
            key: `clusters/${namespace}`,
            kind: 'clusters',
            path: `${base}/namespaces/${namespace}/clusters`,
            list: () => list(custom.listNamespacedCustomObject({ ...crd, namespace })),
          },
          {
            key: `pods/${namespace}`,
            kind: 'pods',
            path: `/api/v1/namespaces/${namespace}/pods`,
            sel: labelSelector,
            list: () => list(core.listNamespacedPod({ namespace, labelSelector })),
          },
          {
            key: `pvcs/${namespace}`,
            kind: 'persistentvolumeclaims',
            path: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
            sel: labelSelector,
            list: () => list(core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector })),
          },
        );
      }
    }
    specs.push({
      key: 'storageclasses',
      kind: 'storageclasses',
      path: '/apis/storage.k8s.io/v1/storageclasses',
      list: () => list(storage.listStorageClass()),
    });
    await Promise.all(
      specs.map(async (s) => {
        const inf = await startInformer<Obj>(client, {
          path: s.path,
          list: s.list,
          ...(s.sel ? { labelSelector: s.sel } : {}),
          ...(this.o.restartDelayMs !== undefined ? { restartDelayMs: this.o.restartDelayMs } : {}),
          onChange: (verb, obj) => {
            if (this.started) this.o.onChange?.(s.kind, verb, obj);
          },
          onError: (err) => this.o.onError?.(s.kind, err),
        });
        this.informers.set(s.key, { kind: s.kind, inf });
      }),
    );
    this.started = true;
  }

  /** Every cache listed and its watch open (readiness; the loop acts only then). */
  get synced(): boolean {
    return this.started && [...this.informers.values()].every((i) => i.inf.healthy);
  }

  /** Kinds whose watch is broken right now (their facts may be stale). */
  get unhealthy(): CachedKind[] {
    return [...new Set([...this.informers.values()].filter((i) => !i.inf.healthy).map((i) => i.kind))];
  }

  list(kind: CachedKind, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const { kind: k, inf } of this.informers.values()) if (k === kind) out.push(...inf.list(namespace));
    return out;
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.informers.values()].map((i) => i.inf.stop()));
    this.informers.clear();
  }
}
