/** Shared by the distribution tests: building binaries into temp dirs and running them. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { toPlain } from '@cnpg-disk/core';

import { REPO } from '../../scripts/release/bundle.js';
import { run } from '../../scripts/release/proc.js';
import type { RunResult } from '../../scripts/release/proc.js';
import { openBundleTarget } from '../../src/snapshot/bundle-write.js';
import { cli } from '../helpers/cli.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot, wal } from '../helpers/fixtures.js';

export { REPO, run };
export type { RunResult };

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `cnpg-disk-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A directory holding `names`, each a symlink to `target` (how kubectl and krew expose a plugin). */
export function linkFarm(dir: string, target: string, names: readonly string[]): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  return Object.fromEntries(
    names.map((n) => {
      const p = join(dir, n);
      symlinkSync(target, p);
      return [n, p];
    }),
  );
}

/** The environment a user's shell would give: no colours, no debug, no inherited kubeconfig. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs the CLI from the repository with Node: the reference the binaries must match. */
export async function runNode(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  const r = await cli([...args], { env: opts.env ?? cleanEnv(), replaceEnv: true, cwd: opts.cwd ?? REPO });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

export function runBin(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run(file, args, {
    env: opts.env ?? cleanEnv(),
    cwd: opts.cwd ?? tmpdir(),
    allowFailure: true,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/**
 * The VERSION line of `--help` names runtime and platform ("(node v20…,
 * linux-x64)" under Node, "(bun 1.…, linux-x64)" in a binary, win32-x64 under
 * wine): everything else must match. Also folds Windows line ends.
 */
export function withoutRuntime(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/^(\s*kubectl-cnpg-disk \S+) \((?:node|bun) [^)]*\)$/m, '$1 (<runtime>, <platform>)');
}

/**
 * A support bundle as `--from-bundle` reads it (snapshot.json in a .tar.gz),
 * made from the CLI's test fixtures: one healthy 3-instance cluster with a WAL
 * volume and one whose data volume is nearly full.
 */
export async function writeSampleBundle(dir: string): Promise<{ tgz: string; json: string }> {
  const healthy = cluster({ name: 'orders', instances: 3, walStorage: true, archiving: true });
  const full = cluster({ name: 'ledger', instances: 1 });
  const pods = (name: string, n: number) =>
    Array.from({ length: n }, (_, i) => pod({ name: `${name}-${i + 1}`, cluster: name }));
  const snap = snapshot([
    clusterSnapshot(
      healthy,
      pods('orders', 3),
      [1, 2, 3].flatMap((i) => [
        pvc({ cluster: 'orders', instance: `orders-${i}`, role: 'PG_DATA', request: '10Gi' }),
        pvc({ cluster: 'orders', instance: `orders-${i}`, role: 'PG_WAL', request: '2Gi' }),
      ]),
      [1, 2, 3].map((i) => ({
        pod: `orders-${i}`,
        filesystems: { [`orders-${i}`]: fs(10, 41.5), [`orders-${i}-wal`]: fs(2, 12) },
        errors: [],
        wal: wal(`orders-${i}`),
      })),
    ),
    clusterSnapshot(
      full,
      pods('ledger', 1),
      [pvc({ cluster: 'ledger', instance: 'ledger-1', role: 'PG_DATA', request: '10Gi' })],
      [{ pod: 'ledger-1', filesystems: { 'ledger-1': fs(10, 97.2) }, errors: [] }],
    ),
  ]);
  const doc = Buffer.from(JSON.stringify({ kind: 'Snapshot', ...(toPlain(snap) as object) }, null, 2));
  const json = join(dir, 'sample-snapshot.json');
  const tgz = join(dir, 'sample-bundle.tar.gz');
  writeFileSync(json, doc);
  // Under one root folder, as every bundle is (the reader refuses anything else): written by the CLI's own writer.
  await (
    await openBundleTarget(tgz, true)
  ).write(
    'cnpg-bundle-sample',
    [{ path: 'snapshot.json', content: doc, description: 'the Snapshot' }],
    new Date(snap.collectedAt),
  );
  return { tgz, json };
}

/**
 * A bare snapshot of `clusters` 3-instance clusters whose data volumes are
 * nearly full (exit 2): a `-o json` document of megabytes, for output that
 * must survive a slow pipe and a non-zero exit.
 */
export function writeFleetSnapshot(dir: string, clusters: number): string {
  const snaps = Array.from({ length: clusters }, (_, c) => {
    const name = `pg-${String(c).padStart(4, '0')}`;
    const ids = [1, 2, 3].map((i) => `${name}-${i}`);
    return clusterSnapshot(
      cluster({ name, instances: 3, walStorage: true, archiving: true }),
      ids.map((id) => pod({ name: id, cluster: name })),
      ids.flatMap((id) => [
        pvc({ cluster: name, instance: id, role: 'PG_DATA', request: '10Gi' }),
        pvc({ cluster: name, instance: id, role: 'PG_WAL', request: '2Gi' }),
      ]),
      ids.map((id) => ({
        pod: id,
        filesystems: { [id]: fs(10, 96.5), [`${id}-wal`]: fs(2, 12) },
        errors: [],
        wal: wal(id),
      })),
    );
  });
  const file = join(dir, `fleet-${clusters}.json`);
  writeFileSync(file, JSON.stringify({ kind: 'Snapshot', ...(toPlain(snapshot(snaps)) as object) }));
  return file;
}
