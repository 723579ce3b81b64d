/**
 * Asks the API server what we may do (SelfSubjectAccessReview), so auto mode
 * can skip sources it is not allowed to use and say which rule would fix it.
 */
import pLimit from 'p-limit';
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

/**
 * Several rules as one grant: "get, create pods/exec in namespace db" when
 * they differ only in the verb, else the rules joined with "and".
 */
export function rulesText(needs: readonly Access[]): string {
  const first = needs[0];
  if (!first) return '';
  const sameButVerb = needs.every(
    (a) =>
      a.resource === first.resource &&
      a.subresource === first.subresource &&
      a.namespace === first.namespace &&
      a.group === first.group,
  );
  if (!sameButVerb) return needs.map(ruleText).join(' and ');
  return ruleText({ ...first, verb: needs.map((a) => a.verb).join(', ') });
}

/** The rules of `needs` that `allowed` (from checkAccess) does not grant. */
export function missingRules(allowed: ReadonlyMap<string, boolean>, needs: readonly Access[]): Access[] {
  return needs.filter((a) => allowed.get(ruleText(a)) !== true);
}

/**
 * What streaming into a pod (exec, port-forward) needs. Our client speaks
 * WebSocket, whose upgrade is an HTTP GET, so the API server authorizes it as
 * `get` on the subresource; from Kubernetes 1.35 (gate
 * AuthorizePodWebsocketUpgradeCreatePermission, on by default) it checks
 * `create` as well. Both are asked for, so the answer holds on every version.
 */
export function streamingAccess(subresource: 'exec' | 'portforward', namespace: string): Access[] {
  return ['get', 'create'].map((verb) => ({ verb, resource: 'pods', subresource, namespace }));
}

/**
 * Access reviews in flight at once. A fleet asks 4 rules × each namespace
 * (120 for 30 namespaces); sent all at once they opened as many connections,
 * each with its own TLS handshake, which cost more CPU than the reviews.
 */
export const ACCESS_REVIEWS_IN_FLIGHT = 8;

/** Checks several permissions, each distinct rule once; an error answering counts as "not allowed". */
export async function checkAccess(client: KubeClient, checks: Access[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  const unique = [...new Map(checks.map((a) => [ruleText(a), a])).values()];
  const limit = pLimit(ACCESS_REVIEWS_IN_FLIGHT);
  await Promise.all(
    unique.map((a) =>
      limit(async () => {
        const key = ruleText(a);
        try {
          // Plain JSON (no client-node models on the read-only path).
          const r = (await client.postJson(
            '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
            {
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
            `create selfsubjectaccessreviews (${key})`,
          )) as { status?: { allowed?: unknown } } | null;
          out.set(key, r?.status?.allowed === true);
        } catch {
          out.set(key, false);
        }
      }),
    ),
  );
  return out;
}
