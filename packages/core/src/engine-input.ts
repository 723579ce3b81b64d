/**
 * The engine's input, built from the facts of one volume: every caller that
 * decides (the evaluation of a snapshot, the fresh decision after a write
 * conflict) builds it here, so both feed decide() the same way.
 */
import type { DecisionInput } from './engine.js';
import type {
  ClusterShape,
  FilesystemFacts,
  Ledger,
  PvcFacts,
  VolumeRef,
  WalHealth,
  WalSpaceExhausted,
} from './model.js';
import type { ResizePolicy } from './policy.js';
import { walSafetyApplies } from './wal-safety.js';

export interface VolumeDecisionFacts {
  volume: VolumeRef;
  cluster: ClusterShape;
  policy: ResizePolicy;
  pvc: PvcFacts;
  filesystem?: FilesystemFacts | undefined;
  ledger: Ledger;
  /** WAL health of the volume's own instance. */
  walHealth?: WalHealth | undefined;
  /**
   * The instance is down on exit code 4 (no room for one more WAL segment).
   * Given for any volume of the instance; it counts only for the one that
   * holds pg_wal (walSafetyApplies).
   */
  walSpaceExhausted?: WalSpaceExhausted | undefined;
}

export function decisionInput(f: VolumeDecisionFacts, now: number): DecisionInput {
  const exhausted = walSafetyApplies(f.volume, f.cluster) ? f.walSpaceExhausted : undefined;
  return {
    volume: f.volume,
    cluster: f.cluster,
    policy: f.policy,
    pvc: f.pvc,
    ...(f.filesystem ? { filesystem: f.filesystem } : {}),
    ledger: f.ledger,
    ...(f.walHealth ? { walHealth: f.walHealth } : {}),
    ...(exhausted ? { walSpaceExhausted: exhausted } : {}),
    now,
  };
}
