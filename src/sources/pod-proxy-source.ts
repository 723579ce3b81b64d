/**
 * The pod-proxy source: the instance manager's /pg/status and /metrics through the API server's pod proxy, with port-forward as the fallback when the proxy cannot reach a pod.
 */
import { checkAccess, missingRules, rulesText } from './permissions.js';
import { readInstance, type InstanceGet } from './pod-proxy.js';
import { portForwardAccess, portForwardGet, readWithFallback } from './port-forward.js';
import { type MeasureRun, type Source } from './source.js';
import { SOURCE_FACTS } from '../model/snapshot.js';

export const podProxySource: Source = {
  name: 'pod-proxy',
  facts: SOURCE_FACTS['pod-proxy'],
  clusterScoped: false,
  access(namespace: string) {
    return [{ verb: 'get', resource: 'pods', subresource: 'proxy', namespace }];
  },
  async measure(run: MeasureRun): Promise<void> {
    const source = 'pod-proxy' as const;
    const { client, opts, limit, pending, problems, sources, may, m, needsWal, setWal, record } = run;
    const todo = pending.filter((i) => i.running && may(source, i.cs.namespace));
    let walUsed = 0;
    let fsUsed = 0;
    let failed = 0;
    let forwarded = 0;
    let forwardTried = 0;
    const failures: string[] = [];
    const proxyFailures: string[] = [];
    // Port-forward fallback: asked once per namespace, only when the proxy could not reach a pod.
    const pfAllowed = new Map<string, Promise<boolean>>();
    const pfDenied = new Set<string>();
    const mayForward = (ns: string) => {
      let p = pfAllowed.get(ns);
      if (!p) {
        const needs = portForwardAccess(ns);
        p = checkAccess(client, needs).then((r) => missingRules(r, needs).length === 0);
        pfAllowed.set(ns, p);
      }
      return p;
    };
    await Promise.all(
      todo.map((i) =>
        limit(async () => {
          opts.onProgress?.(`reading /pg/status of ${i.cs.namespace}/${i.pod}`);
          const timeoutMs = Math.max(client.timeoutMs, 10_000);
          const read = (via?: InstanceGet) =>
            readInstance(client, i.cs.namespace, i.podObj, i.cs.cluster, opts.now().toISOString(), timeoutMs, via);
          const fb = await readWithFallback(
            () => read(),
            () => mayForward(i.cs.namespace),
            () => {
              opts.onProgress?.(`port-forward to ${i.cs.namespace}/${i.pod}`);
              return read(portForwardGet(client, i.cs.namespace, i.pod, timeoutMs));
            },
          );
          const r = fb.result;
          if (fb.portForward === 'denied') pfDenied.add(i.cs.namespace);
          if (fb.portForward === 'used' || fb.portForward === 'unreachable') forwardTried++;
          if (r.statusBody !== undefined) opts.onPayload?.(i.cs.namespace, i.pod, 'pg-status', r.statusBody);
          if (r.metricsBody !== undefined) opts.onPayload?.(i.cs.namespace, i.pod, 'metrics', r.metricsBody);
          if (r.unreachable) {
            failed++;
            if (failures.length < 3) failures.push(r.errors[r.errors.length - 1] ?? i.pod);
            if (needsWal(i)) m(i).errors.push(...r.errors.slice(-1));
            return;
          }
          if (needsWal(i) && setWal(i, r.wal)) {
            walUsed++;
            if (fb.portForward === 'used') {
              forwarded++;
              const why = fb.proxyErrors?.[fb.proxyErrors.length - 1];
              if (why && proxyFailures.length < 3) proxyFailures.push(why);
            }
          }
          for (const v of r.volumes) {
            const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
            if (pvc && !m(i).filesystems[pvc]) {
              m(i).filesystems[pvc] = v.facts;
              fsUsed++;
            }
          }
          if (r.errors.length > 0) problems.push(...r.errors);
        }),
      ),
    );
    if (walUsed > forwarded) record(source, 'wal', 'used', `${walUsed - forwarded} instance(s)`);
    if (forwarded > 0) {
      // say why the proxy was not enough, or nobody can tell (not even with -v)
      const why = proxyFailures.length > 0 ? ` (the pod proxy failed: ${proxyFailures.join('; ')})` : '';
      record(source, 'wal', 'used', `${forwarded} instance(s) via port-forward${why}`);
    }
    if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s) from cnpg_disk metrics`);
    for (const ns of [...pfDenied].sort()) {
      sources.push({
        source,
        fact: 'wal',
        outcome: 'denied',
        permission: rulesText(portForwardAccess(ns)),
        detail: 'port-forward fallback when the pod proxy cannot reach a pod',
        scope: ns,
      });
    }
    if (failed > 0) {
      record(
        source,
        'wal',
        'unreachable',
        `${failed} pod(s) did not answer through the pod proxy${forwardTried > 0 ? ' nor over port-forward' : ''}: ${failures.join('; ')}`,
      );
    }
  },
};
