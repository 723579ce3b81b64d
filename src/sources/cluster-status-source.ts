/**
 * The cluster-status source: the operator's own status.diskStatus on the Cluster: no access beyond reading Clusters.
 */
import { parseClusterDiskStatus } from './cluster-status.js';
import { type MeasureRun, type Source } from './source.js';
import { SOURCE_FACTS } from '../model/snapshot.js';

export const clusterStatusSource: Source = {
  name: 'cluster-status',
  facts: SOURCE_FACTS['cluster-status'],
  clusterScoped: false,
  access(_namespace: string) {
    return [];
  },
  async measure(run: MeasureRun): Promise<void> {
    const source = 'cluster-status' as const;
    const { opts, snaps, pending, problems, m, needsWal, setWal, record } = run;
    let fsUsed = 0;
    let walUsed = 0;
    let published = 0;
    for (const cs of snaps) {
      const ds = parseClusterDiskStatus(cs.cluster, opts.now().toISOString());
      problems.push(...ds.problems);
      if (!ds.present) continue;
      published++;
      for (const si of ds.instances) {
        const i = pending.find((x) => x.cs === cs && x.pod === si.pod);
        if (!i) continue;
        for (const v of si.volumes) {
          const pvc = i.pvcByVolume.get(`${v.type}/${v.tablespace ?? ''}`);
          if (pvc && !m(i).filesystems[pvc]) {
            m(i).filesystems[pvc] = v.facts;
            fsUsed++;
          }
        }
        if (needsWal(i) && setWal(i, si.wal)) walUsed++;
      }
    }
    if (published === 0) {
      record(
        source,
        'filesystem',
        'unavailable',
        'the operator does not publish status.diskStatus (released CloudNativePG does not)',
      );
    } else {
      if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
      if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s), .ready backlog only`);
      if (fsUsed === 0 && walUsed === 0) record(source, 'filesystem', 'unavailable', 'status.diskStatus is empty');
    }
  },
};
