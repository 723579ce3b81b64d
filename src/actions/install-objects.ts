/**
 * The last step of `disk install` (the controller's objects, or with
 * --plugin the CNPG-I plugin's): print them (YAML documents, or -o json a v1
 * List), or send them to the API server (--apply: server-side apply with the
 * install's field manager; --dry-run: the API server checks each object and
 * stores nothing) and report each object on its own line.
 *
 * Exit codes: 0 printed or every object applied; 2 an object was refused;
 * 3 the API server could not be reached (the rest is not tried).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import YAML from 'yaml';
import type { Deps } from '../cli/deps.js';
import { ExitCode, usageError } from '../model/errors.js';
import { sanitize } from '../render/sanitize.js';

/** The field manager of every object `disk install` applies (controller and plugin). */
export const INSTALL_FIELD_MANAGER = 'kubectl-cnpg-disk-install';

export interface EmitOptions {
  output: 'yaml' | 'json';
  apply: boolean;
  dryRun: boolean;
  fieldManager: string;
  /** Objects created once and never replaced by a later apply (see kube/apply.ts). */
  createOnly?: (o: KubernetesObject) => boolean;
  /** Printed once (stderr) when some create-only object existed already. */
  keptNote?: string;
  /** A hint for an object the API server refused (e.g. a missing CRD), or ''. */
  hint?: (kind: string, status: number | undefined) => string;
}

export async function emitObjects(objects: readonly KubernetesObject[], o: EmitOptions, deps: Deps): Promise<ExitCode> {
  if (!o.apply) {
    if (o.dryRun) throw usageError('--dry-run asks the API server to check an apply: use it with --apply');
    if (o.output === 'json') {
      deps.io.stdout(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`);
    } else {
      deps.io.stdout(objects.map((m) => YAML.stringify(m, { lineWidth: 0 })).join('---\n'));
    }
    return ExitCode.OK;
  }
  const { serverSideApply } = await import('../kube/apply.js');
  const results = await serverSideApply(deps.kube(), objects, {
    fieldManager: o.fieldManager,
    dryRun: o.dryRun,
    ...(o.createOnly ? { createOnly: o.createOnly } : {}),
  });
  let worst: ExitCode = ExitCode.OK;
  let kept = false;
  for (const r of results) {
    const what = `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
    if (r.kept) {
      kept = true;
      deps.io.stdout(`${what} exists: kept unchanged\n`);
      continue;
    }
    if (!r.error) {
      deps.io.stdout(`${what} ${o.dryRun ? 'accepted (server dry run)' : 'applied'}\n`);
      continue;
    }
    // The API server's message is untrusted text for a terminal.
    deps.io.stderr(`error: ${what}: ${sanitize(r.error.message)}${o.hint?.(r.kind, r.error.status) ?? ''}\n`);
    const code = r.error.isUnreachable ? ExitCode.UNKNOWN : ExitCode.CRITICAL;
    if (code > worst) worst = code;
    if (r.error.isUnreachable) break;
  }
  if (kept && o.keptNote) deps.io.stderr(`note: ${o.keptNote}\n`);
  return worst;
}
