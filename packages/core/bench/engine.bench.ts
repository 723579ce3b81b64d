/**
 * Throughput and memory of decide() over 100,000 mixed volumes in which every
 * verdict (and every block reason) is represented.
 *
 *   npm run bench:core   (node --expose-gc --import tsx packages/core/bench/engine.bench.ts;
 *                         `npm run bench` runs it too, then the CLI's fleet bench)
 *
 * Prints figures only; it asserts nothing about speed (speed targets belong
 * in benchmarks, never in timed tests). It exits 1 only if the generated mix
 * stopped covering every verdict, which would make the figures meaningless.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  GiB,
  MiB,
  POLICY_IDS,
  SCENARIOS as SIM_SCENARIOS,
  decide,
  decideUntraced,
  prepareDecision,
  defaultPolicy,
  scenarioSeries,
  simulate,
  type BlockReason,
  type ClusterShape,
  type Decision,
  type PreparedDecision,
  type DecisionInput,
  type ResizePolicy,
  type Verdict,
  type VolumeType,
  type WalHealth,
} from '../src/index.js';

/**
 * The engine as it was when the fast path was asked for (the commit before
 * this project's automation stage, BENCH_CORE_REFERENCE to name another):
 * its packages/core/src is extracted with `git archive` into the cache and
 * its decide() runs in the same rounds over the same inputs, so "N× today's
 * traced decide()" is measured side by side, not quoted from an older run.
 */
const CORE_REFERENCE = process.env['BENCH_CORE_REFERENCE'] ?? '45aa3025e644df2e18552ef0fb361a30d37ebb63';

