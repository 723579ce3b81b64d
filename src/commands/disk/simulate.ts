import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags, parseDuration } from '../../cli/flags.js';

export default class DiskSimulate extends BaseCommand {
  static override summary =
    'Replay a usage trace through our resize policy and six published autoresize rules on a simulated disk.';
  static override description = `Answers: with this policy, on this growth, how long would the disk have been full, and how much storage would it have bought? Each policy — ours (core's engine with the default policy, and the predictive preset) and the rules of AWS RDS, Google Cloud SQL, Azure PostgreSQL flexible server, topolvm pvc-autoresizer, Crunchy PGO and the CloudNativePG autoresize RFC — runs on a simulated clock against a simulated storage backend (resize latency, filesystem growth delay, the provider's modification limits; a resize the backend refuses is counted, not applied).

Input: --trace FILE, the NDJSON of "disk status --watch -o json" or a Prometheus range-query answer for kubelet_volume_stats_used_bytes (usage only: give --initial-size); or seeded synthetic --scenario runs (default: all seven, one year at one-minute steps).

Reports per policy: disk-full minutes (available below one 16 MiB WAL segment or the policy's floor), resizes, resizes the backend refused, peak size, provisioned and wasted GiB-hours, final size. --chart FILE.svg draws used vs provisioned over time per policy, disk-full spans in red.

Exit codes: 0 done, 64 bad flags or an unreadable or malformed trace. Reads no cluster. The model, its sources and the latest results: docs/simulate.md.`;
  static override examples = [
    '<%= config.bin %> disk simulate',
    '<%= config.bin %> disk simulate --scenario burst-10x --seed 7 --backend ebs-legacy -o wide',
    '<%= config.bin %> disk simulate --trace watch.ndjson --chart watch.svg',
    '<%= config.bin %> disk simulate --trace used.json --volume payments/main-1 --initial-size 100Gi -o json',
  ];
  static override flags = {
    trace: Flags.string({
      summary: 'Replay this file: disk status --watch NDJSON or a Prometheus range-query answer.',
    }),
    volume: Flags.string({
      summary: 'The volume of the trace to replay (namespace/PVC or PVC) when it holds several.',
    }),
    'initial-size': Flags.string({
      summary: "The volume's size when the trace starts (required for a Prometheus export).",
    }),
    scenario: Flags.string({
      summary:
        'Synthetic scenario (repeatable): linear, exponential, bulk-load, archive-outage, leaking-slot, weekly, burst-10x, all.',
      multiple: true,
      multipleNonGreedy: true,
    }),
    seed: Flags.integer({ summary: 'Seed of the synthetic scenarios (same seed, same series).', default: 1 }),
    days: Flags.integer({ summary: 'Length of the synthetic scenarios, in days.', default: 365 }),
    step: Flags.string({
      summary: 'Simulated clock step (and policy check interval), e.g. 1m, 30s, 5m.',
      default: '1m',
    }),
    backend: Flags.string({
      summary: 'Storage backend model: ebs, ebs-legacy, gcp-pd, azure-disk, ideal.',
      default: 'ebs',
    }),
    policy: Flags.string({
      summary: 'Only these policies (repeatable): ours, ours-predictive, rds, cloudsql, azure, topolvm, pgo, cnpg-rfc.',
      multiple: true,
      multipleNonGreedy: true,
    }),
    limit: Flags.string({ summary: 'A size no policy grows past (PGO and topolvm require one), e.g. 2Ti.' }),
    chart: Flags.string({ summary: 'Also write the chart (SVG) to this file.' }),
    force: Flags.boolean({ summary: 'Replace the --chart file if it exists.' }),
    ...outputFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DiskSimulate);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ systemIO }, { parseOutputFormat }, { runDiskSimulate }] = await Promise.all([
      import('../../cli/io.js'),
      import('../../render/output-format.js'),
      import('../../app/disk-simulate.js'),
    ]);
    const code = await runDiskSimulate(
      {
        trace: flags.trace,
        volume: flags.volume,
        initialSize: flags['initial-size'],
        scenarios: flags.scenario,
        seed: flags.seed,
        days: flags.days,
        stepMs: parseDuration(flags.step, 'step'),
        backend: flags.backend,
        policies: flags.policy,
        limit: flags.limit,
        chart: flags.chart,
        force: flags.force,
        output: parseOutputFormat(flags.output, flags.json),
      },
      { io: systemIO({ noColor: flags['no-color'] }) },
    );
    this.finish(code);
  }
}
