/**
 * The kubelet-summary source: the kubelet's stats/summary of each node (nodes/proxy, cluster-wide).
 */
import { parseKubeletSummary } from './parse.js';
import { type MeasureRun, type Source, describeApiError } from './source.js';
import { SOURCE_FACTS } from '../model/snapshot.js';
import { KubeApiError } from '../kube/errors.js';

export const kubeletSummarySource: Source = {
  name: 'kubelet-summary',
  facts: SOURCE_FACTS['kubelet-summary'],
  clusterScoped: true,
  access(_namespace: string) {
    return [{ verb: 'get', resource: 'nodes', subresource: 'proxy', namespace: '' }];
  },
  async measure(run: MeasureRun): Promise<void> {
    const source = 'kubelet-summary' as const;
    const { client, opts, limit, pending, problems, sources, results, key, may, needsFs, record } = run;
    if (!may(source, '')) return;
    const needed = pending.filter((i) => needsFs(i));
    const nodes = [...new Set(needed.map((i) => i.node).filter((n): n is string => !!n))].sort();
    let used = 0;
    await Promise.all(
      nodes.map((node) =>
        limit(async () => {
          opts.onProgress?.(`reading the kubelet summary of node ${node}`);
          try {
            let doc: unknown;
            try {
              doc = await client.getJson(
                `/api/v1/nodes/${encodeURIComponent(node)}/proxy/stats/summary`,
                {},
                `get nodes/proxy ${node}`,
              );
            } catch (e) {
              if (!(e instanceof KubeApiError && e.reason === 'BadResponse')) throw e;
              problems.push(`kubelet summary of node ${node} unavailable (the answer is not valid JSON)`);
              return;
            }
            const r = parseKubeletSummary(doc, node, opts.now().toISOString());
            problems.push(...r.problems);
            for (const v of r.volumes) {
              const res = results.get(key(v.namespace, v.pod));
              if (res && !res.filesystems[v.pvcName]) res.filesystems[v.pvcName] = v.facts;
            }
            used++;
          } catch (e) {
            problems.push(`kubelet summary of node ${node} unavailable (${describeApiError(e)})`);
            sources.push({
              source,
              fact: 'filesystem',
              outcome: 'unreachable',
              scope: node,
              detail: describeApiError(e),
            });
          }
        }),
      ),
    );
    if (used > 0) {
      record(source, 'filesystem', 'used', `${used} node(s); note: get nodes/proxy is equivalent to exec on the node`);
    }
  },
};
