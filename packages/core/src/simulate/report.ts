/**
 * The SimulationReport document (-o json|yaml) and the goal check: on every
 * run, our policies should have no disk-full minute where some baseline has
 * none, and provision no more GiB-hours than the cheapest baseline that
 * stays full-free.
 */
import type { PolicyResult, SimulationResult } from './run.js';

export const SIMULATION_REPORT_KIND = 'SimulationReport';

export type GoalVerdict = 'meets' | 'disk-full' | 'costs-more' | 'disk-full-and-costs-more';

export interface GoalCheck {
  /** Baselines (not ours) with no disk-full minute. */
  fullFreeBaselines: string[];
  /** The cheapest of them and its provisioned GiB-hours. */
  cheapest?: { policy: string; provisionedGiBHours: number };
  /** Per policy of ours. */
  ours: Record<string, GoalVerdict>;
}

export const isOurs = (policy: string) => policy === 'ours' || policy.startsWith('ours-');

export function goalCheck(run: SimulationResult): GoalCheck {
  const baselines = run.results.filter((r) => !isOurs(r.policy));
  const free = baselines.filter((r) => r.fullMinutes === 0);
  const cheapest = free.reduce<PolicyResult | undefined>(
    (a, r) => (a === undefined || r.provisionedGiBHours < a.provisionedGiBHours ? r : a),
    undefined,
  );
  const ours: Record<string, GoalVerdict> = {};
  for (const r of run.results.filter((x) => isOurs(x.policy))) {
    const full = free.length > 0 && r.fullMinutes > 0;
    // a thousandth of a GiB-hour is rounding, not cost
    const dearer = cheapest !== undefined && r.provisionedGiBHours > cheapest.provisionedGiBHours + 1e-3;
    ours[r.policy] = full && dearer ? 'disk-full-and-costs-more' : full ? 'disk-full' : dearer ? 'costs-more' : 'meets';
  }
  return {
    fullFreeBaselines: free.map((r) => r.policy),
    ...(cheapest
      ? { cheapest: { policy: cheapest.policy, provisionedGiBHours: round(cheapest.provisionedGiBHours) } }
      : {}),
    ours,
  };
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface ReportInput {
  apiVersion: string;
  runs: readonly { result: SimulationResult; source: Record<string, unknown> }[];
  seed?: number;
}

/** The versioned document; byte counts as decimal strings like every document of this project. */
export function simulationReport(input: ReportInput): Record<string, unknown> {
  const first = input.runs[0]?.result;
  return {
    apiVersion: input.apiVersion,
    kind: SIMULATION_REPORT_KIND,
    backend: first?.backend,
    ...(input.seed !== undefined ? { seed: input.seed } : {}),
    walSegmentBytes: String(16 * 1024 * 1024),
    runs: input.runs.map(({ result, source }) => ({
      trace: {
        name: result.series.name,
        description: result.series.description,
        source,
        volume: result.series.volume,
        start: new Date(result.series.startAt).toISOString(),
        stepSeconds: result.series.stepMs / 1000,
        steps: result.series.steps,
        initialBytes: String(result.series.initialBytes),
      },
      results: result.results.map((r) => ({
        policy: r.policy,
        title: r.title,
        diskFullMinutes: r.fullMinutes,
        resizes: r.resizes,
        refusedResizes: r.refused,
        peakBytes: String(r.peakBytes),
        finalBytes: String(r.finalBytes),
        provisionedGiBHours: round(r.provisionedGiBHours),
        wastedGiBHours: round(r.wastedGiBHours),
        events: r.events.map((e) => ({
          at: new Date(e.at).toISOString(),
          fromBytes: String(e.fromBytes),
          toBytes: String(e.toBytes),
          outcome: e.outcome,
          ...(e.rule ? { rule: e.rule } : {}),
        })),
      })),
      goal: goalCheck(result),
    })),
  };
}
