// An instance down because its WAL volume is full, the way it happens in
// production: an inactive replication slot keeps every WAL segment, PostgreSQL
// stops when pg_wal cannot take one more, and CloudNativePG's instance manager
// exits with code 4 on every start. Shared by rescue.test.ts (a person's
// rescue with `disk resize --rescue`) and autoresize-rescue.test.ts (the
// controller's).
import type { Kube } from './kube.js';
import { waitFor } from './kube.js';
import { psql } from './cnpg.js';

export interface PostgresContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  state: { waiting?: { reason: string }; running?: object; terminated?: { exitCode: number; finishedAt?: string } };
  lastState: { terminated?: { exitCode: number; finishedAt?: string } };
}

/** The postgres container's status in an instance pod. */
export async function postgresContainer(
  kube: Kube,
  ns: string,
  pod: string,
): Promise<PostgresContainerStatus | undefined> {
  const p = await kube.json<{ status: { containerStatuses?: PostgresContainerStatus[] } }>([
    '-n',
    ns,
    'get',
    'pod',
    pod,
  ]);
  return p.status.containerStatuses?.find((c) => c.name === 'postgres');
}

/**
 * Creates an inactive physical slot on `pod` (the primary) and writes until
 * PostgreSQL cannot write WAL any more; resolves with the psql run (which
 * must have been cut) and the container status once it has exited with code 4.
 */
export async function fillWalUntilExit4(
  kube: Kube,
  ns: string,
  pod: string,
): Promise<{ fill: { code: number; stdout: string; stderr: string }; container: PostgresContainerStatus }> {
  await psql(kube, ns, pod, "SELECT pg_create_physical_replication_slot('e2e_hold', true)");
  // The session is cut when the server stops (each -c runs on its own, so COMMIT works in DO).
  const fill = await kube.exec(
    ns,
    pod,
    'postgres',
    [
      'psql',
      '-d',
      'postgres',
      '-Xq',
      '-c',
      'CREATE TABLE fill (pad text)',
      '-c',
      "DO $$ BEGIN FOR i IN 1..400 LOOP INSERT INTO fill SELECT repeat('x', 1000) FROM generate_series(1, 1000); COMMIT; END LOOP; END $$",
    ],
    300_000,
  );
  const container = await waitFor(
    'the postgres container to have exited with code 4',
    kube.t(6 * 60_000),
    async () => {
      const s = await postgresContainer(kube, ns, pod);
      return s?.lastState.terminated?.exitCode === 4 ? s : undefined;
    },
    async () => JSON.stringify(await postgresContainer(kube, ns, pod), null, 1),
  );
  return { fill, container };
}
