/**
 * The few writes the CLI ever makes (only `disk resize --apply`), and the
 * reads that go with them. Every write is a JSON merge patch that carries
 * `metadata.resourceVersion`: the API server applies it only when the object
 * is still at that version and answers 409 Conflict otherwise, so a write
 * based on stale facts never lands.
 */
import type { KubeClient } from './client.js';
import { mergePatch } from './client.js';
import { slim } from '../model/kube-objects.js';
import type { KubeObject } from '../model/snapshot.js';
import { CNPG_GROUP, CNPG_VERSION } from '../model/cnpg.js';

/** Client-node model objects (Date fields, class instances) as plain API JSON. */
function plain(o: unknown): KubeObject {
  return slim(JSON.parse(JSON.stringify(o)) as KubeObject);
}

export async function getPvc(client: KubeClient, namespace: string, name: string): Promise<KubeObject> {
  return plain(
    await client.call(`get persistentvolumeclaims ${namespace}/${name}`, async () =>
      (await client.apis()).core.readNamespacedPersistentVolumeClaim({ name, namespace }),
    ),
  );
}

export interface PvcResizeWrite {
  /** The version the decision was made on (precondition). */
  resourceVersion: string;
  /** New spec.resources.requests.storage, a canonical quantity. */
  storage: string;
  /** Annotations to set in the same write (the ledger). */
  annotations: Record<string, string>;
}

/** The merge patch body of a resize: request, ledger and precondition in one object. */
export function pvcResizePatch(w: PvcResizeWrite): Record<string, unknown> {
  return {
    metadata: { resourceVersion: w.resourceVersion, annotations: w.annotations },
    spec: { resources: { requests: { storage: w.storage } } },
  };
}

/** One write: new request + ledger annotation, only if the PVC is still at `resourceVersion` (409 otherwise). */
export async function patchPvcResize(
  client: KubeClient,
  namespace: string,
  name: string,
  w: PvcResizeWrite,
): Promise<KubeObject> {
  return plain(
    await client.call(`patch persistentvolumeclaims ${namespace}/${name}`, async () =>
      (await client.apis()).core.patchNamespacedPersistentVolumeClaim(
        { name, namespace, body: pvcResizePatch(w), fieldManager: 'kubectl-cnpg-disk' },
        await mergePatch(),
      ),
    ),
  );
}

export async function getCluster(client: KubeClient, namespace: string, name: string): Promise<KubeObject> {
  return plain(
    await client.call(`get clusters.postgresql.cnpg.io ${namespace}/${name}`, async () =>
      (await client.apis()).custom.getNamespacedCustomObject({
        group: CNPG_GROUP,
        version: CNPG_VERSION,
        plural: 'clusters',
        namespace,
        name,
      }),
    ),
  );
}

/** Merge-patches a Cluster's spec, only if it is still at `resourceVersion` (409 otherwise). */
export async function patchClusterSpec(
  client: KubeClient,
  namespace: string,
  name: string,
  resourceVersion: string,
  spec: Record<string, unknown>,
): Promise<KubeObject> {
  return plain(
    await client.call(`patch clusters.postgresql.cnpg.io ${namespace}/${name}`, async () =>
      (await client.apis()).custom.patchNamespacedCustomObject(
        {
          group: CNPG_GROUP,
          version: CNPG_VERSION,
          plural: 'clusters',
          namespace,
          name,
          body: { metadata: { resourceVersion }, spec },
          fieldManager: 'kubectl-cnpg-disk',
        },
        await mergePatch(),
      ),
    ),
  );
}

/** Events about one object (newest last). */
export async function listEventsFor(
  client: KubeClient,
  namespace: string,
  kind: string,
  name: string,
): Promise<KubeObject[]> {
  const list = await client.call(`list events in ${namespace}`, async () =>
    (await client.apis()).core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
    }),
  );
  const items = (plain(list) as { items?: unknown }).items;
  return Array.isArray(items) ? (items as KubeObject[]) : [];
}

export interface NewEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Creates a core/v1 Event about a PVC, as a controller would (for `disk resize --events`). */
export async function createPvcEvent(client: KubeClient, pvc: KubeObject, e: NewEvent, now: Date): Promise<void> {
  const md = (pvc.metadata ?? {}) as { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  const namespace = md.namespace ?? 'default';
  const time = now.toISOString();
  await client.call(`create events in ${namespace}`, async () =>
    (await client.apis()).core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${md.name ?? 'pvc'}.`, namespace },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          name: md.name ?? '',
          namespace,
          ...(md.uid ? { uid: md.uid } : {}),
          ...(md.resourceVersion ? { resourceVersion: md.resourceVersion } : {}),
        },
        type: e.type,
        reason: e.reason,
        message: e.message,
        source: { component: 'kubectl-cnpg-disk' },
        reportingComponent: 'kubectl-cnpg-disk',
        reportingInstance: 'kubectl-cnpg-disk',
        firstTimestamp: new Date(time),
        lastTimestamp: new Date(time),
        count: 1,
      },
    }),
  );
}
