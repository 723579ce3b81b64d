/**
 * Cluster validation at admission (ValidateClusterCreate and
 * ValidateClusterChange): the policy given as this plugin's parameters, checked
 * by core against the shape and sizes the Cluster declares — the same codes
 * and sentences as `kubectl cnpg disk policy validate`. Only errors are
 * returned: CNPG-I has no warnings, and a warning must not refuse a Cluster.
 *
 * Each error becomes a CNPG-I ValidationError; CloudNativePG turns it into a
 * field error, `spec.plugins[i].parameters.<key>: Invalid value: "<value>":
 * <CODE>: <sentence>`.
 */
import { pluginEntryOf, pluginPolicyOf } from '@cnpg-disk/core';

export interface ValidationError {
  pathComponents: string[];
  value: string;
  message: string;
}

export function validateCluster(cluster: unknown): ValidationError[] {
  const entry = pluginEntryOf(cluster);
  const set = pluginPolicyOf(cluster);
  if (!entry || !set) return [];
  const parameters =
    typeof entry.parameters === 'object' && entry.parameters !== null && !Array.isArray(entry.parameters)
      ? (entry.parameters as Record<string, unknown>)
      : {};
  return set.issues
    .filter((i) => i.severity === 'error')
    .map((i) => {
      const raw = i.path === '' ? entry.parameters : parameters[i.path];
      const value = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? '');
      // The operator builds the field path from the components; it needs at least one.
      const pathComponents = ['spec', `plugins[${entry.index}]`, 'parameters', ...(i.path === '' ? [] : [i.path])];
      return { pathComponents, value, message: `${i.code}: ${i.message}` };
    });
}
