// disk simulate --trace on the NDJSON that disk status --watch -o json
// writes against a real kube-apiserver + etcd, while the test fills a real
// tmpfs volume between refreshes (the kubelet's stats are simulated, as in
// watch.test.ts). One NDJSON fixture of the unit tests
// (test/fixtures/traces/status-watch.ndjson) comes from this harness
// (SAVE_TRACE_FIXTURE=<path> writes it); the other, e2e-status-watch.ndjson,
// from a real CloudNativePG instance on the end-to-end cluster
// (scripts/traces/e2e-status-watch.sh).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, json, startCli } from '../helpers/cli.js';
import { startGrowingVolume, type GrowingVolume } from './harness.js';
import { MiB, type SeededCluster } from './seed.js';

describe('disk simulate --trace on disk status --watch output from a real kube-apiserver', { timeout: 180_000 }, () => {
  let env: GrowingVolume | undefined;
  let kubeconfig: string;
  let cluster: SeededCluster;

  beforeAll(async () => {
    env = await startGrowingVolume('simulate-tester', 'sim');
    ({ kubeconfig, cluster } = env);
  }, 240_000);

  afterAll(async () => {
    await env?.close();
  }, 60_000);

  it('replays the watched volume: its samples, its capacity, every policy', async () => {
    const volume = cluster.volumes[0]!;
    const fills = [24 * MiB, 32 * MiB, 40 * MiB, 48 * MiB];
    const { child } = startCli(
      ['disk', 'status', '-n', 'sim', 'growing', '--watch', '--interval', '1s', '-o', 'json'],
      { kubeconfig, killAfterMs: 120_000 }, // a bound, not an assertion
    );
    const lines: string[] = [];
    let buffered = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        buffered += c.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          lines.push(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
          const next = fills[lines.length - 1];
          if (next !== undefined) void volume.mount.fill(next);
          else {
            child.kill('SIGINT');
            resolve();
          }
        }
      });
      child.on('close', () => resolve());
    });
    expect(lines).toHaveLength(5);
    const ndjson = lines.join('\n') + '\n';
    const dir = mkdtempSync(join(tmpdir(), 'simulate-trace-'));
    const file = join(dir, 'watch.ndjson');
    writeFileSync(file, ndjson);
    if (process.env['SAVE_TRACE_FIXTURE']) writeFileSync(process.env['SAVE_TRACE_FIXTURE'], ndjson);

    const r = await cli(['disk', 'simulate', '--trace', file, '--volume', volume.pvc, '--step', '1s', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json<{
      runs: {
        trace: { source: Record<string, unknown>; initialBytes: string; steps: number };
        results: { policy: string }[];
      }[];
    }>(r);
    const run = doc.runs[0]!;
    expect(run.trace.source).toMatchObject({ format: 'disk-status-ndjson', volume: `sim/${volume.pvc}`, samples: 5 });
    // the PVC's capacity from the first document: the seeded 64 MiB volume
    expect(Number(run.trace.initialBytes)).toBe(64 * MiB);
    expect(run.trace.steps).toBeGreaterThanOrEqual(4);
    expect(run.results.map((x: { policy: string }) => x.policy)).toEqual([
      'ours',
      'ours-predictive',
      'rds',
      'cloudsql',
      'azure',
      'topolvm',
      'pgo',
      'cnpg-rfc',
    ]);
  });
});
