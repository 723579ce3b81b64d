/**
 * disk simulate: replay a usage trace (or seeded synthetic scenarios)
 * through our engine and six published autoresize rules on a simulated
 * storage backend, and report disk-full minutes and what each bought.
 * Reads no cluster. docs/simulate.md describes the model and the sources.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  BACKENDS,
  MINUTE_MS,
  POLICY_IDS,
  SCENARIOS,
  TraceError,
  goalCheck,
  isOurs,
  parseBytes,
  parseTrace,
  scenarioSeries,
  seriesFromSamples,
  simulate,
  simulationChart,
  simulationReport,
  DAY_MS,
  type BackendId,
  type PolicyId,
  type ScenarioName,
  type SimulationResult,
  type UsageSeries,
} from '@cnpg-disk/core';
import type { Deps } from '../cli/deps.js';
import { ExitCode, usageError } from '../model/errors.js';
import { API_VERSION, paint, printResult, type OutputFormat } from '../render/printer.js';
import { renderTable } from '../render/table.js';

export interface DiskSimulateOptions {
  trace?: string | undefined;
  /** namespace/PVC (or PVC) of the trace to replay, when it holds several. */
  volume?: string | undefined;
  /** Size of the volume when the replay starts (a Prometheus export has usage only). */
  initialSize?: string | undefined;
  scenarios?: string[] | undefined;
  seed: number;
  days: number;
  stepMs: number;
  backend: string;
  policies?: string[] | undefined;
  limit?: string | undefined;
  chart?: string | undefined;
  force: boolean;
  output: OutputFormat;
}

/** Largest trace file read: a year of one-minute NDJSON for one cluster is far below it. */
export const MAX_TRACE_BYTES = 256 * 1024 * 1024;
/** At most this many steps per run (a year of minutes is 525,600). */
export const MAX_STEPS = 4_000_000;

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`--${flag} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
}

function size(text: string, flag: string): number {
  let b: bigint;
  try {
    b = parseBytes(text);
  } catch (e) {
    throw usageError(`--${flag} ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
  if (b <= 0n || b > BigInt(Number.MAX_SAFE_INTEGER))
    throw usageError(`--${flag} ${text} is not a size above 0 and below 8Pi`);
  return Number(b);
}

async function traceSeries(
  opts: DiskSimulateOptions,
): Promise<{ series: UsageSeries; source: Record<string, unknown> }> {
  const file = opts.trace as string;
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw usageError(`--trace ${file} is not a file`);
    if (st.size > MAX_TRACE_BYTES)
      throw usageError(`--trace ${file} is larger than ${MAX_TRACE_BYTES / 1024 / 1024} MiB`);
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof Error && e.name === 'CliError') throw e;
    throw usageError(`cannot read --trace ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let trace;
  try {
    trace = parseTrace(text, opts.volume);
  } catch (e) {
    if (e instanceof TraceError) throw usageError(`--trace ${file}: ${e.message}`);
    throw e;
  }
  const initial = opts.initialSize !== undefined ? size(opts.initialSize, 'initial-size') : trace.initialCapacityBytes;
  if (initial === undefined) {
    throw usageError(
      `--trace ${file} has usage only (a Prometheus export): give the volume's size at the start with --initial-size`,
      'e.g. --initial-size 100Gi',
    );
  }
  const first = trace.samples[0] as { at: number };
  const last = trace.samples[trace.samples.length - 1] as { at: number };
  if ((last.at - first.at) / opts.stepMs > MAX_STEPS) {
    throw usageError(
      `--trace ${file} spans more than ${MAX_STEPS} steps of ${opts.stepMs / 1000}s: use a larger --step`,
    );
  }
  const series = seriesFromSamples(file.split('/').pop() as string, trace.samples, opts.stepMs, initial);
  return {
    series,
    source: {
      file,
      format: trace.format,
      volume: trace.volume,
      samples: trace.samples.length,
      ...(trace.otherVolumes.length > 0 ? { otherVolumes: trace.otherVolumes } : {}),
    },
  };
}

export interface Simulation {
  runs: { result: SimulationResult; source: Record<string, unknown> }[];
  seed?: number;
}

