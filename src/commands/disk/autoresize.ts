import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../cli/base.js';
import { kubeFlags, outputFlags, sourceFlags } from '../../cli/flags.js';

export default class DiskAutoresize extends BaseCommand {
  static override summary = 'Grow volumes by their policy without a person: one pass, or the in-cluster controller.';
  static override description = `One pass over the scope (-n, -A, -l, or a Cluster name): measure every volume, decide with the engine, and perform each resize with the same guarded write as disk resize --apply (the PVC's new request and its ledger entry in one patch with a resourceVersion precondition; on 409 the PVC is read again and the decision made again). Also grows a PVC that is smaller than the largest PVC of its role in the same Cluster (the sibling floor), within the policy's limit and budget. Nothing is resized without a policy: the plugin's parameters, then the Cluster's policy annotation, then the controller-wide --default-policy, else disabled.

With --controller it runs until SIGTERM (in a cluster, from the Deployment that disk install prints): list+watch caches, a pass every --interval (jittered) and after relevant changes, leader election on a Lease so only one replica acts, /metrics, /healthz and /readyz on --metrics-address, Events on the Cluster once per change of state.

Exit codes (one pass): 0 resized or nothing to do; 1 something held or not applied; 2 refused, failed expansion or failed write; 3 could not decide; 64 usage error. See docs/autoresize.md.`;
  static override examples = [
    '<%= config.bin %> disk autoresize -A --dry-run',
    '<%= config.bin %> disk autoresize main -n payments -o yaml',
    '<%= config.bin %> disk autoresize --controller --all-namespaces --interval 30s',
  ];
  static override args = {
    cluster: Args.string({ description: 'Only this Cluster.', required: false, ignoreStdin: true }),
  };
  static override flags = {
    namespace: kubeFlags.namespace,
    'all-namespaces': kubeFlags['all-namespaces'],
    selector: kubeFlags.selector,
    context: kubeFlags.context,
    kubeconfig: kubeFlags.kubeconfig,
    'request-timeout': kubeFlags['request-timeout'],
    source: sourceFlags.source,
    concurrency: sourceFlags.concurrency,
    'prometheus-url': sourceFlags['prometheus-url'],
    ...outputFlags,
    'default-policy': Flags.string({
      summary: 'Controller-wide default policy file (kind DefaultPolicy), weaker than a Cluster’s own policy.',
      helpGroup: 'POLICY',
    }),
    'keep-spec-in-step': Flags.boolean({
      summary: "After a resize, raise the Cluster's declared size too (a GitOps tool reverts it unless Git changes).",
      helpGroup: 'POLICY',
    }),
    'dry-run': Flags.boolean({ summary: 'Decide and report; write nothing.', helpGroup: 'APPLY' }),
    events: Flags.boolean({
      summary: 'Write Events on the Clusters (the controller always does; needs create/list events).',
      helpGroup: 'APPLY',
    }),
    controller: Flags.boolean({
      summary: 'Run as the long-running controller (until SIGTERM).',
      helpGroup: 'CONTROLLER',
    }),
    'watch-namespace': Flags.string({
      summary: 'Controller: watch only these namespaces (comma-separated); else --all-namespaces.',
      helpGroup: 'CONTROLLER',
    }),
    interval: Flags.string({
      summary: 'Controller: time between passes (jittered ±10 %).',
      default: '30s',
      helpGroup: 'CONTROLLER',
    }),
    'lease-namespace': Flags.string({
      summary: 'Controller: namespace of the leader Lease (default $POD_NAMESPACE).',
      helpGroup: 'CONTROLLER',
    }),
    'lease-name': Flags.string({
      summary: 'Controller: name of the leader Lease.',
      default: 'cnpg-disk-autoresizer',
      helpGroup: 'CONTROLLER',
    }),
    identity: Flags.string({
      summary: 'Controller: this replica in the Lease (default $POD_NAME, else the host name).',
      helpGroup: 'CONTROLLER',
    }),
    'metrics-address': Flags.string({
      summary: 'Controller: host:port of /metrics, /healthz and /readyz.',
      default: '0.0.0.0:8080',
      helpGroup: 'CONTROLLER',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskAutoresize);
    this.verbose = flags.verbose;
    const [{ depsFromFlags, readOptionsFromFlags }, { parseDuration, parseSource }, { usageError }] = await Promise.all(
      [import('../shared.js'), import('../../cli/flags.js'), import('../../model/errors.js')],
    );
    const deps = await depsFromFlags(flags);
    if (!flags.controller) {
      for (const f of ['watch-namespace', 'lease-namespace', 'identity'] as const) {
        if (flags[f] !== undefined) throw usageError(`--${f} is a controller flag: add --controller`);
      }
      const { runAutoresizeOnce } = await import('../../controller/run-once.js');
      const code = await runAutoresizeOnce(
        {
          ...readOptionsFromFlags(flags, args.cluster),
          defaultPolicyPath: flags['default-policy'],
          keepSpecInStep: flags['keep-spec-in-step'],
          events: flags.events,
          dryRun: flags['dry-run'],
        },
        deps,
      );
      this.finish(code);
      return;
    }
    if (args.cluster !== undefined || flags.namespace !== undefined) {
      throw usageError('the controller watches namespaces, not one Cluster: use --watch-namespace or --all-namespaces');
    }
    if (flags['dry-run']) throw usageError('--dry-run is for one pass; the controller always acts when it leads');
    const watch = flags['watch-namespace']
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!watch?.length && !flags['all-namespaces']) {
      throw usageError('say what the controller watches: --watch-namespace a,b or --all-namespaces');
    }
    if (watch?.length && flags['all-namespaces'])
      throw usageError('--watch-namespace and --all-namespaces cannot be used together');
    const m = /^(.*):(\d{1,5})$/.exec(flags['metrics-address']);
    if (!m || Number(m[2]) > 65535) {
      throw usageError(`--metrics-address ${JSON.stringify(flags['metrics-address'])} is not host:port`);
    }
    const intervalMs = parseDuration(flags.interval, 'interval');
    if (intervalMs < 1000) throw usageError('--interval must be at least 1s');
    const { hostname } = await import('node:os');
    const { runController } = await import('../../controller/controller.js');
    const code = await runController(
      {
        ...(watch?.length ? { namespaces: watch } : {}),
        ...(flags.selector ? { selector: flags.selector } : {}),
        intervalMs,
        source: parseSource(flags.source),
        ...(flags['prometheus-url'] ? { prometheusUrl: flags['prometheus-url'] } : {}),
        concurrency: flags.concurrency,
        leaseNamespace: flags['lease-namespace'] ?? process.env['POD_NAMESPACE'] ?? 'cnpg-disk-system',
        leaseName: flags['lease-name'],
        identity: flags.identity ?? process.env['POD_NAME'] ?? hostname(),
        metricsHost: m[1] || '0.0.0.0',
        metricsPort: Number(m[2]),
        ...(flags['default-policy'] ? { defaultPolicyPath: flags['default-policy'] } : {}),
        keepSpecInStep: flags['keep-spec-in-step'],
        log: (line) => deps.io.stderr(`${new Date().toISOString()} ${line}\n`),
      },
      deps,
    );
    this.finish(code);
  }
}
