/**
 * Which volumes the WAL safety checks govern: the volume that holds pg_wal —
 * the wal volume, or data on a single-volume cluster (no separate WAL
 * volume). Tablespaces never hold WAL. The engine, policy validation and the
 * evaluation of "WAL disk full" (exit code 4) all ask here.
 */
import type { ClusterShape, VolumeRef } from './model.js';

export function walSafetyApplies(
  volume: Pick<VolumeRef, 'type'>,
  cluster: { singleVolume: ClusterShape['singleVolume'] | undefined },
): boolean {
  return volume.type === 'wal' || (volume.type === 'data' && cluster.singleVolume === true);
}
