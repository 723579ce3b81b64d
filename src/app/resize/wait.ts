/**
 * disk resize --wait: polls the resized PVCs until the capacity and the
 * filesystem caught up, the expansion failed, or the time ran out.
 */
import {
  formatBytes,
  expansionState,
  filesystemSmallerThanPvc,
  type FilesystemFacts,
  type PvcFacts,
} from '@cnpg-disk/core';

import type { IOStreams } from '../../cli/io.js';

import { pvcFacts, str } from '../../model/kube-objects.js';
import type { KubeClient } from '../../kube/client.js';

import { getPvc, listEventsFor } from '../../kube/pvc-write.js';

import type { KubeObject, Snapshot } from '../../model/snapshot.js';

// ---------------------------------------------------------------- wait

export type { ExpansionState } from '@cnpg-disk/core';
import { type PlanItem, type WaitResult } from './plan.js';
import { q } from './render.js';
import { apiMessage } from './apply.js';

/** Whether a filesystem has caught up with the capacity (the engine's "clearly smaller" rule, inverted). */
export function filesystemCaughtUp(capacity: bigint, fs: Pick<FilesystemFacts, 'totalBytes'>): boolean {
  return !filesystemSmallerThanPvc(capacity, fs);
}

export interface WaitContext {
  client: KubeClient;
  io: IOStreams;
  storageClasses: KubeObject[];
  timeoutMs: number;
  pollIntervalMs: number;
  /** When the writes started: older events are not about this expansion. */
  since: number;
  /** Measures the cluster's filesystems again (a fresh snapshot). */
  remeasure: () => Promise<Snapshot>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function latestWarning(client: KubeClient, namespace: string, pvc: string, since: number): Promise<string> {
  try {
    const events = await listEventsFor(client, namespace, 'PersistentVolumeClaim', pvc);
    const warnings = events
      .filter((e) => str(e, 'type') === 'Warning')
      .map((e) => ({
        e,
        at: Date.parse(str(e, 'lastTimestamp') ?? str(e, 'eventTime') ?? str(e, 'metadata', 'creationTimestamp') ?? ''),
      }))
      // Event times have whole seconds.
      .filter((x) => Number.isNaN(x.at) || x.at >= since - 2000)
      .sort((a, b) => a.at - b.at);
    const last = warnings[warnings.length - 1]?.e;
    return last ? `; last event ${str(last, 'reason') ?? ''}: ${str(last, 'message') ?? ''}` : '';
  } catch {
    return '';
  }
}

/** --wait: follows every applied resize to the filesystem (or to a failure, or the timeout). */
export async function waitForExpansions(items: PlanItem[], ctx: WaitContext): Promise<void> {
  const started = Date.now();
  const deadline = started + ctx.timeoutMs;
  const seconds = () => Math.round((Date.now() - started) / 1000);
  interface Pending {
    item: PlanItem;
    target: bigint;
    phase: WaitResult['phase'];
    detail: string;
    capacity?: bigint;
    fsTotal?: bigint;
  }
  const pending: Pending[] = items
    .filter((i) => i.result?.status === 'applied' && i.result.toBytes !== undefined)
    .map((i) => ({ item: i, target: i.result?.toBytes as bigint, phase: 'controller', detail: 'not read yet' }));
  const say = (p: Pending, text: string) => ctx.io.stderr(`wait: ${p.item.volume.pvcName}: ${text}\n`);
  const finish = (p: Pending, status: WaitResult['status'], message: string, verified: boolean) => {
    p.item.wait = {
      status,
      phase: status === 'done' ? 'done' : status === 'failed' ? 'failed' : p.phase,
      ...(p.capacity !== undefined ? { capacityBytes: p.capacity } : {}),
      ...(p.fsTotal !== undefined ? { filesystemTotalBytes: p.fsTotal } : {}),
      filesystemVerified: verified,
      message,
      seconds: seconds(),
    };
  };
  let open = [...pending];
  while (open.length > 0) {
    for (const p of open) {
      const v = p.item.volume;
      let facts: PvcFacts;
      try {
        facts = pvcFacts(await getPvc(ctx.client, v.namespace, v.pvcName), ctx.storageClasses, []);
      } catch (e) {
        p.detail = `cannot read the PVC (${apiMessage(e)})`;
        continue;
      }
      if (facts.capacityBytes !== undefined) p.capacity = facts.capacityBytes;
      const s = expansionState(facts, p.target);
      if (s.state === 'failed') {
        const ev = await latestWarning(ctx.client, v.namespace, v.pvcName, ctx.since);
        p.phase = 'failed';
        finish(p, 'failed', `expansion failed: ${s.detail}${ev}`, false);
        say(p, `FAILED: ${s.detail}${ev}`);
        continue;
      }
      const phase = s.state === 'capacity-reached' ? 'filesystem' : s.state;
      if (phase !== p.phase || s.detail !== p.detail) say(p, s.detail);
      p.phase = phase;
      p.detail = s.detail;
      if (phase === 'filesystem' && !p.item.volume.filesystem) {
        finish(
          p,
          'done',
          `capacity ${q(p.capacity)} reached; the filesystem size was not verified (no source measured this volume)`,
          false,
        );
        say(p, 'capacity reached (filesystem not verified: no source measured it)');
      }
    }
    open = open.filter((p) => !p.item.wait);
    const fsOpen = open.filter((p) => p.phase === 'filesystem');
    if (fsOpen.length > 0) {
      try {
        const snap = await ctx.remeasure();
        const byPvc = new Map<string, FilesystemFacts>();
        for (const c of snap.clusters)
          for (const m of c.measurements) for (const [k, f] of Object.entries(m.filesystems)) byPvc.set(k, f);
        for (const p of fsOpen) {
          const f = byPvc.get(p.item.volume.pvcName);
          if (!f) {
            p.detail = 'capacity reached; the filesystem could not be measured this time';
            continue;
          }
          p.fsTotal = f.totalBytes;
          if (p.capacity !== undefined && filesystemCaughtUp(p.capacity, f)) {
            finish(
              p,
              'done',
              `expanded: capacity ${q(p.capacity)}, filesystem ${formatBytes(f.totalBytes)} (${f.source ?? 'measured'})`,
              true,
            );
            say(p, `done: filesystem ${formatBytes(f.totalBytes)}`);
          } else {
            p.detail = `capacity ${q(p.capacity)} reached; the filesystem is still ${formatBytes(f.totalBytes)}`;
          }
        }
      } catch (e) {
        for (const p of fsOpen) p.detail = `capacity reached; measuring the filesystem failed (${apiMessage(e)})`;
      }
      open = open.filter((p) => !p.item.wait);
    }
    if (open.length === 0) break;
    if (Date.now() + ctx.pollIntervalMs > deadline) {
      for (const p of open) {
        const v = p.item.volume;
        const ev = await latestWarning(ctx.client, v.namespace, v.pvcName, ctx.since);
        finish(p, 'timeout', `timed out after ${seconds()} s: ${p.detail}${ev}`, false);
        say(p, `TIMEOUT: ${p.detail}${ev}`);
      }
      break;
    }
    await sleep(ctx.pollIntervalMs);
  }
}
