// `disk resize --apply` on a real cluster: each resize grows the PVC and its
// filesystem inside the running pod by exactly the engine's arithmetic
// (20 % of the current size clamped to [minStep, maxStep], rounded up to a
// MiB, capped at the limit), then refuses past the limit; and the ledger kept
// on the PVC blocks the next resize once the day's budget is spent.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cli } from './lib/cli.js';
import { MOUNTS, dfInPod, pvcs, createCluster } from './lib/cnpg.js';
import { Kube, bytes } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgrs';
const POD = `${CLUSTER}-1`;
const MiB = 2 ** 20;
const POLICY = {
  stepPercent: 20,
  minStep: 64 * MiB,
  maxStep: 1024 * MiB,
  limit: 400 * MiB,
};
let ns = '';
let tmp = '';
let policyFile = '';

interface Volume {
  pvc: string;
  type: string;
  action: string;
  decision: {
    verdict: string;
    reason?: string;
    newBytes?: string;
    currentBytes: string;
    budget?: { remaining: number };
  };
  result?: { status: string; fromBytes?: string; toBytes?: string };
  wait?: { status: string; filesystemVerified?: boolean };
}
interface Plan {
  kind: string;
  mode: string;
  summary: { exitCode: number };
  volumes: Volume[];
}

/** The engine's rule, computed here independently from the policy. */
function expectedNext(current: number): number {
  const raw = Math.floor((current * POLICY.stepPercent) / 100);
  const step = Math.min(Math.max(raw, POLICY.minStep), POLICY.maxStep);
  return Math.min(Math.ceil((current + step) / MiB) * MiB, POLICY.limit);
}

async function resize(filters: string[], apply: boolean, codes: number[]): Promise<Volume> {
  const args = ['disk', 'resize', '-n', ns, CLUSTER, '--policy', policyFile, '--instance', POD, ...filters];
  if (apply) args.push('--apply', '--yes', '--wait', '--timeout', `${Math.round(kube.t(240))}s`);
  const plan = await cli.json<Plan>(args, codes);
  expect(plan.kind).toBe('ResizePlan');
  expect(plan.mode).toBe(apply ? 'apply' : 'preview');
  expect(plan.volumes).toHaveLength(1);
  return plan.volumes[0] as Volume;
}

async function capacityOf(pvc: string): Promise<number> {
  const p = (await pvcs(kube, ns, CLUSTER)).find((x) => x.name === pvc);
  return Math.max(p?.capacity ?? 0, p?.requested ?? 0);
}

describe('disk resize --apply', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-resize-'));
    policyFile = join(tmp, 'policy.yaml');
    writeFileSync(
      policyFile,
      [
        'storage:',
        '  resize:',
        '    enabled: true',
        '    triggers: { usageThreshold: 1 }',
        `    expansion: { step: "${POLICY.stepPercent}%", minStep: 64Mi, maxStep: 1Gi, limit: 400Mi }`,
        '    strategy: { maxActionsPerDay: 10 }',
        'tablespaces:',
        '  tbs1:',
        '    resize:',
        '      enabled: true',
        '      triggers: { minAvailable: 10Gi }',
        '      expansion: { step: 32Mi }',
        '      strategy: { maxActionsPerDay: 1 }',
        '',
      ].join('\n'),
    );
    ns = await kube.createNamespace('resize');
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '256Mi',
      walSize: '256Mi',
      tablespaces: [{ name: 'tbs1', size: '256Mi' }],
    });
  });

  afterAll(async () => {
    cli.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (ns) await kube.deleteNamespace(ns);
  });

  it('grows the data volume step by step by the policy arithmetic, capped at the limit, then refuses', async () => {
    const seen: number[] = [];
    for (;;) {
      const current = await capacityOf(POD);
      const preview = await resize(['--volume', 'data'], false, [0, 1]);
      if (current >= POLICY.limit) {
        expect(preview.decision.verdict).toBe('at-limit');
        break;
      }
      const want = expectedNext(current);
      expect(preview.decision.verdict).toBe('resize');
      expect(Number(preview.decision.currentBytes)).toBe(current);
      expect(Number(preview.decision.newBytes)).toBe(want);

      const applied = await resize(['--volume', 'data'], true, [0]);
      expect(applied.result?.status).toBe('applied');
      expect(Number(applied.result?.toBytes)).toBe(want);
      expect(applied.wait?.status).toBe('done');
      expect(applied.wait?.filesystemVerified).toBe(true);
      const df = await dfInPod(kube, ns, POD, MOUNTS.data);
      if (cfg.local) expect(df.size).toBe(want);
      else expect(df.size).toBeGreaterThan(0.9 * want);
      seen.push(want);
      expect(seen.length).toBeLessThan(6);
    }
    // 256Mi -> 320Mi (minStep) -> 384Mi (20 %) -> 400Mi (461Mi capped at the limit).
    if (cfg.local) expect(seen).toEqual([320, 384, 400].map((m) => m * MiB));
    // --apply past the limit writes nothing and says why (exit 1: held).
    const refused = await resize(['--volume', 'data'], true, [1]);
    expect(refused.decision.verdict).toBe('at-limit');
    expect(await capacityOf(POD)).toBe(POLICY.limit);
  });

  it('spends the tablespace budget on one resize, then the ledger blocks the next', async () => {
    const pvc = `${POD}-tbs-tbs1`;
    const before = await capacityOf(pvc);
    const first = await resize(['--volume', 'tablespace', '--tablespace', 'tbs1'], true, [0]);
    expect(first.result?.status).toBe('applied');
    expect(Number(first.result?.toBytes)).toBe(before + 32 * MiB);
    if (cfg.local) expect((await dfInPod(kube, ns, POD, MOUNTS.tablespace('tbs1'))).size).toBe(before + 32 * MiB);

    const second = await resize(['--volume', 'tablespace', '--tablespace', 'tbs1'], false, [1]);
    expect(second.decision.verdict).toBe('blocked');
    expect(second.decision.reason).toBe('rate-limit');
    expect(second.decision.budget?.remaining).toBe(0);
    expect(await capacityOf(pvc)).toBe(before + 32 * MiB);
    expect(bytes('256Mi')).toBe(before);
  });
});
