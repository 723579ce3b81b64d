/**
 * Asks the API server what we may do (SelfSubjectAccessReview), so auto mode
 * can skip sources it is not allowed to use and say which rule would fix it.
 */
import type { KubeClient } from '../kube/client.js';

export interface Access {
  verb: string;
  resource: string;
  subresource?: string;
  /** Empty for cluster-scoped resources or all namespaces. */
  namespace: string;
  group?: string;
}

export function ruleText(a: Access): string {
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return `${a.verb} ${a.group ? `${res}.${a.group}` : res}${a.namespace ? ` in namespace ${a.namespace}` : ''}`;
}

/** Checks several permissions at once; an error answering counts as "not allowed". */
export async function checkAccess(client: KubeClient, checks: Access[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  await Promise.all(
    checks.map(async (a) => {
      const key = ruleText(a);
      if (out.has(key)) return;
      try {
        const r = await client.authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                verb: a.verb,
                resource: a.resource,
                ...(a.subresource ? { subresource: a.subresource } : {}),
                ...(a.group ? { group: a.group } : {}),
                ...(a.namespace ? { namespace: a.namespace } : {}),
              },
            },
          },
        });
        out.set(key, r.status?.allowed === true);
      } catch {
        out.set(key, false);
      }
    }),
  );
  return out;
}
