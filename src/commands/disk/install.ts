import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../../cli/base.js';
import { kubeFlags } from '../../cli/flags.js';

export default class DiskInstall extends BaseCommand {
  static override summary =
    'Print (or apply) the manifests of the in-cluster autoresize controller, or with --plugin of the CNPG-I plugin.';
  static override description = `Prints everything the autoresize controller (kubectl-cnpg disk autoresize --controller) needs: its Namespace, ServiceAccount, the least RBAC that works (namespaced Roles with --watch-namespace, a ClusterRole otherwise; never secrets), a Role for its one leader-election Lease, the Deployment (2 replicas, leader election, restricted securityContext, probes on /healthz and /readyz), the metrics Service, and optionally a PrometheusRule and a Grafana dashboard ConfigMap.

With --plugin, the CNPG-I plugin instead (docs/plugin.md), in the CloudNativePG operator's namespace (default cnpg-system): its ServiceAccount (no token, no RBAC: the plugin never calls the Kubernetes API), the server and client TLS Secrets (certificates made with openssl; --cert-manager: a self-signed Issuer and two Certificates instead), the Deployment (2 replicas, restricted securityContext), the Service CloudNativePG discovers it by, and a PodDisruptionBudget. --image is required. --apply creates the TLS Secrets once and keeps existing ones; the printed YAML holds the private keys.

YAML by default (pipe it to kubectl apply -f -, or commit it to Git); -o json prints a v1 List. --apply sends each object with server-side apply (field manager kubectl-cnpg-disk-install); --apply --dry-run asks the API server to check every object without storing it.

Exit codes: 0 printed or applied; 2 an object was refused; 3 API server unreachable; 64 usage error. See docs/autoresize.md and docs/plugin.md.`;
  static override examples = [
    '<%= config.bin %> disk install --image REGISTRY/kubectl-cnpg-disk:0.1.0 | kubectl apply -f -',
    '<%= config.bin %> disk install --watch-namespace payments,orders --prometheus-rule --dashboard',
    '<%= config.bin %> disk install --apply --dry-run',
    '<%= config.bin %> disk install --plugin --image REGISTRY/cnpg-disk-plugin:0.1.0 --apply',
  ];
  static override flags = {
    plugin: Flags.boolean({ summary: "The CNPG-I plugin's objects instead of the controller's.", helpGroup: 'PLUGIN' }),
    'cert-manager': Flags.boolean({
      summary: "With --plugin: cert-manager makes the plugin's certificates (a self-signed Issuer).",
      helpGroup: 'PLUGIN',
    }),
    'image-pull-policy': Flags.string({
      summary: "With --plugin: the plugin container's imagePullPolicy (the sidecar follows the Cluster's own).",
      options: ['Always', 'IfNotPresent', 'Never'],
      helpGroup: 'PLUGIN',
    }),
    namespace: Flags.string({
      char: 'n',
      summary:
        "The controller's namespace (default cnpg-disk-system); with --plugin the CloudNativePG operator's (default cnpg-system).",
    }),
    image: Flags.string({
      summary:
        'Container image of the controller (default localhost/kubectl-cnpg-disk:<this version>, the name inside the archives of npm run release:image); with --plugin the plugin image (required).',
    }),
    'watch-namespace': Flags.string({
      summary: 'Watch only these namespaces (comma-separated): namespaced Roles instead of a ClusterRole.',
    }),
    interval: Flags.string({ summary: 'Measure and decide this often (jittered), e.g. 30s, 2m.', default: '30s' }),
    source: Flags.string({
      summary: 'Measurement sources, comma-separated: cluster-status, pod-proxy, kubelet-summary, prometheus.',
      default: 'cluster-status,pod-proxy',
    }),
    'prometheus-url': Flags.string({ summary: 'Prometheus base URL for the prometheus source.' }),
    'default-policy': Flags.string({
      summary: 'A controller-wide default policy file (kind DefaultPolicy), mounted from a ConfigMap.',
    }),
    'prometheus-rule': Flags.boolean({ summary: 'Also a PrometheusRule with the alert rules (Prometheus operator).' }),
    dashboard: Flags.boolean({ summary: 'Also a ConfigMap with the Grafana dashboard (label grafana_dashboard=1).' }),
    output: Flags.string({
      char: 'o',
      summary: 'Output format: yaml|json.',
      options: ['yaml', 'json'],
      default: 'yaml',
    }),
    apply: Flags.boolean({ summary: 'Apply server-side instead of printing.', helpGroup: 'APPLY' }),
    'dry-run': Flags.boolean({
      summary: 'With --apply: the API server checks every object, stores nothing.',
      helpGroup: 'APPLY',
    }),
    context: kubeFlags.context,
    kubeconfig: kubeFlags.kubeconfig,
    'request-timeout': kubeFlags['request-timeout'],
    'no-color': Flags.boolean({ summary: 'No colour.' }),
    verbose: Flags.boolean({ char: 'v', summary: 'Stack traces of errors.' }),
  };