export async function runSimulation(opts: DiskSimulateOptions): Promise<Simulation> {
  const backend = oneOf<BackendId>(opts.backend, BACKENDS, 'backend');
  const policies = (opts.policies?.length ? opts.policies : [...POLICY_IDS]).map((p) =>
    oneOf<PolicyId>(p, POLICY_IDS, 'policy'),
  );
  const limitBytes = opts.limit !== undefined ? size(opts.limit, 'limit') : undefined;
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 2 ** 32 - 1) {
    throw usageError(`--seed ${opts.seed} is not a whole number in 0..4294967295`);
  }
  if (opts.stepMs < 1000 || opts.stepMs > DAY_MS) throw usageError('--step must be between 1s and 24h');
  if (opts.trace !== undefined) {
    if (opts.scenarios?.length) throw usageError('--trace and --scenario are two inputs: give one');
    const run = await traceSeries(opts);
    return {
      runs: [
        {
          result: simulate(run.series, { backend, policies, ...(limitBytes !== undefined ? { limitBytes } : {}) }),
          source: run.source,
        },
      ],
    };
  }
  if (opts.volume !== undefined || opts.initialSize !== undefined) {
    throw usageError('--volume and --initial-size apply to a --trace');
  }
  if (!(opts.days > 0 && opts.days <= 3660)) throw usageError(`--days ${opts.days} is not in 1..3660`);
  if ((opts.days * DAY_MS) / opts.stepMs > MAX_STEPS)
    throw usageError(`--days ${opts.days} at this --step is more than ${MAX_STEPS} steps`);
  const wanted = !opts.scenarios?.length || opts.scenarios.includes('all') ? [...SCENARIOS] : opts.scenarios;
  const names = wanted.map((s) => oneOf<ScenarioName>(s, SCENARIOS, 'scenario'));
  return {
    seed: opts.seed,
    runs: names.map((name) => ({
      result: simulate(scenarioSeries(name, { seed: opts.seed, durationMs: opts.days * DAY_MS, stepMs: opts.stepMs }), {
        backend,
        policies,
        ...(limitBytes !== undefined ? { limitBytes } : {}),
      }),
      source: { scenario: name, seed: opts.seed },
    })),
  };
}

/**
 * Writes the chart like the bundle writer writes bundles: an existing FILE
 * is refused unless --force, a directory always; a symbolic link at FILE is
 * never followed (with --force the link itself is replaced). The SVG goes to
 * a new temporary file beside FILE (O_CREAT|O_EXCL), then is linked (or,
 * with --force, renamed) into place.
 */
export async function writeChart(file: string, svg: string, force: boolean): Promise<void> {
  if (!file.toLowerCase().endsWith('.svg')) throw usageError(`--chart ${file}: the chart is SVG, name the file .svg`);
  const abs = resolve(file);
  const existing = await lstat(abs).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw usageError(`cannot write --chart ${file}: ${e.code ?? e.message}`);
  });
  if (existing?.isDirectory()) throw usageError(`--chart ${file} is a directory`);
  if (existing && !force) {
    throw usageError(
      `--chart ${file} exists${existing.isSymbolicLink() ? ' (a symbolic link, never followed)' : ''}; pass --force to replace it`,
    );
  }
  const tmp = join(dirname(abs), `.${basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, svg, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    throw usageError(`cannot write --chart ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    if (force) await rename(tmp, abs);
    else await link(tmp, abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw usageError(
      code === 'EEXIST'
        ? `--chart ${file} appeared while the chart was written; pass --force to replace it`
        : `cannot write --chart ${file}: ${code ?? (e as Error).message}`,
    );
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const num = (n: number) => Math.round(n).toLocaleString('en-US');

export function simulationTable(sim: Simulation, wide: boolean, io: Deps['io']): string {
  const head = ['TRACE', 'POLICY', 'FULL MIN', 'RESIZES', 'REFUSED', 'PEAK', 'GiB·h', 'WASTED GiB·h', 'FINAL'];
  if (wide) head.push('GOAL');
  const rows: string[][] = [];
  for (const { result } of sim.runs) {
    const g = goalCheck(result);
    for (const r of result.results) {
      const row = [
        result.series.name,
        isOurs(r.policy) ? paint(io, 'bold', r.policy) : r.policy,
        r.fullMinutes > 0 ? paint(io, 'red', num(r.fullMinutes)) : '0',
        String(r.resizes),
        String(r.refused),
        gib(r.peakBytes),
        num(r.provisionedGiBHours),
        num(r.wastedGiBHours),
        gib(r.finalBytes),
      ];
      if (wide)
        row.push(
          isOurs(r.policy) ? (g.ours[r.policy] ?? '') : g.cheapest?.policy === r.policy ? 'cheapest full-free' : '',
        );
      rows.push(row);
    }
  }
  return renderTable(head, rows);
}

export async function runDiskSimulate(opts: DiskSimulateOptions, deps: Pick<Deps, 'io'>): Promise<ExitCode> {
  const { io } = deps;
  if (opts.chart !== undefined && !opts.chart.toLowerCase().endsWith('.svg')) {
    throw usageError(`--chart ${opts.chart}: the chart is SVG, name the file .svg`);
  }
  const sim = await runSimulation(opts);
  if (opts.chart !== undefined) {
    const title = `disk simulate — ${sim.runs[0]?.result.backend.title ?? ''}${sim.seed !== undefined ? `, seed ${sim.seed}` : ''}`;
    await writeChart(
      opts.chart,
      simulationChart(
        sim.runs.map((r) => r.result),
        title,
      ),
      opts.force,
    );
    io.stderr(`chart written to ${opts.chart}\n`);
  }
  const first = sim.runs[0]?.result;
  printResult(io, opts.output, {
    document: () =>
      simulationReport({
        apiVersion: API_VERSION,
        runs: sim.runs,
        ...(sim.seed !== undefined ? { seed: sim.seed } : {}),
      }),
    text: (wide) => {
      io.stderr(
        `backend: ${first?.backend.title}; step ${(first?.series.stepMs ?? MINUTE_MS) / 1000}s` +
          `${sim.seed !== undefined ? `; seed ${sim.seed}` : ''}\n`,
      );
      io.stdout(simulationTable(sim, wide, io));
    },
  });
  return ExitCode.OK;
}
