/**
 * Server-side apply of whole objects (what `kubectl apply --server-side`
 * sends): one PATCH with content type application/apply-patch+yaml and a
 * field manager, per object. Conflicts with another manager's fields are not
 * forced: they come back as 409 and are reported.
 *
 * Objects `createOnly` picks are created (POST) instead, never replaced: an
 * existing one (409 AlreadyExists) is kept as it is and reported `kept`.
 * That is for what must not change behind a running workload's back (the
 * plugin's TLS Secrets: new certificates would cut the operator off the
 * plugin until both restart). Nothing here reads an object back: the
 * response bodies are dropped (a Secret's data never reaches our output).
 */
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { toKubeError, type KubeApiError } from './errors.js';

export interface ApplyResult {
  kind: string;
  name: string;
  namespace?: string;
  /** A create-only object that existed already: left unchanged. */
  kept?: boolean;
  error?: KubeApiError;
}

export async function serverSideApply(
  client: KubeClient,
  objects: readonly KubernetesObject[],
  opts: { fieldManager: string; dryRun: boolean; createOnly?: (o: KubernetesObject) => boolean },
): Promise<ApplyResult[]> {
  const api = KubernetesObjectApi.makeApiClient(await client.clientNodeConfig());
  const out: ApplyResult[] = [];
  const dryRun = opts.dryRun ? 'All' : undefined;
  // In order: the Namespace before what lives in it, Roles before their bindings.
  for (const o of objects) {
    const r: ApplyResult = {
      kind: o.kind ?? '',
      name: o.metadata?.name ?? '',
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
    };
    const what = `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
    if (opts.createOnly?.(o)) {
      try {
        await api.create(o, undefined, dryRun, opts.fieldManager);
      } catch (e) {
        const err = toKubeError(`create ${what}`, e);
        if (err.isConflict && err.reason === 'AlreadyExists') r.kept = true;
        else r.error = err;
      }
      out.push(r);
      continue;
    }
    try {
      await api.patch(o, undefined, dryRun, opts.fieldManager, false, PatchStrategy.ServerSideApply);
    } catch (e) {
      r.error = toKubeError(`apply ${what}`, e);
    }
    out.push(r);
  }
  return out;
}
