/**
 * `diagnose --from-bundle FILE --list`: what a bundle holds, before any
 * diagnosis — its manifest (collection time and origin, tool version,
 * redaction, scope, entries, what could not be collected) and its Clusters.
 * Everything shown comes from the (untrusted) bundle: the text output goes
 * through the sanitiser, JSON and YAML carry it as read.
 */
import type { Deps } from '../cli/deps.js';
import { ExitCode, usageError } from '../model/errors.js';
import { document, printDocument, type OutputFormat } from '../render/printer.js';
import { arr, get, isObj, labels, str } from '../model/kube-objects.js';
import { renderTable } from '../render/table.js';
import { sanitize } from '../render/sanitize.js';
import { readBundleWithManifest } from '../snapshot/bundle.js';

export interface BundleListOptions {
  fromBundle?: string | undefined;
  output: OutputFormat;
  /** --bundle: refused together with --list. */
  bundle?: string | undefined;
}

export async function runBundleList(opts: BundleListOptions, deps: Deps): Promise<ExitCode> {
  if (opts.bundle) throw usageError('--list reads a bundle; it cannot be combined with --bundle');
  if (!opts.fromBundle) throw usageError('--list lists a bundle: it needs --from-bundle FILE');
  const file = opts.fromBundle;
  const { snapshot, manifest } = await readBundleWithManifest(file);
  const clusters = snapshot.clusters.map((c) => ({
    namespace: c.namespace,
    name: c.name,
    instances: c.pods.length,
    pvcs: c.pvcs.length,
    measuredInstances: c.measurements.filter((m) => Object.keys(m.filesystems).length > 0).length,
    labels: labels(c.cluster),
  }));
  if (opts.output === 'json' || opts.output === 'yaml') {
    printDocument(
      deps.io,
      opts.output,
      document('BundleListing', {
        file,
        collectedAt: snapshot.collectedAt,
        origin: snapshot.origin,
        manifest: manifest ?? null,
        clusters,
      }),
    );
    return ExitCode.OK;
  }
  const m = isObj(manifest) ? manifest : undefined;
  const failed = arr(m, 'failed');
  const entries = arr(m, 'entries');
  const bytes = entries.reduce<number>(
    (n, e) => n + (typeof get(e, 'bytes') === 'number' ? (get(e, 'bytes') as number) : 0),
    0,
  );
  const redaction = get(m, 'redaction', 'enabled');
  const scope = get(m, 'scope');
  const lines = [
    `bundle:      ${file}`,
    `collected:   ${snapshot.collectedAt}${snapshot.origin.kind === 'bundle' && snapshot.origin.collectedFrom ? ` from ${snapshot.origin.collectedFrom}` : ''}`,
    ...(m
      ? [
          `tool:        ${str(m, 'tool', 'name') ?? '?'} ${str(m, 'tool', 'version') ?? '?'}`,
          `redaction:   ${redaction === true ? `on (${arr(m, 'redaction', 'rules').length} rules)` : redaction === false ? 'OFF: credentials may be in it' : 'not stated'}`,
          `secrets read: ${get(m, 'secretsRead') === false ? 'no' : 'not stated'}`,
          `scope:       namespaces ${Array.isArray(get(scope, 'namespaces')) ? arr(scope, 'namespaces').join(', ') : 'all'}${str(scope, 'cluster') ? `, cluster ${str(scope, 'cluster')}` : ''}${str(scope, 'selector') ? `, selector ${str(scope, 'selector')}` : ''}`,
          `entries:     ${entries.length} files, ${bytes} bytes uncompressed`,
          `failed:      ${failed.length === 0 ? 'nothing' : `${failed.length} item(s)`}`,
          ...failed.map(
            (f) =>
              `  - ${str(f, 'what') ?? '?'}: ${str(f, 'reason') ?? '?'}${str(f, 'permission') ? ` (grant "${str(f, 'permission')}")` : ''}`,
          ),
        ]
      : ['manifest:    none (a bare snapshot, or a bundle without manifest.json)']),
    `clusters:    ${clusters.length}`,
  ];
  deps.io.stdout(sanitize(lines.join('\n'), { keepNewlines: true }) + '\n');
  if (clusters.length > 0) {
    deps.io.stdout(
      '\n' +
        renderTable(
          ['NAMESPACE', 'NAME', 'INSTANCES', 'PVCS', 'MEASURED', 'LABELS'],
          clusters.map((c) => [
            c.namespace,
            c.name,
            String(c.instances),
            String(c.pvcs),
            `${c.measuredInstances}/${c.instances}`,
            Object.entries(c.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || '-',
          ]),
        ),
    );
  }
  return ExitCode.OK;
}
