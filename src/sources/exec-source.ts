/**
 * The exec source: `stat -f` and psql run in the postgres container (pods/exec).
 */
import type { FilesystemFacts, WalHealth } from '@cnpg-disk/core';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { execInPod } from '../kube/exec.js';
import { parseStatF, parseWalHealthJson, WAL_HEALTH_SQL } from './parse.js';
import { rulesText, streamingAccess } from './permissions.js';
import { type MeasureRun, type Source, type MeasureOptions } from './source.js';
import { SOURCE_FACTS } from '../model/snapshot.js';

/** A shell script that prints `stat -f` lines for each mount. Only reads. */
function statScript(paths: string[]): string[] {
  return ['stat', '-f', '-c', 'fs %n %S %b %f %a %c %d', ...paths];
}

async function execMeasure(
  client: KubeClient,
  ns: string,
  pod: string,
  mounts: Map<string, string>,
  opts: MeasureOptions,
  want: { filesystem: boolean; wal: boolean },
): Promise<{ filesystems: Record<string, FilesystemFacts>; wal?: WalHealth; errors: string[] }> {
  const observedAt = opts.now().toISOString();
  const errors: string[] = [];
  const filesystems: Record<string, FilesystemFacts> = {};
  if (want.filesystem && mounts.size > 0) {
    const fsRun = await execInPod(client, ns, pod, 'postgres', statScript([...mounts.keys()]), opts.execTimeoutMs);
    const parsed = parseStatF(fsRun.stdout, 'exec', observedAt);
    errors.push(...parsed.problems);
    if (fsRun.exitCode !== 0)
      errors.push(`stat -f in ${pod} exited ${fsRun.exitCode}: ${fsRun.stderr.trim().slice(0, 200)}`);
    for (const [path, pvc] of mounts) {
      const f = parsed.facts.get(path);
      if (f) filesystems[pvc] = f;
    }
  }
  let wal: WalHealth | undefined;
  if (want.wal) {
    const sql = await execInPod(
      client,
      ns,
      pod,
      'postgres',
      ['psql', '-XAtq', '-d', 'postgres', '-c', WAL_HEALTH_SQL],
      opts.execTimeoutMs,
    );
    if (sql.exitCode === 0) {
      const r = parseWalHealthJson(sql.stdout, pod, 'exec', observedAt);
      if (r.health) wal = r.health;
      if (r.problem) errors.push(r.problem);
    } else {
      errors.push(`psql in ${pod} exited ${sql.exitCode}: ${sql.stderr.trim().split('\n')[0]?.slice(0, 200) ?? ''}`);
    }
  }
  return { filesystems, ...(wal ? { wal } : {}), errors };
}

/** Why an exec failed, naming the rule to grant when the API server said 403. */
function execFailure(e: unknown, namespace: string): string {
  const text = e instanceof KubeApiError ? e.message : e instanceof Error ? e.message : String(e);
  const forbidden = (e instanceof KubeApiError && e.isForbidden) || /\b403\b/.test(text);
  return forbidden ? `${text} (grant "${rulesText(streamingAccess('exec', namespace))}")` : text;
}

export const execSource: Source = {
  name: 'exec',
  facts: SOURCE_FACTS['exec'],
  clusterScoped: false,
  access(namespace: string) {
    return streamingAccess('exec', namespace);
  },
  async measure(run: MeasureRun): Promise<void> {
    const source = 'exec' as const;
    const { client, opts, limit, instances, pending, may, m, needsFs, needsWal, setWal, record } = run;
    let fsUsed = 0;
    let walUsed = 0;
    let failed = 0;
    await Promise.all(
      pending
        .filter((i) => i.running && may(source, i.cs.namespace))
        .map((i) =>
          limit(async () => {
            opts.onProgress?.(`exec into ${i.cs.namespace}/${i.pod}`);
            try {
              const want = { filesystem: needsFs(i), wal: needsWal(i) };
              const r = await execMeasure(client, i.cs.namespace, i.pod, i.mounts, opts, want);
              for (const [pvc, f] of Object.entries(r.filesystems)) {
                if (!m(i).filesystems[pvc]) {
                  m(i).filesystems[pvc] = f;
                  fsUsed++;
                }
              }
              if (r.wal && setWal(i, r.wal)) walUsed++;
              m(i).errors.push(...r.errors);
            } catch (e) {
              failed++;
              m(i).errors.push(`exec into ${i.pod} failed: ${execFailure(e, i.cs.namespace)}`);
            }
          }),
        ),
    );
    if (fsUsed > 0) record(source, 'filesystem', 'used', `${fsUsed} volume(s)`);
    if (walUsed > 0) record(source, 'wal', 'used', `${walUsed} instance(s)`);
    if (failed > 0) {
      const first = instances.flatMap((i) => m(i).errors.filter((x) => x.startsWith('exec into ')))[0];
      const detail = `${failed} pod(s) failed${first ? `; first: ${first}` : ''}`;
      // exec was asked for both facts: a failure leaves both unanswered
      record(source, 'filesystem', 'unreachable', detail);
      if (walUsed === 0) record(source, 'wal', 'unreachable', detail);
    }
  },
};
