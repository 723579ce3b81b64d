/**
 * `disk install --plugin`: the CNPG-I plugin's objects (plugin-manifests.ts)
 * in the CloudNativePG operator's namespace, with certificates made here by
 * openssl (plugin-certs.ts) or by cert-manager, printed or applied by the
 * same step as the controller's objects (actions/install-objects.ts).
 *
 * The TLS Secrets are created, never replaced: a second `--apply` keeps the
 * certificates the running plugin and the operator already use (new ones
 * would cut the operator off until both restart). Nothing here reads a
 * Secret, or anything else, from the cluster.
 *
 * Exit codes: 0 printed or applied; 2 an object was refused; 3 API server
 * unreachable; 64 usage error (a bad --namespace or --image, no --image,
 * openssl missing without --cert-manager).
 */
import type { Deps } from '../../cli/deps.js';
import { emitObjects, INSTALL_FIELD_MANAGER } from '../../actions/install-objects.js';
import { ExitCode, usageError } from '../../model/errors.js';
import { imageReferenceProblem } from '../../model/image-reference.js';
import { generatePluginCertificates } from './plugin-certs.js';
import {
  CLIENT_SECRET,
  enableInstructions,
  PLUGIN_APP,
  pluginManifests,
  SERVER_SECRET,
  type PluginCertificates,
} from './plugin-manifests.js';

export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
export type ImagePullPolicy = (typeof IMAGE_PULL_POLICIES)[number];

export interface PluginInstallRunOptions {
  /** The CloudNativePG operator's namespace. */
  namespace: string;
  image: string | undefined;
  certManager: boolean;
  imagePullPolicy?: ImagePullPolicy | undefined;
  output: 'yaml' | 'json';
  apply: boolean;
  dryRun: boolean;
}

/** A DNS-1123 label (namespace names). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The flags checked before anything runs (openssl, the API server). */
export function checkPluginInstallOptions(o: PluginInstallRunOptions): { namespace: string; image: string } {
  if (!DNS_LABEL.test(o.namespace) || o.namespace.length > 63) {
    throw usageError(
      `--namespace ${JSON.stringify(o.namespace)} is not a valid namespace name`,
      "with --plugin it names the CloudNativePG operator's namespace (default cnpg-system)",
    );
  }
  if (o.image === undefined) {
    throw usageError(
      '--plugin needs --image: the plugin image (entrypoint cnpg-disk-plugin), which also runs as the sidecar',
    );
  }
  const problem = imageReferenceProblem(o.image);
  if (problem) throw usageError(`--image ${JSON.stringify(o.image)} is not an image reference: ${problem}`);
  if (o.dryRun && !o.apply) throw usageError('--dry-run asks the API server to check an apply: use it with --apply');
  return { namespace: o.namespace, image: o.image };
}

export async function runPluginInstall(o: PluginInstallRunOptions, deps: Deps): Promise<ExitCode> {
  const { namespace, image } = checkPluginInstallOptions(o);
  let certificates: PluginCertificates;
  if (o.certManager) {
    certificates = { mode: 'cert-manager' };
  } else {
    try {
      certificates = { mode: 'generated', ...(await generatePluginCertificates(namespace)) };
    } catch (e) {
      throw usageError(`cannot make the plugin's certificates: ${(e as Error).message}`);
    }
  }
  const objects = pluginManifests({
    namespace,
    image,
    certificates,
    ...(o.imagePullPolicy ? { imagePullPolicy: o.imagePullPolicy } : {}),
  });
  const code = await emitObjects(
    objects,
    {
      output: o.output,
      apply: o.apply,
      dryRun: o.dryRun,
      fieldManager: INSTALL_FIELD_MANAGER,
      createOnly: (obj) => obj.kind === 'Secret',
      keptNote: `the existing Secrets ${SERVER_SECRET} and ${CLIENT_SECRET} were kept with their certificates; for new ones delete both, run this again, then restart deployment/${PLUGIN_APP}`,
      hint: (kind, status) =>
        status === 404 && (kind === 'Issuer' || kind === 'Certificate')
          ? ' (cert-manager is not installed: drop --cert-manager and the certificates are made here)'
          : status === 404
            ? ` (does namespace ${namespace} exist? --namespace names the CloudNativePG operator's namespace)`
            : '',
    },
    deps,
  );
  if (code !== ExitCode.OK || o.dryRun) return code;
  // Printed YAML goes to a pipe: the instructions go to stderr then.
  (o.apply ? deps.io.stdout : deps.io.stderr)(`\n${enableInstructions()}`);
  return code;
}
