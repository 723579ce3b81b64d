import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../cli/base.js';
import { contextFlags, kubeFlags, outputFlags, sourceFlags } from '../../cli/flags.js';

export default class DiskStatus extends BaseCommand {
  static override summary =
    'How full every data, WAL and tablespace volume is, and what the autoresize engine would do.';
  static override description = `Per cluster, instance and volume: PVC size, filesystem size, used, available, percent used, the resize policy in force (and where it came from), the budget left, and the engine's verdict. Findings (volume near full, filesystem smaller than the PVC, resize stuck, ...) follow the table.

With --watch it evaluates again every --interval and adds each volume's growth rate (GROWTH/H, a least-squares fit over the last 30 minutes of measurements) and when it will be full at that rate (FULL IN); JSON becomes one document per line, YAML one per "---". It runs until interrupted (Ctrl-C) or --count refreshes, and exits with the code of the last refresh.

Several contexts (--context a,b, a repeated --context, or --all-contexts) are read concurrently, at most --context-concurrency at once: one table with a CONTEXT column, JSON/YAML a DiskStatusList with one item per context; a context that cannot be read is reported (a "not evaluated" row and its reason), not a failed run.

Exit codes: 0 healthy, 1 warning findings, 2 critical findings, 3 could not evaluate, 64 usage error; with several contexts the worst of theirs.`;
  static override examples = [
    '<%= config.bin %> disk status',
    '<%= config.bin %> disk status main -n payments -o wide',
    '<%= config.bin %> disk status -A -o json',
    '<%= config.bin %> disk status --from-bundle examples/wal-archive-failing.tar.gz',
    '<%= config.bin %> disk status main -n payments --watch --interval 30s',
    '<%= config.bin %> disk status -A --context prod-eu,prod-us',
    '<%= config.bin %> disk status -A --all-contexts -o json',
  ];
  static override args = {
    cluster: Args.string({ description: 'Cluster name (default: every cluster in scope).', ignoreStdin: true }),
  };
  static override flags = {
    ...kubeFlags,
    ...contextFlags,
    ...sourceFlags,
    ...outputFlags,
    policy: Flags.string({
      summary: 'Judge with this policy file instead of the cluster policy (try before adopting).',
    }),
    watch: Flags.boolean({
      char: 'w',
      summary: 'Refresh every --interval and show growth rate and time to full.',
    }),
    interval: Flags.string({
      summary: 'Time between refreshes with --watch (e.g. 10s, 1m). [default: 10s]',
      dependsOn: ['watch'],
    }),
    count: Flags.integer({
      summary: 'With --watch: stop after this many refreshes.',
      min: 1,
      dependsOn: ['watch'],
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskStatus);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [
      { contextPlan, depsFromFlags, readOptionsFromFlags },
      { readPolicyFile },
      { parseDuration },
      { usageError },
    ] = await Promise.all([
      import('../shared.js'),
      import('../../cli/policy-file.js'),
      import('../../cli/flags.js'),
      import('../../model/errors.js'),
    ]);
    const plan = await contextPlan(flags);
    const opts = {
      ...readOptionsFromFlags(flags, args.cluster),
      ...(flags.policy ? { policyFile: await readPolicyFile(flags.policy) } : {}),
    };
    if (plan.kind === 'several') {
      const { runDiskStatusContexts } = await import('../../app/disk-status.js');
      this.finish(await runDiskStatusContexts(opts, plan.set, plan.bound));
      return;
    }
    const deps = await depsFromFlags({ ...flags, context: plan.context });
    if (!flags.watch) {
      const { runDiskStatus } = await import('../../app/disk-status.js');
      this.finish(await runDiskStatus(opts, deps));
      return;
    }
    if (opts.fromBundle !== undefined) throw usageError('--watch needs a live cluster, not --from-bundle');
    const intervalMs = parseDuration(flags.interval ?? '10s', 'interval');
    if (intervalMs < 1000) throw usageError('--interval must be at least 1s');
    const { watchDiskStatus } = await import('../../app/disk-status-watch.js');
    // Ctrl-C ends the watch after the current refresh is printed, with its exit code.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      this.finish(
        await watchDiskStatus(
          { ...opts, intervalMs, signal: stop.signal, ...(flags.count !== undefined ? { count: flags.count } : {}) },
          deps,
        ),
      );
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