  async run(): Promise<void> {
    const { flags, metadata } = await this.parse(DiskInstall);
    this.verbose = flags.verbose;
    const given = (name: string): boolean =>
      (flags as Record<string, unknown>)[name] !== undefined && !metadata.flags[name]?.setFromDefault;
    const [{ defaultDeps }, { parseDuration }, { usageError }] = await Promise.all([
      import('../../cli/deps.js'),
      import('../../cli/flags.js'),
      import('../../model/errors.js'),
    ]);
    const controllerOnly = [
      'watch-namespace',
      'interval',
      'source',
      'prometheus-url',
      'default-policy',
      'prometheus-rule',
      'dashboard',
    ].filter((f) => given(f) && (flags as Record<string, unknown>)[f] !== false);
    const pluginOnly = ['cert-manager', 'image-pull-policy'].filter(
      (f) => given(f) && (flags as Record<string, unknown>)[f] !== false,
    );
    if (flags.plugin && controllerOnly.length > 0) {
      throw usageError(`--${controllerOnly[0]} is a flag of the controller, not of --plugin`);
    }
    if (!flags.plugin && pluginOnly.length > 0) throw usageError(`--${pluginOnly[0]} needs --plugin`);
    const deps = await defaultDeps({
      kubeconfig: flags.kubeconfig,
      context: flags.context,
      requestTimeoutMs: parseDuration(flags['request-timeout'], 'request-timeout'),
      noColor: flags['no-color'],
      offline: !flags.apply,
    });
    const output = flags.output as 'yaml' | 'json';
    if (flags.plugin) {
      const { runPluginInstall } = await import('../../app/install/plugin-install.js');
      const code = await runPluginInstall(
        {
          namespace: flags.namespace ?? 'cnpg-system',
          image: flags.image,
          certManager: flags['cert-manager'],
          imagePullPolicy: flags['image-pull-policy'] as 'Always' | 'IfNotPresent' | 'Never' | undefined,
          output,
          apply: flags.apply,
          dryRun: flags['dry-run'],
        },
        deps,
      );
      this.finish(code);
      return;
    }
    const [{ runDiskInstall }, { readTextFile }] = await Promise.all([
      import('../../controller/install-run.js'),
      import('../../cli/policy-file.js'),
    ]);
    const code = await runDiskInstall(
      {
        namespace: flags.namespace ?? 'cnpg-disk-system',
        image: flags.image ?? `localhost/kubectl-cnpg-disk:${this.config.version}`,
        watchNamespaces: flags['watch-namespace'],
        interval: flags.interval,
        sources: flags.source,
        prometheusUrl: flags['prometheus-url'],
        prometheusRule: flags['prometheus-rule'],
        dashboard: flags.dashboard,
        ...(flags['default-policy']
          ? { defaultPolicy: await readTextFile(flags['default-policy'], 'default policy') }
          : {}),
        output,
        apply: flags.apply,
        dryRun: flags['dry-run'],
      },
      deps,
    );
    this.finish(code);
  }
}
