import * as Args from '@oclif/core/args';
import { BaseCommand } from '../../cli/base.js';
import { contextFlags, kubeFlags, outputFlags, sourceFlags } from '../../cli/flags.js';

export default class WalHealth extends BaseCommand {
  static override summary =
    'Per instance: is WAL being archived, how much waits, and which replication slots hold it back.';
  static override description = `For every instance: archiving configured?, the last archived and the last failed WAL and when, the failed count, the .ready backlog (WAL waiting to be archived), the size of pg_wal and how full its volume is, replication slots (active, WAL retained, wal_status, safe size), and a verdict (healthy / warning / critical / unknown) with the command that fixes or investigates each problem.

Facts come from the first source that has them: the Cluster status, /pg/status and /metrics through the pod proxy, exec (psql), Prometheus (--prometheus-url). See docs/sources.md.

Several contexts (--context a,b, a repeated --context, or --all-contexts) are read concurrently, at most --context-concurrency at once: one table with a CONTEXT column, JSON/YAML a WalHealthReportList; a context that cannot be read is reported, not a failed run.

Exit codes: 0 healthy, 1 warning, 2 critical, 3 could not evaluate, 64 usage error; with several contexts the worst of theirs.`;
  static override examples = [
    '<%= config.bin %> wal health',
    '<%= config.bin %> wal health main -n payments -o wide',
    '<%= config.bin %> wal health -A -o json',
    '<%= config.bin %> wal health --from-bundle examples/wal-archive-failing.tar.gz',
    '<%= config.bin %> wal health -A --all-contexts',
  ];
  static override args = {
    cluster: Args.string({ description: 'Cluster name (default: every cluster in scope).', ignoreStdin: true }),
  };
  static override flags = { ...kubeFlags, ...contextFlags, ...sourceFlags, ...outputFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(WalHealth);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ contextPlan, depsFromFlags, readOptionsFromFlags }, { runWalHealth, runWalHealthContexts }] =
      await Promise.all([import('../shared.js'), import('../../app/wal-health.js')]);
    const plan = await contextPlan(flags);
    const opts = readOptionsFromFlags(flags, args.cluster);
    const code =
      plan.kind === 'several'
        ? await runWalHealthContexts(opts, plan.set, plan.bound)
        : await runWalHealth(opts, await depsFromFlags({ ...flags, context: plan.context }));
    this.finish(code);
  }
}
