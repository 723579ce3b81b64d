import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { kubeFlags, outputFlags, sourceFlags } from '../../cli/flags.js';

export default class DiskStatus extends BaseCommand {
  static override summary =
    'How full every data, WAL and tablespace volume is, and what the autoresize engine would do.';
  static override description = `Per cluster, instance and volume: PVC size, filesystem size, used, available, percent used,
the resize policy in force (and where it came from), the budget left, and the engine's verdict.
Findings (volume near full, filesystem smaller than the PVC, resize stuck, ...) follow the table.

Exit codes: 0 healthy, 1 warning findings, 2 critical findings, 3 could not evaluate, 64 usage error.`;
  static override examples = [
    '<%= config.bin %> disk status',
    '<%= config.bin %> disk status main -n payments -o wide',
    '<%= config.bin %> disk status -A -o json',
    '<%= config.bin %> disk status --from-bundle examples/wal-archive-failing.tar.gz',
  ];
  static override args = { cluster: Args.string({ description: 'Cluster name (default: every cluster in scope).' }) };
  static override flags = {
    ...kubeFlags,
    ...sourceFlags,
    ...outputFlags,
    policy: Flags.string({
      summary: 'Judge with this policy file instead of the cluster policy (try before adopting).',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskStatus);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ depsFromFlags, readOptionsFromFlags }, { readPolicyFile }, { runDiskStatus }] = await Promise.all([
      import('../shared.js'),
      import('../../cli/policy-file.js'),
      import('../../app/disk-status.js'),
    ]);
    const deps = depsFromFlags(flags);
    const code = await runDiskStatus(
      {
        ...readOptionsFromFlags(flags, args.cluster),
        ...(flags.policy ? { policyFile: await readPolicyFile(flags.policy) } : {}),
      },
      deps,
    );
    this.finish(code);
  }
}
