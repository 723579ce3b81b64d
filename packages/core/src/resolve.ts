/**
 * Which policy governs a volume, and where it came from.
 *
 * Order (first source with a block for the volume wins; no field-level merge
 * across sources, missing fields take the defaults):
 *   1. a file given on the command line (`--policy`), because the user asked
 *      to try exactly that policy for this run;
 *   2. the Cluster's own fields (operator builds that have them);
 *   3. the parameters of this project's CNPG-I plugin in spec.plugins, when
 *      the plugin is enabled there (plugin-parameters.ts): the operator's
 *      admission checks them, the annotation nobody checks;
 *   4. the policy annotation on the Cluster;
 *   5. the autoresize controller's default policy for the Cluster's
 *      namespace and labels (a platform team's rule, the weakest choice);
 *   6. the defaults (resize disabled).
 * A source with an error outside every resize block (an unknown top-level
 * key such as a misspelt `walStorge`, a holder that is not a mapping) is
 * rejected as a whole: it wins for every volume, with no policy.
 * docs/engine.md explains why the file comes first.
 */
import type { VolumeType } from './model.js';
import type { PolicySource, ResizePolicy } from './policy.js';
import { defaultPolicy, type PolicyIssue, type PolicySetResult } from './validation.js';

export interface PolicySources {
  file?: PolicySetResult;
  clusterSpec?: PolicySetResult;
  plugin?: PolicySetResult;
  annotation?: PolicySetResult;
  controllerDefault?: PolicySetResult;
}

export interface ResolvedPolicy {
  /** Undefined when the winning block has errors: the engine must not run on it. */
  policy?: ResizePolicy;
  source: PolicySource;
  /** The errors of the winning block, if any. */
  errors: PolicyIssue[];
}

const ORDER: ReadonlyArray<readonly [keyof PolicySources, PolicySource]> = [
  ['file', 'file'],
  ['clusterSpec', 'cluster-spec'],
  ['plugin', 'plugin'],
  ['annotation', 'annotation'],
  ['controllerDefault', 'controller-default'],
];

const issueKey = (i: PolicyIssue): string => `${i.severity}\u0000${i.code}\u0000${i.path}\u0000${i.message}`;

/** The errors of a source that belong to no resize block (compared by value: sets may be copies). */
function documentErrors(set: PolicySetResult): PolicyIssue[] {
  const inBlocks = new Set<string>(
    [
      ...(set.data?.issues ?? []),
      ...(set.wal?.issues ?? []),
      ...Object.values(set.tablespaces).flatMap((b) => b.issues),
    ].map(issueKey),
  );
  return set.issues.filter((i) => i.severity === 'error' && !inBlocks.has(issueKey(i)));
}

export function resolvePolicy(sources: PolicySources, type: VolumeType, tablespace?: string): ResolvedPolicy {
  for (const [key, source] of ORDER) {
    const set = sources[key];
    if (!set) continue;
    const docErrors = documentErrors(set);
    if (docErrors.length > 0) return { source, errors: docErrors };
    const block = type === 'data' ? set.data : type === 'wal' ? set.wal : set.tablespaces[tablespace ?? ''];
    if (!block) continue;
    if (block.policy) return { policy: block.policy, source, errors: [] };
    return { source, errors: block.issues.filter((i) => i.severity === 'error') };
  }
  return { policy: defaultPolicy(), source: 'defaults', errors: [] };
}