async function referenceDecide(): Promise<((i: DecisionInput) => Decision) | undefined> {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  try {
    const commit = execFileSync('git', ['rev-parse', '--verify', `${CORE_REFERENCE}^{commit}`], {
      cwd: repo,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const cache = process.env['CNPG_DISK_CACHE'] || join(os.homedir(), '.cache', 'cnpg-disk');
    const root = join(cache, 'bench-core-reference', commit);
    if (!existsSync(join(root, '.done'))) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      const tar = execFileSync('git', ['archive', commit, 'packages/core/src'], { cwd: repo, maxBuffer: 64 << 20 });
      execFileSync('tar', ['-x', '-C', root], { input: tar });
      writeFileSync(join(root, '.done'), commit + '\n');
    }
    const mod = (await import(pathToFileURL(join(root, 'packages/core/src/index.ts')).href)) as {
      decide: (i: DecisionInput) => Decision;
    };
    return mod.decide;
  } catch (e) {
    console.log(
      `reference engine ${CORE_REFERENCE.slice(0, 12)} not available (${(e as Error).message.split('\n')[0]})`,
    );
    return undefined;
  }
}

const VOLUMES = 100_000;
const ROUNDS = 7;
const NOW = Date.parse('2026-11-26T12:00:00Z');
const HOUR = 3_600_000;

/** mulberry32: a small seeded PRNG, so every run measures the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(9928);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

function policy(edit?: (p: ResizePolicy) => void): ResizePolicy {
  const p = defaultPolicy();
  p.enabled = true;
  edit?.(p);
  return p;
}

const withWal: ClusterShape = {
  namespace: 'db',
  name: 'pg',
  singleVolume: false,
  tablespaces: ['tbs1'],
  archiving: { configured: true },
};
const singleVolume: ClusterShape = { ...withWal, singleVolume: true };

function healthy(instance: string): WalHealth {
  return {
    instance,
    archivingConfigured: true,
    archiver: {
      archivedCount: 1000,
      failedCount: 2,
      lastArchivedTime: new Date(NOW - 60_000).toISOString(),
      lastFailedTime: new Date(NOW - 5 * HOUR).toISOString(),
    },
    readyFiles: int(0, 50),
    slots: [{ name: 'standby', type: 'physical', active: true, retainedBytes: BigInt(int(0, 1000)) * MiB }],
  };
}

/** One volume of the given scenario, with sizes drawn at random (1Gi..64Ti, some odd byte counts). */
function volume(i: number, scenario: Scenario): DecisionInput {
  const type: VolumeType = scenario.type ?? (['data', 'wal', 'tablespace'] as const)[i % 3] ?? 'data';
  const instance = `pg-${(i % 3) + 1}`;
  const size = BigInt(int(1, 65_536)) * GiB + (i % 7 === 0 ? BigInt(int(1, 1_000_000)) : 0n);
  const usedPermille = BigInt(scenario.usedPermille ?? int(850, 990));
  const base: DecisionInput = {
    volume: {
      namespace: 'db',
      cluster: 'pg',
      instance,
      pvcName: type === 'data' ? instance : type === 'wal' ? `${instance}-wal` : `${instance}-tbs-tbs1`,
      type,
      ...(type === 'tablespace' ? { tablespace: 'tbs1' } : {}),
    },
    cluster: withWal,
    policy: policy(),
    pvc: { requestBytes: size, capacityBytes: size, conditions: [] },
    filesystem: {
      totalBytes: size,
      usedBytes: (size * usedPermille) / 1000n,
      availableBytes: size - (size * usedPermille) / 1000n,
    },
    ledger: { entries: [] },
    walHealth: healthy(instance),
    now: NOW + i,
  };
  return scenario.make(base, size);
}

interface Scenario {
  name: string;
  weight: number;
  type?: VolumeType;
  usedPermille?: number;
  make: (b: DecisionInput, size: bigint) => DecisionInput;
}

const entry = (hoursAgo: number) => ({
  at: new Date(NOW - hoursAgo * HOUR).toISOString(),
  fromBytes: GiB,
  toBytes: 2n * GiB,
  by: 'engine' as const,
});

const SCENARIOS: Scenario[] = [
  { name: 'resize (percentage step)', weight: 20, make: (b) => b },
  {
    name: 'resize (absolute step, some history)',
    weight: 10,
    make: (b) => ({
      ...b,
      policy: policy((p) => (p.expansion.step = { kind: 'absolute', bytes: 10n * GiB })),
      ledger: { entries: [entry(30), entry(5)] },
    }),
  },
  {
    name: 'resize (capped at the limit)',
    weight: 4,
    make: (b, size) => ({ ...b, policy: policy((p) => (p.expansion.limitBytes = size + MiB)) }),
  },
  { name: 'none (below the trigger)', weight: 20, usedPermille: 500, make: (b) => b },
  { name: 'disabled', weight: 10, make: (b) => ({ ...b, policy: defaultPolicy() }) },
  { name: 'unknown (no filesystem facts)', weight: 4, make: ({ filesystem: _fs, ...b }) => b },
  {
    name: 'resize-in-progress',
    weight: 4,
    make: (b, size) => ({ ...b, pvc: { ...b.pvc, requestBytes: size + 10n * GiB } }),
  },
  {
    name: 'resize-failed',
    weight: 2,
    make: (b) => ({
      ...b,
      pvc: {
        ...b.pvc,
        conditions: [{ type: 'ControllerResizeError', status: 'True', message: 'volume modification rate exceeded' }],
      },
    }),
  },
  {
    name: 'blocked: rate-limit',
    weight: 6,
    make: (b) => ({ ...b, ledger: { entries: [entry(1), entry(2), entry(3)] } }),
  },
  {
    name: 'blocked: ledger-unreadable',
    weight: 1,
    make: (b) => ({ ...b, ledger: { entries: [], corrupt: 'the annotation is not valid JSON' } }),
  },
  {
    name: 'blocked: wal-risk-not-acknowledged',
    weight: 2,
    type: 'data',
    make: (b) => ({ ...b, cluster: singleVolume }),
  },
  {
    name: 'blocked: archive-unhealthy',
    weight: 3,
    type: 'wal',
    make: (b) => ({
      ...b,
      walHealth: {
        ...(b.walHealth as WalHealth),
        archiver: { archivedCount: 0, failedCount: 9, lastFailedTime: new Date(NOW).toISOString() },
      },
    }),
  },
  {
    name: 'blocked: pending-wal',
    weight: 2,
    type: 'wal',
    make: (b) => ({ ...b, walHealth: { ...(b.walHealth as WalHealth), readyFiles: 5000 } }),
  },
  {
    name: 'blocked: slot-retention',
    weight: 2,
    type: 'wal',
    make: (b) => ({
      ...b,
      policy: policy((p) => (p.strategy.walSafetyPolicy.maxSlotRetentionBytes = 10n * GiB)),
      walHealth: {
        ...(b.walHealth as WalHealth),
        slots: [{ name: 'gone', type: 'logical', active: false, retainedBytes: 50n * GiB }],
      },
    }),
  },
  {
    name: 'resize (no WAL health: fail-open)',
    weight: 2,
    type: 'wal',
    make: ({ walHealth: _w, ...b }) => b,
  },
  {
    name: 'at-limit',
    weight: 8,
    make: (b, size) => ({ ...b, policy: policy((p) => (p.expansion.limitBytes = size)) }),
  },
];

const EXPECTED_VERDICTS: Verdict[] = [
  'disabled',
  'unknown',
  'none',
  'resize',
  'resize-in-progress',
  'resize-failed',
  'blocked',
  'at-limit',
];
const EXPECTED_REASONS: BlockReason[] = [
  'rate-limit',
  'ledger-unreadable',
  'wal-risk-not-acknowledged',
  'archive-unhealthy',
  'pending-wal',
  'slot-retention',
];

const gc = (globalThis as { gc?: () => void }).gc;
const heapMiB = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

async function main(): Promise<number> {
  const oldDecide = await referenceDecide();
  const heapStart = heapMiB();
  const totalWeight = SCENARIOS.reduce((s, x) => s + x.weight, 0);
  const inputs: DecisionInput[] = [];
  for (let i = 0; i < VOLUMES; i++) {
    let pick = (i * 7919) % totalWeight; // spread the scenarios evenly through the list
    const scenario = SCENARIOS.find((s) => (pick -= s.weight) < 0) as Scenario;
    inputs.push(volume(i, scenario));
  }
  const heapInputs = heapMiB();
  // The prepared path: each volume prepared once (the policy read into
  // numbers, the ledger's times parsed), as the simulator does once for a
  // year of steps and a controller could once per volume; timed apart.
  const p0 = performance.now();
  const prepared: PreparedDecision[] = inputs.map((input) => prepareDecision(input));
  const prepareUs = ((performance.now() - p0) * 1000) / VOLUMES;

  // Warm-up, so the figures are for optimised code.
  for (let i = 0; i < 20_000; i++) decide(inputs[i] as DecisionInput);

  for (let i = 0; i < 20_000; i++) decideUntraced(inputs[i] as DecisionInput);
  if (oldDecide) for (let i = 0; i < 20_000; i++) oldDecide(inputs[i] as DecisionInput);
  for (let i = 0; i < 20_000; i++) (prepared[i] as PreparedDecision).decide();

  // Throughput: decisions are counted and dropped, as a controller pass that acts on each one would.
  // The traced decide() and the fast path decideUntraced() take turns, round by round, over the same
  // inputs, so a busy machine slows both alike and their ratio stays meaningful.
  const rates: number[] = [];
  const fastRates: number[] = [];
  // Each function in its own loop (one call site each: a shared one would
  // measure the dispatch between them, not the functions).
  const traced = (): number => {
    let resizes = 0;
    const t0 = performance.now();
    for (const input of inputs) if (decide(input).verdict === 'resize') resizes++;
    if (resizes === 0) throw new Error('no resize in the mix');
    return VOLUMES / ((performance.now() - t0) / 1000);
  };
  const untraced = (): number => {
    let resizes = 0;
    const t0 = performance.now();
    for (const input of inputs) if (decideUntraced(input).verdict === 'resize') resizes++;
    if (resizes === 0) throw new Error('no resize in the mix');
    return VOLUMES / ((performance.now() - t0) / 1000);
  };
  const preparedRates: number[] = [];
  const preparedPath = (): number => {
    let resizes = 0;
    const t0 = performance.now();
    for (const p of prepared) if (p.decide().verdict === 'resize') resizes++;
    if (resizes === 0) throw new Error('no resize in the mix (prepared path)');
    return VOLUMES / ((performance.now() - t0) / 1000);
  };
  const oldRates: number[] = [];
  const reference = (): number => {
    let resizes = 0;
    const t0 = performance.now();
    for (const input of inputs)
      if ((oldDecide as (i: DecisionInput) => Decision)(input).verdict === 'resize') resizes++;
    if (resizes === 0) throw new Error('no resize in the mix (reference engine)');
    return VOLUMES / ((performance.now() - t0) / 1000);
  };
  // No forced gc() between the timed loops: a full collection right before
  // one measured the collector's aftermath instead (it more than doubled the
  // fast path's time here). The order alternates round by round.
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      rates.push(traced());
      fastRates.push(untraced());
      preparedRates.push(preparedPath());
    } else {
      preparedRates.push(preparedPath());
      fastRates.push(untraced());
      rates.push(traced());
    }
    if (oldDecide) oldRates.push(reference());
  }

  // Memory, and throughput when all 100,000 decisions are kept (a report of every volume): more GC work.
  heapMiB();
  const t0 = performance.now();
  const decisions: Decision[] = inputs.map((input) => decide(input));
  const keptRate = VOLUMES / ((performance.now() - t0) / 1000);
  const heapAfter = heapMiB();

  const verdicts = new Map<string, number>();
  for (const d of decisions) {
    const k = d.verdict === 'blocked' ? `blocked/${d.reason}` : d.verdict;
    verdicts.set(k, (verdicts.get(k) ?? 0) + 1);
  }
  const sorted = [...rates].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const fastSorted = [...fastRates].sort((a, b) => a - b);
  const fastMedian = fastSorted[Math.floor(fastSorted.length / 2)] as number;
  const ratios = rates.map((r, i) => (fastRates[i] as number) / r).sort((a, b) => a - b);
  const best = sorted[sorted.length - 1] as number;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const load = os.loadavg()[0] as number;

  console.log(
    `decide() benchmark — ${VOLUMES.toLocaleString('en-US')} mixed volumes, node ${process.version}, ` +
      `${os.cpus().length} CPUs, load average ${load.toFixed(1)}`,
  );
  console.log('verdicts in the mix:');
  for (const [k, n] of [...verdicts.entries()].sort()) console.log(`  ${k.padEnd(36)} ${String(n).padStart(7)}`);
  console.log(
    `decisions per second: median ${fmt(median)}, best ${fmt(best)} over ${ROUNDS} rounds (${rates.map(fmt).join(', ')})`,
  );
  console.log(`time per decision:    median ${(1e6 / median).toFixed(2)} µs`);
  console.log(
    `fast path decideUntraced(): median ${fmt(fastMedian)} per second (${(1e6 / fastMedian).toFixed(2)} µs), ` +
      `${(fastMedian / median).toFixed(1)}× the traced decide() (per-round ratios ${ratios.map((r) => r.toFixed(1)).join(', ')})`,
  );
  const prepSorted = [...preparedRates].sort((a, b) => a - b);
  const prepMedian = prepSorted[Math.floor(prepSorted.length / 2)] as number;
  const prepRatios = rates.map((r, i) => (preparedRates[i] as number) / r).sort((a, b) => a - b);
  console.log(
    `prepared fast path PreparedDecision.decide() (the simulator's): median ${fmt(prepMedian)} per second ` +
      `(${(1e6 / prepMedian).toFixed(2)} µs), ${(prepMedian / median).toFixed(1)}× the traced decide() ` +
      `(per-round ratios ${prepRatios.map((r) => r.toFixed(1)).join(', ')}); preparing a volume once: ${prepareUs.toFixed(2)} µs`,
  );
  if (oldRates.length > 0) {
    const oldMedian = [...oldRates].sort((a, b) => a - b)[Math.floor(oldRates.length / 2)] as number;
    const oldRatios = oldRates.map((r, i) => (fastRates[i] as number) / r).sort((a, b) => a - b);
    const oldPrepRatios = oldRates.map((r, i) => (preparedRates[i] as number) / r).sort((a, b) => a - b);
    console.log(
      `reference traced decide() of ${CORE_REFERENCE.slice(0, 12)} (the engine when the fast path was asked for): ` +
        `median ${fmt(oldMedian)} per second; decideUntraced() is ${(fastMedian / oldMedian).toFixed(1)}× it ` +
        `(per-round ratios ${oldRatios.map((r) => r.toFixed(1)).join(', ')}), the prepared path ` +
        `${(prepMedian / oldMedian).toFixed(1)}× (${oldPrepRatios.map((r) => r.toFixed(1)).join(', ')})`,
    );
  }
  console.log(`keeping all 100,000 decisions: ${fmt(keptRate)} decisions per second`);
  console.log(
    `heap used: ${heapStart.toFixed(1)} MiB at start, ${heapInputs.toFixed(1)} MiB with the inputs, ` +
      `${heapAfter.toFixed(1)} MiB with the inputs and 100,000 decisions ` +
      `(≈ ${(((heapAfter - heapInputs) * 1024 * 1024) / VOLUMES).toFixed(0)} bytes per decision, trace included)` +
      (gc ? '' : ' — run with --expose-gc for exact figures'),
  );

  const missingVerdicts = EXPECTED_VERDICTS.filter((v) => !decisions.some((d) => d.verdict === v));
  const missingReasons = EXPECTED_REASONS.filter((r) => !decisions.some((d) => d.reason === r));
  if (missingVerdicts.length > 0 || missingReasons.length > 0) {
    console.error(`the mix no longer covers: ${[...missingVerdicts, ...missingReasons].join(', ')}`);
    return 1;
  }
  return 0;
}

/**
 * The simulator: every synthetic scenario, a year at one-minute steps,
 * through every policy (ours twice, through core's decideUntraced(), and the
 * six baselines) on the EBS model.
 */
function simulatorBench(): void {
  const t0 = performance.now();
  let steps = 0;
  let genMs = 0;
  for (const name of SIM_SCENARIOS) {
    const g0 = performance.now();
    const series = scenarioSeries(name, { seed: 1 });
    genMs += performance.now() - g0;
    const r = simulate(series, { backend: 'ebs', policies: POLICY_IDS });
    steps += series.used.length * r.results.length;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `simulator: ${SIM_SCENARIOS.length} scenarios × ${POLICY_IDS.length} policies × one year of minutes ` +
      `(${(steps / 1e6).toFixed(1)} million policy-steps) in ${s.toFixed(1)} s ` +
      `(${(genMs / 1000).toFixed(1)} s of it generating the series; load average ${(os.loadavg()[0] as number).toFixed(1)})`,
  );
}

process.exitCode = await main();
if (process.env['SKIP_SIM'] === undefined) simulatorBench();
