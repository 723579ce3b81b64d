/**
 * Server-side apply of whole objects (what `kubectl apply --server-side`
 * sends): one PATCH with content type application/apply-patch+yaml and a
 * field manager, per object. Conflicts with another manager's fields are not
 * forced: they come back as 409 and are reported.
 */
import { KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { toKubeError, type KubeApiError } from './errors.js';

export interface ApplyResult {
  kind: string;
  name: string;
  namespace?: string;
  error?: KubeApiError;
}

export async function serverSideApply(
  client: KubeClient,
  objects: readonly KubernetesObject[],
  opts: { fieldManager: string; dryRun: boolean },
): Promise<ApplyResult[]> {
  const api = KubernetesObjectApi.makeApiClient(client.kc);
  const out: ApplyResult[] = [];
  // In order: the Namespace before what lives in it, Roles before their bindings.
  for (const o of objects) {
    const r: ApplyResult = {
      kind: o.kind ?? '',
      name: o.metadata?.name ?? '',
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
    };
    try {
      await api.patch(
        o,
        undefined,
        opts.dryRun ? 'All' : undefined,
        opts.fieldManager,
        false,
        PatchStrategy.ServerSideApply,
      );
    } catch (e) {
      r.error = toKubeError(`apply ${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`, e);
    }
    out.push(r);
  }
  return out;
}
