// WAL archiving facts and faults for the end-to-end files: the archiver's
// own counters (pg_stat_archiver), a closed WAL segment on demand, and the
// object-store credentials swapped for a wrong key (archiving then fails for
// real, per namespace, without stopping the shared store).
import type { Kube } from './kube.js';
import { psql } from './cnpg.js';

export interface ArchiverStats {
  readonly archived: number;
  readonly failed: number;
  readonly lastArchived: string;
}

/** pg_stat_archiver on one instance. */
export async function archiverStats(kube: Kube, ns: string, pod: string): Promise<ArchiverStats> {
  const row = await psql(
    kube,
    ns,
    pod,
    "SELECT archived_count, failed_count, coalesce(last_archived_wal, '') FROM pg_stat_archiver",
  );
  const [a, f, l] = row.split('|');
  return { archived: Number(a), failed: Number(f), lastArchived: l ?? '' };
}

/** Writes some WAL and closes the segment so it has to be archived; returns its name. */
export async function switchWal(kube: Kube, ns: string, pod: string): Promise<string> {
  await psql(kube, ns, pod, 'CREATE TABLE IF NOT EXISTS t_wal (x int); INSERT INTO t_wal VALUES (1)');
  return psql(kube, ns, pod, 'SELECT pg_walfile_name(pg_switch_wal())');
}

/**
 * Writes the object-store connection string into `secret` (key
 * AZURE_CONNECTION_STRING). CloudNativePG's instance manager re-reads the
 * credentials only when it reconciles the Cluster, so with `cluster` the
 * Cluster is touched too (otherwise archiving keeps the old credentials for
 * a long while).
 */
export async function setArchiveCredentials(
  kube: Kube,
  ns: string,
  o: { readonly secret: string; readonly connectionString: string; readonly cluster?: string },
): Promise<void> {
  await kube.apply(
    [
      'apiVersion: v1',
      'kind: Secret',
      `metadata: { name: ${o.secret}, namespace: ${ns} }`,
      'stringData:',
      `  AZURE_CONNECTION_STRING: ${JSON.stringify(o.connectionString)}`,
    ].join('\n'),
  );
  if (o.cluster) {
    await kube.ok([
      '-n',
      ns,
      'annotate',
      'cluster.postgresql.cnpg.io',
      o.cluster,
      '--overwrite',
      `cnpg-disk.test/credentials-changed=${Date.now()}`,
    ]);
  }
}
