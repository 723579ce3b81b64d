import * as Args from '@oclif/core/args';
import { BaseCommand } from '../../cli/base.js';
import { kubeFlags, outputFlags, sourceFlags } from '../../cli/flags.js';

export default class WalHealth extends BaseCommand {
  static override summary =
    'Per instance: is WAL being archived, how much waits, and which replication slots hold it back.';
  static override description = `For every instance: archiving configured?, the last archived and the last failed WAL and when, the failed count, the .ready backlog (WAL waiting to be archived), the size of pg_wal and how full its volume is, replication slots (active, WAL retained, wal_status, safe size), and a verdict (healthy / warning / critical / unknown) with the command that fixes or investigates each problem.

Facts come from the first source that has them: the Cluster status, /pg/status and /metrics through the pod proxy, exec (psql), Prometheus (--prometheus-url). See docs/sources.md.

Exit codes: 0 healthy, 1 warning, 2 critical, 3 could not evaluate, 64 usage error.`;
  static override examples = [
    '<%= config.bin %> wal health',
    '<%= config.bin %> wal health main -n payments -o wide',
    '<%= config.bin %> wal health -A -o json',
    '<%= config.bin %> wal health --from-bundle examples/wal-archive-failing.tar.gz',
  ];
  static override args = { cluster: Args.string({ description: 'Cluster name (default: every cluster in scope).' }) };
  static override flags = { ...kubeFlags, ...sourceFlags, ...outputFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(WalHealth);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ depsFromFlags, readOptionsFromFlags }, { runWalHealth }] = await Promise.all([
      import('../shared.js'),
      import('../../app/wal-health.js'),
    ]);
    const deps = await depsFromFlags(flags);
    const code = await runWalHealth(
      {
        ...readOptionsFromFlags(flags, args.cluster),
      },
      deps,
    );
    this.finish(code);
  }
}
