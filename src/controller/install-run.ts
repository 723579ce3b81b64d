/**
 * disk install: the manifests of the autoresize controller (install/),
 * printed or applied server-side by actions/install-objects.ts.
 *
 * Exit codes: 0 printed or every object applied; 2 an object was refused;
 * 3 the API server could not be reached; 64 usage error.
 */
import type { Deps } from '../cli/deps.js';
import { emitObjects } from '../actions/install-objects.js';
import { type ExitCode, usageError } from '../model/errors.js';
import { imageReferenceProblem } from '../model/image-reference.js';
import { paint } from '../render/printer.js';
import { DefaultPolicyError, parseDefaultPolicy } from './default-policy.js';
import {
  FIELD_MANAGER,
  generateManifests,
  INSTALL_SOURCES,
  installWarnings,
  type InstallOptions,
  type InstallSource,
} from './install/manifests.js';

export interface DiskInstallOptions extends Omit<InstallOptions, 'sources' | 'watchNamespaces'> {
  sources: string;
  watchNamespaces?: string | undefined;
  output: 'yaml' | 'json';
  apply: boolean;
  dryRun: boolean;
}

/** A DNS-1123 label (namespace names). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseInstallOptions(o: DiskInstallOptions): InstallOptions {
  if (!DNS_LABEL.test(o.namespace) || o.namespace.length > 63) {
    throw usageError(`--namespace ${JSON.stringify(o.namespace)} is not a valid namespace name`);
  }
  let watchNamespaces: string[] | undefined;
  if (o.watchNamespaces !== undefined) {
    watchNamespaces = [...new Set(o.watchNamespaces.split(',').map((s) => s.trim()))];
    const bad = watchNamespaces.find((n) => !DNS_LABEL.test(n) || n.length > 63);
    if (bad !== undefined) {
      throw usageError(
        `--watch-namespace: ${JSON.stringify(bad)} is not a valid namespace name`,
        'give a comma-separated list, e.g. --watch-namespace payments,orders',
      );
    }
  }
  const sources = [...new Set(o.sources.split(',').map((s) => s.trim()))];
  const unknown = sources.find((s) => !(INSTALL_SOURCES as readonly string[]).includes(s));
  if (unknown !== undefined) {
    throw usageError(
      `--source ${JSON.stringify(unknown)} is not a source the controller can use`,
      `allowed: ${INSTALL_SOURCES.join(', ')} (exec is not offered in-cluster: pods/exec is too broad a grant)`,
    );
  }
  if (!/^\d+(ms|s|m|h)$/.test(o.interval)) {
    throw usageError(`--interval ${JSON.stringify(o.interval)} is not a duration`, 'use e.g. 30s or 2m');
  }
  const imageProblem = imageReferenceProblem(o.image);
  if (imageProblem) throw usageError(`--image ${JSON.stringify(o.image)} is not an image reference: ${imageProblem}`);
  if (o.prometheusUrl !== undefined) {
    try {
      const u = new URL(o.prometheusUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw usageError(`--prometheus-url ${JSON.stringify(o.prometheusUrl)} is not an http(s) URL`);
    }
  }
  if (o.defaultPolicy !== undefined) {
    // The controller would refuse a broken file at every pass: refuse it here, once.
    try {
      parseDefaultPolicy(o.defaultPolicy, '--default-policy');
    } catch (e) {
      if (e instanceof DefaultPolicyError) throw usageError(e.message);
      throw e;
    }
  }
  return {
    namespace: o.namespace,
    image: o.image,
    ...(watchNamespaces ? { watchNamespaces } : {}),
    interval: o.interval,
    sources: sources as InstallSource[],
    ...(o.prometheusUrl !== undefined ? { prometheusUrl: o.prometheusUrl } : {}),
    prometheusRule: o.prometheusRule,
    dashboard: o.dashboard,
    ...(o.defaultPolicy !== undefined ? { defaultPolicy: o.defaultPolicy } : {}),
  };
}

export async function runDiskInstall(o: DiskInstallOptions, deps: Deps): Promise<ExitCode> {
  const opts = parseInstallOptions(o);
  const manifests = generateManifests(opts);
  for (const w of installWarnings(opts)) deps.io.stderr(`${paint(deps.io, 'yellow', 'warning:')} ${w}\n`);
  return emitObjects(
    manifests,
    {
      output: o.output,
      apply: o.apply,
      dryRun: o.dryRun,
      fieldManager: FIELD_MANAGER,
      hint: (kind, status) =>
        status === 404 && kind === 'PrometheusRule'
          ? ' (the PrometheusRule CRD of the Prometheus operator is not installed: drop --prometheus-rule)'
          : status === 404 && o.dryRun
            ? ' (a dry run cannot create the namespace first: apply the Namespace, then dry-run the rest)'
            : '',
    },
    deps,
  );
}
