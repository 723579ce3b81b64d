import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../cli/base.js';
import { contextFlags, kubeFlags, outputFlags, sourceFlags } from '../cli/flags.js';

export default class Diagnose extends BaseCommand {
  static override summary =
    'Every check at once: ranked findings, each with the command that fixes or investigates it.';
  static override description = `Runs every check on the clusters in scope: volume near full, filesystem smaller than its PVC, resize stuck or failed, storage class not expandable, instance crash-looping with exit code 4 (WAL disk full), WAL archiving failing, .ready backlog, inactive replication slots, resize budget exhausted, at the size limit, pending pods and PVCs, attach/mount/resize failure events. Findings are ranked critical, warning, info (codes and thresholds: docs/findings.md).

--bundle FILE also writes a support bundle (.tar.gz): the Cluster, pods, PVCs, PVs, storage classes, events, bounded postgres logs (current and previous), /pg/status and a metrics scrape per pod, the filesystem and WAL facts, versions, and a manifest of what was collected and what failed. Secrets are never read; credentials in objects and logs are redacted unless --no-redact (docs/bundle.md). The file is written with mode 0600 through a temporary file renamed into place; an existing FILE is refused unless --force, and a symbolic link there is never followed.

disk status, wal health and diagnose read a bundle offline with --from-bundle; diagnose --from-bundle FILE --list shows what it holds (manifest, what failed, redaction, tool version, clusters).

Several contexts (--context a,b, a repeated --context, or --all-contexts) are read concurrently, at most --context-concurrency at once: the findings of all of them ranked together, each labelled [context]; JSON/YAML a DiagnosisList; a context that cannot be read is reported, not a failed run. --bundle takes one context (run it once per context).

Exit codes: 0 no findings above info, 1 warning, 2 critical, 3 could not evaluate, 64 usage error; with several contexts the worst of theirs.`;
  static override examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose main -n payments',
    '<%= config.bin %> diagnose -A -o json',
    '<%= config.bin %> diagnose main -n payments --bundle main-bundle.tar.gz',
    '<%= config.bin %> diagnose --from-bundle examples/instance-down-exit-code-4.tar.gz',
    '<%= config.bin %> diagnose --from-bundle examples/instance-down-exit-code-4.tar.gz --list',
    '<%= config.bin %> diagnose -A --context prod-eu,prod-us',
  ];
  static override args = {
    cluster: Args.string({ description: 'Cluster name (default: every cluster in scope).', ignoreStdin: true }),
  };
  static override flags = {
    ...kubeFlags,
    ...contextFlags,
    ...sourceFlags,
    ...outputFlags,
    bundle: Flags.string({
      summary: 'Also write a support bundle (.tar.gz) to this file.',
      helpGroup: 'BUNDLE',
    }),
    list: Flags.boolean({
      summary: 'With --from-bundle: list what the bundle holds (manifest, what failed, redaction, clusters).',
      default: false,
    }),
    force: Flags.boolean({
      summary: 'Replace an existing --bundle file (a symbolic link there is replaced, never followed).',
      default: false,
      helpGroup: 'BUNDLE',
    }),
    redact: Flags.boolean({
      summary: 'Redact credentials in the bundle (--no-redact keeps everything as read).',
      default: true,
      allowNo: true,
      helpGroup: 'BUNDLE',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Diagnose);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ contextPlan, depsFromFlags, readOptionsFromFlags }, { runDiagnose, runDiagnoseContexts }] =
      await Promise.all([import('./shared.js'), import('../app/diagnose.js')]);
    const plan = await contextPlan(flags);
    if (flags.list) {
      const deps = await depsFromFlags({ ...flags, context: plan.kind === 'single' ? plan.context : undefined });
      const { runBundleList } = await import('../app/bundle-list.js');
      const { fromBundle, output } = readOptionsFromFlags(flags, args.cluster);
      this.finish(await runBundleList({ fromBundle, output, bundle: flags.bundle }, deps));
      return;
    }
    const opts = {
      ...readOptionsFromFlags(flags, args.cluster),
      bundle: flags.bundle,
      force: flags.force,
      redact: flags.redact,
      pluginVersion: this.config.version,
    };
    const code =
      plan.kind === 'several'
        ? await runDiagnoseContexts(opts, plan.set, plan.bound)
        : await runDiagnose(opts, await depsFromFlags({ ...flags, context: plan.context }));
    this.finish(code);
  }
}
