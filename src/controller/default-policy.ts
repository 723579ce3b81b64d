/**
 * The controller-wide default policy (`--default-policy FILE`, mounted from a
 * ConfigMap): a platform team says "every Cluster in these namespaces, or
 * with these labels, grows by these rules". It is the last source before the
 * engine's defaults (disabled): the plugin's parameters and the Cluster's
 * own annotation win over it.
 *
 *   apiVersion: disk.cnpg-plugin.dev/v1alpha1
 *   kind: DefaultPolicy
 *   rules:                       # first matching rule wins
 *     - namespaces: [payments]   # optional: absent = every namespace
 *       selector: tier=critical  # optional label selector on the Cluster
 *       policy:                  # a policy document, as in the annotation
 *         walStorage: { resize: { enabled: true, ... } }
 *
 * The document is read again before every pass (a ConfigMap update reaches
 * the mounted file without a restart); a file that cannot be read or parsed
 * stops automatic resizing of every Cluster that would depend on it (fail
 * closed) until it is fixed.
 */
import YAML from 'yaml';
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from '@cnpg-disk/core';

export const DEFAULT_POLICY_KIND = 'DefaultPolicy';
export const DEFAULT_POLICY_API_VERSION = 'disk.cnpg-plugin.dev/v1alpha1';

export interface DefaultPolicyRule {
  namespaces?: string[];
  selector?: LabelSelector;
  selectorText?: string;
  /** The policy document, validated per Cluster by core (its shape and sizes matter). */
  policy: unknown;
}

export interface DefaultPolicyFile {
  rules: DefaultPolicyRule[];
}

export class DefaultPolicyError extends Error {
  override name = 'DefaultPolicyError';
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the file's text. Throws DefaultPolicyError with one sentence. */
export function parseDefaultPolicy(text: string, where: string): DefaultPolicyFile {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new DefaultPolicyError(`${where} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isObj(doc)) throw new DefaultPolicyError(`${where} is not a mapping`);
  const unknown = Object.keys(doc).filter((k) => !['apiVersion', 'kind', 'rules'].includes(k));
  if (unknown.length > 0) throw new DefaultPolicyError(`${where}: unknown field ${JSON.stringify(unknown[0])}`);
  if (doc['kind'] !== DEFAULT_POLICY_KIND || doc['apiVersion'] !== DEFAULT_POLICY_API_VERSION) {
    throw new DefaultPolicyError(`${where} is not a ${DEFAULT_POLICY_API_VERSION} ${DEFAULT_POLICY_KIND}`);
  }
  const rules = doc['rules'];
  if (!Array.isArray(rules)) throw new DefaultPolicyError(`${where}: rules must be a list`);
  return {
    rules: rules.map((r: unknown, i): DefaultPolicyRule => {
      const at = `${where}: rules[${i}]`;
      if (!isObj(r)) throw new DefaultPolicyError(`${at} is not a mapping`);
      const extra = Object.keys(r).filter((k) => !['namespaces', 'selector', 'policy'].includes(k));
      if (extra.length > 0) throw new DefaultPolicyError(`${at}: unknown field ${JSON.stringify(extra[0])}`);
      if (!isObj(r['policy'])) throw new DefaultPolicyError(`${at}: policy must be a mapping (a policy document)`);
      const out: DefaultPolicyRule = { policy: r['policy'] };
      if (r['namespaces'] !== undefined) {
        const ns = r['namespaces'];
        if (!Array.isArray(ns) || ns.length === 0 || !ns.every((n) => typeof n === 'string' && n !== '')) {
          throw new DefaultPolicyError(`${at}: namespaces must be a non-empty list of names`);
        }
        out.namespaces = ns as string[];
      }
      if (r['selector'] !== undefined) {
        if (typeof r['selector'] !== 'string') throw new DefaultPolicyError(`${at}: selector must be a string`);
        const parsed = parseLabelSelector(r['selector']);
        if (!parsed.ok)
          throw new DefaultPolicyError(`${at}: label selector ${JSON.stringify(r['selector'])}: ${parsed.error}`);
        out.selector = parsed.selector;
        out.selectorText = r['selector'];
      }
      return out;
    }),
  };
}

/** The policy document of the first rule that applies to the Cluster, if any. */
export function defaultPolicyFor(
  file: DefaultPolicyFile,
  cluster: { namespace: string; labels: Readonly<Record<string, string>> },
): { policy: unknown; rule: number } | undefined {
  for (const [i, r] of file.rules.entries()) {
    if (r.namespaces && !r.namespaces.includes(cluster.namespace)) continue;
    if (r.selector && !matchesLabelSelector(r.selector, cluster.labels)) continue;
    return { policy: r.policy, rule: i };
  }
  return undefined;
}
