import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import type { VolumeType } from '@cnpg-disk/core';
import { BaseCommand } from '../../cli/base.js';
import { kubeFlags, outputFlags, parseDuration, sourceFlags } from '../../cli/flags.js';

/**
 * The values of --volume: the list VOLUME_TYPES of app/disk-resize.ts, which
 * checks it again. Not imported from there: that module brings the Kubernetes
 * client, and flags are read for --help (see index.ts). `satisfies Record`
 * makes the compiler insist on every VolumeType and nothing else.
 */
const VOLUME_TYPES = Object.keys({ data: 0, wal: 0, tablespace: 0 } satisfies Record<VolumeType, 0>) as VolumeType[];

export default class DiskResize extends BaseCommand {
  static override summary = "The autoresize engine's plan for each volume of a Cluster; --apply performs it.";
  static override description = `Shows, per PVC (data, WAL, each tablespace), the current size, the new size, the step, the engine's verdict and why, with the full decision trace under -v, -o json or -o yaml.

Preview by default: nothing is written. With --apply each "resize" is one JSON merge patch on the PVC that sets the new storage request and the resize ledger annotation together, with the resourceVersion the decision was made on: if the PVC changed meanwhile the API server answers 409 Conflict, the PVC is read again and the decision made again, so two runs at once never spend the same budget slot or resize twice. Never shrinks, never passes the policy limit, refuses storage classes that cannot expand, and asks for confirmation unless --yes.

Exit codes: 0 every volume resized or nothing to do; 1 something held (blocked, at limit, expansion in progress) or not applied; 2 refused, failed expansion or failed write; 3 could not evaluate (no facts, API unreachable) or --wait timed out; 64 usage error. See docs/resize.md.`;
  static override examples = [
    '<%= config.bin %> disk resize main -n payments',
    '<%= config.bin %> disk resize main --volume wal -v',
    '<%= config.bin %> disk resize main --policy ./try.yaml -o yaml',
    '<%= config.bin %> disk resize main --instance main-2 --apply',
    '<%= config.bin %> disk resize main --apply --yes --update-spec --wait --timeout 10m',
  ];
  static override args = { cluster: Args.string({ description: 'Cluster name.', required: true, ignoreStdin: true }) };
  static override flags = {
    namespace: kubeFlags.namespace,
    context: kubeFlags.context,
    kubeconfig: kubeFlags.kubeconfig,
    'request-timeout': kubeFlags['request-timeout'],
    ...sourceFlags,
    ...outputFlags,
    instance: Flags.string({ summary: 'Only the volumes of this instance (pod), e.g. main-2.', helpGroup: 'FILTERS' }),
    volume: Flags.string({
      summary: `Only this volume type: ${VOLUME_TYPES.join('|')}.`,
      options: [...VOLUME_TYPES],
      helpGroup: 'FILTERS',
    }),
    tablespace: Flags.string({ summary: 'Only the volumes of this tablespace.', helpGroup: 'FILTERS' }),
    policy: Flags.string({
      summary: 'Decide with this policy file instead of the cluster policy (try before adopting).',
    }),
    apply: Flags.boolean({ summary: 'Perform the plan (default: preview only).', helpGroup: 'APPLY' }),
    yes: Flags.boolean({
      char: 'y',
      summary: 'Do not ask for confirmation (needed when stdin is not a terminal).',
      helpGroup: 'APPLY',
    }),
    'update-spec': Flags.boolean({
      summary: "Also raise the Cluster's size fields to the largest PVC of each resized role (GitOps: update Git too).",
      helpGroup: 'APPLY',
    }),
    wait: Flags.boolean({
      summary: 'Follow each expansion to the filesystem; report a stuck or failed one.',
      helpGroup: 'APPLY',
    }),
    timeout: Flags.string({ summary: 'How long --wait waits, e.g. 5m, 90s.', default: '5m', helpGroup: 'APPLY' }),
    events: Flags.boolean({
      summary: 'Also create the Kubernetes Events (AutoResizeSuccess, ...) on the PVCs (needs create events).',
      helpGroup: 'APPLY',
    }),
    rescue: Flags.boolean({
      summary:
        'One step for the WAL volume (data on single-volume clusters) of an instance down on exit code 4, even with the policy disabled; limit, budget and the guarded write still apply.',
      helpGroup: 'APPLY',
    }),
    'force-unknown-storage-class': Flags.boolean({
      summary: 'Resize even when the storage class cannot be read (the API server still refuses a non-expandable one).',
      helpGroup: 'APPLY',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DiskResize);
    this.verbose = flags.verbose;
    // Imported here, not above: only a run needs them (see index.ts).
    const [{ depsFromFlags, readOptionsFromFlags }, { readPolicyFile }, { runDiskResize }] = await Promise.all([
      import('../shared.js'),
      import('../../cli/policy-file.js'),
      import('../../app/disk-resize.js'),
    ]);
    const deps = await depsFromFlags(flags);
    const code = await runDiskResize(
      {
        ...readOptionsFromFlags(flags, args.cluster),
        cluster: args.cluster,
        instance: flags.instance,
        volume: flags.volume as VolumeType | undefined,
        tablespace: flags.tablespace,
        apply: flags.apply,
        yes: flags.yes,
        updateSpec: flags['update-spec'],
        wait: flags.wait,
        waitTimeoutMs: parseDuration(flags.timeout, 'timeout'),
        events: flags.events,
        forceUnknownStorageClass: flags['force-unknown-storage-class'],
        rescue: flags.rescue,
        ...(flags.policy ? { policyFile: await readPolicyFile(flags.policy) } : {}),
      },
      deps,
    );
    this.finish(code);
  }
}
