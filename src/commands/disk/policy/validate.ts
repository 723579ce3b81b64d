import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../../cli/base.js';
import { usageError } from '../../../model/errors.js';
import { kubeFlags, outputFlags, parseDuration, sourceFlags } from '../../../cli/flags.js';

export default class DiskPolicyValidate extends BaseCommand {
  static override summary =
    'Check a resize policy (a file, a Cluster manifest, or a live Cluster) for errors and warnings.';
  static override description = `FILE is a policy document (YAML or JSON: storage / walStorage / tablespaces.<name>, each with a resize block) or a CloudNativePG Cluster manifest (its resize fields and its policy annotation are checked against the shape and sizes it declares).

Without --cluster a policy document is checked shape-free, or against the shape you state with --single-volume|--wal-volume, --archiving|--no-archiving, --tablespace and --size (for CI). With --cluster NAME it is checked against that Cluster's shape and current PVC sizes (live, or from --from-bundle). --cluster NAME alone checks the Cluster's own fields and annotation.

Exit codes: 0 valid, 1 warnings only, 2 errors, 3 could not reach the cluster, 64 unreadable file or bad flags. Every code is listed in docs/policy.md.`;
  static override examples = [
    '<%= config.bin %> disk policy validate policy.yaml',
    '<%= config.bin %> disk policy validate policy.yaml --single-volume --no-archiving --size data=50Gi',
    '<%= config.bin %> disk policy validate cluster.yaml',
    '<%= config.bin %> disk policy validate policy.yaml --cluster main -n payments',
    '<%= config.bin %> disk policy validate --cluster main -n payments -o json',
  ];
  static override args = {
    file: Args.string({ description: 'Policy document or Cluster manifest (YAML or JSON).', ignoreStdin: true }),
  };
  static override flags = {
    cluster: Flags.string({ summary: 'Validate against (or, without FILE, validate) this Cluster.' }),
    namespace: kubeFlags.namespace,
    context: kubeFlags.context,
    kubeconfig: kubeFlags.kubeconfig,
    'request-timeout': kubeFlags['request-timeout'],
    'from-bundle': sourceFlags['from-bundle'],
    ...outputFlags,
    'single-volume': Flags.boolean({
      summary: 'Offline shape: WAL lives on the data volume (no walStorage).',
      helpGroup: 'SHAPE',
    }),
    'wal-volume': Flags.boolean({ summary: 'Offline shape: a separate WAL volume.', helpGroup: 'SHAPE' }),
    archiving: Flags.boolean({
      summary: 'Offline shape: WAL archiving is configured (--no-archiving: it is not).',
      allowNo: true,
      helpGroup: 'SHAPE',
    }),
    tablespace: Flags.string({
      summary: 'Offline shape: the cluster has this tablespace (repeatable).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'SHAPE',
    }),
    size: Flags.string({
      summary: 'Offline shape: current size of a role, data=100Gi | wal=10Gi | tbs:NAME=5Gi (repeatable).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'SHAPE',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskPolicyValidate);
    this.verbose = flags.verbose;
    if (flags['single-volume'] && flags['wal-volume']) {
      throw usageError('--single-volume and --wal-volume contradict each other');
    }
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ defaultDeps }, { parseOutputFormat }, { runPolicyValidate }] = await Promise.all([
      import('../../../cli/deps.js'),
      import('../../../render/output-format.js'),
      import('../../../app/policy-validate.js'),
    ]);
    const deps = await defaultDeps({
      kubeconfig: flags.kubeconfig,
      context: flags.context,
      requestTimeoutMs: parseDuration(flags['request-timeout'], 'request-timeout'),
      noColor: flags['no-color'],
      // a FILE alone, or a bundle, reads no cluster
      offline: flags['from-bundle'] !== undefined || flags.cluster === undefined,
    });
    const code = await runPolicyValidate(
      {
        file: args.file,
        cluster: flags.cluster,
        namespace: flags.namespace,
        context: flags.context,
        fromBundle: flags['from-bundle'],
        shape: {
          layout: flags['single-volume'] ? 'single-volume' : flags['wal-volume'] ? 'wal-volume' : undefined,
          archiving: flags.archiving,
          tablespaces: flags.tablespace,
          sizes: flags.size,
        },
        output: parseOutputFormat(flags.output, flags.json),
        verbose: flags.verbose,
      },
      deps,
    );
    this.finish(code);
  }
}
