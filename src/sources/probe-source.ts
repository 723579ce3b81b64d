/**
 * The probe source: the status document of the cnpg-disk-probe sidecar (the
 * CNPG-I plugin, docs/plugin.md) through the API server's pod proxy, one
 * request per pod. It asks only the pods that carry the sidecar and whose
 * sidecar runs — including pods whose postgres container is down, which no
 * other source can measure from inside.
 */
import { SOURCE_FACTS } from '../model/snapshot.js';
import { proxyGet } from './pod-proxy.js';
import { parseProbeStatus, probeSidecarOf } from './probe.js';
import { describeApiError, type MeasureRun, type Source } from './source.js';

export const probeSource: Source = {
  name: 'probe',
  facts: SOURCE_FACTS.probe,
  clusterScoped: false,
  access(namespace: string) {
    return [{ verb: 'get', resource: 'pods', subresource: 'proxy', namespace }];
  },
  async measure(run: MeasureRun): Promise<void> {
    const source = 'probe' as const;
    const { client, opts, limit, pending, problems, may, m, needsWal, setWal, record } = run;
    const withSidecar = pending
      .filter((i) => i.running && may(source, i.cs.namespace))
      .map((i) => ({ i, sidecar: probeSidecarOf(i.podObj) }))
      .filter((x) => x.sidecar !== undefined);
    const todo = withSidecar.filter((x) => x.sidecar?.running);
    const notRunning = withSidecar.length - todo.length;
    if (withSidecar.length === 0) {
      record(
        source,
        'filesystem',
        'unavailable',
        'no instance to measure has the cnpg-disk-probe sidecar (the CNPG-I plugin)',
      );
      return;
    }
    let fsUsed = 0;
    let walUsed = 0;
    let failed = 0;
    const failures: string[] = [];
    await Promise.all(
      todo.map(({ i, sidecar }) =>
        limit(async () => {
          opts.onProgress?.(`reading the probe sidecar of ${i.cs.namespace}/${i.pod}`);
          const timeoutMs = Math.max(client.timeoutMs, 10_000);
          let body: string;
          try {
            const r = await proxyGet(client, i.cs.namespace, `${i.pod}:${sidecar?.port}`, 'status', timeoutMs);
            if (r.status !== 200) throw new Error(`HTTP ${r.status} ${r.body.trim().slice(0, 160)}`);
            body = r.body;
          } catch (e) {
            failed++;
            const why = `the probe sidecar of ${i.cs.namespace}/${i.pod} did not answer: ${e instanceof Error ? e.message : describeApiError(e)}`;
            if (failures.length < 3) failures.push(why);
            m(i).errors.push(why);
            return;
          }
          const facts = parseProbeStatus(body, i.pod);
          for (const v of facts.volumes) {
            const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
            if (pvc && !m(i).filesystems[pvc]) {
              m(i).filesystems[pvc] = v.facts;
              fsUsed++;
            }
          }
          if (needsWal(i) && setWal(i, facts.wal)) walUsed++;
          if (facts.errors.length > 0) problems.push(...facts.errors);
        }),
      ),
    );
    if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
    if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s)`);
    if (failed > 0) record(source, 'filesystem', 'unreachable', `${failed} pod(s): ${failures.join('; ')}`);
    if (notRunning > 0)
      record(source, 'filesystem', 'unavailable', `the sidecar is not running in ${notRunning} pod(s)`);
  },
};
