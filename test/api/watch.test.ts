// `disk status --watch` end to end: the built CLI (node bin/run.js) as a
// long-running process against a real kube-apiserver + etcd, while the test
// fills a real tmpfs volume between refreshes.
//
// Real: the API server and its node proxy, the filesystem (a tmpfs whose fill
// file grows), the CLI process, its signal handling. Simulated: the kubelet
// (statfs of the mount served as /stats/summary), as in disk-status.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startCli, expectCleanError } from '../helpers/cli.js';
import { startGrowingVolume, type GrowingVolume } from './harness.js';
import { MiB, type SeededCluster } from './seed.js';

interface Forecast {
  samples: number;
  spanSeconds: number;
  bytesPerHour?: string;
  secondsToFull?: number;
  fullAt?: string;
}
interface WatchDoc {
  kind: string;
  collectedAt: string;
  clusters: {
    volumes: {
      pvc: string;
      filesystem?: { usedBytes: string; availableBytes: string; observedAt?: string };
      forecast?: Forecast;
    }[];
  }[];
}

/** Least squares of used bytes over time, bytes per hour: the test's own arithmetic, not the CLI's. */
function slopePerHour(points: { t: number; used: number }[]): number {
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mu = points.reduce((a, p) => a + p.used, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.used - mu);
    den += (p.t - mt) ** 2;
  }
  return (num / den) * 3_600_000;
}

describe('disk status --watch against a real kube-apiserver', { timeout: 120_000 }, () => {
  let env: GrowingVolume | undefined;
  let kubeconfig: string;
  let cluster: SeededCluster;

  beforeAll(async () => {
    env = await startGrowingVolume('watch-tester', 'watch');
    ({ kubeconfig, cluster } = env);
  }, 240_000);

  afterAll(async () => {
    await env?.close();
  }, 60_000);

  it('-o json: one document per line, the growth fitted over the refreshes, time-to-full consistent with it; Ctrl-C ends with the last exit code', async () => {
    const volume = cluster.volumes[0]!;
    const fills = [32 * MiB, 48 * MiB]; // after refresh 1 and 2: the volume grows
    const { child } = startCli(
      ['disk', 'status', '-n', 'watch', 'growing', '--watch', '--interval', '2s', '-o', 'json'],
      { kubeconfig, killAfterMs: 120_000 },
    );
    const docs: WatchDoc[] = [];
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000); // a bound, not an assertion
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        buffered += c.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            docs.push(JSON.parse(line) as WatchDoc);
          } catch (e) {
            reject(new Error(`not one JSON document per line: ${line.slice(0, 200)} (${String(e)})`));
            return;
          }
          const next = fills[docs.length - 1];
          if (next !== undefined) void volume.mount.fill(next);
          else {
            child.kill('SIGINT');
            resolve();
          }
        }
      });
      child.on('close', () => resolve());
    });
    const code = await done;
    clearTimeout(killer);
    expect(stderr).toBe('');
    expect(docs).toHaveLength(3);
    expect(docs.every((d) => d.kind === 'DiskStatus')).toBe(true);

    const vols = docs.map((d) => d.clusters[0]!.volumes.find((v) => v.pvc === volume.pvc)!);
    const used = vols.map((v) => Number(v.filesystem!.usedBytes));
    // what df-equivalent statfs said at each refresh: 16, then 32, then 48 MiB of fill
    expect(used[1]! - used[0]!).toBe(16 * MiB);
    expect(used[2]! - used[1]!).toBe(16 * MiB);

    expect(vols[0]!.forecast).toEqual({ samples: 1, spanSeconds: 0 });
    const points = vols.map((v, i) => ({
      t: Date.parse(v.filesystem!.observedAt ?? docs[i]!.collectedAt),
      used: used[i]!,
    }));
    const f = vols[2]!.forecast!;
    expect(f.samples).toBe(3);
    const expected = slopePerHour(points);
    expect(Math.abs(Number(f.bytesPerHour) - expected)).toBeLessThanOrEqual(1);
    const available = Number(vols[2]!.filesystem!.availableBytes);
    expect(Math.abs(f.secondsToFull! - (available / expected) * 3600)).toBeLessThanOrEqual(1);
    expect(Date.parse(f.fullAt!) - points[2]!.t).toBeCloseTo(f.secondsToFull! * 1000, -4);
    // 48 of 64 MiB is 75%: below the default 80% threshold; the kubelet summary
    // gives no WAL facts, so WAL_UNKNOWN (a warning) is the worst finding
    expect(code).toBe(1);
  });

  it('table: a time line per refresh and the GROWTH/H and FULL IN columns; --count ends it', async () => {
    const r = await cli(['disk', 'status', '-n', 'watch', '--watch', '--interval', '1s', '--count', '2'], {
      kubeconfig,
    });
    expect(r.code, r.stderr).toBe(1); // WAL_UNKNOWN: no source gives this cluster's WAL facts
    const blocks = r.stdout.split(/^Every 1s: disk status, /m).filter(Boolean);
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatch(/\(refresh 1\)/);
    expect(blocks[1]).toMatch(/\(refresh 2\)/);
    const header = blocks[1]!.split('\n').find((l) => l.includes('GROWTH/H'));
    expect(header).toMatch(/USE%\s+GROWTH\/H\s+FULL IN\s+POLICY/);
    // the volume did not change between the two refreshes: growth 0, never full
    expect(blocks[1]).toMatch(/growing-1 .* 0 +never /);
  });

  it('bad input: --watch on a bundle, --interval without --watch, an interval below 1s — exit 64, one sentence', async () => {
    const bundle = await cli(['disk', 'status', '--from-bundle', 'examples/healthy.tar.gz', '--watch']);
    expect(bundle.code).toBe(64);
    expect(expectCleanError(bundle.stderr)).toMatch(/--watch needs a live cluster/);
    const noWatch = await cli(['disk', 'status', '--interval', '5s'], { kubeconfig });
    expect(noWatch.code).toBe(64);
    expect(expectCleanError(noWatch.stderr)).toBe(
      'error: All of the following must be provided when using --interval: --watch',
    );
    // and without --watch nothing about watching is required: a plain run works
    const plain = await cli(['disk', 'status', '-n', 'watch', '-o', 'json'], { kubeconfig });
    expect(plain.code, plain.stderr).toBe(1); // WAL_UNKNOWN, as in the watch runs
    const fast = await cli(['disk', 'status', '--watch', '--interval', '200ms'], { kubeconfig });
    expect(fast.code).toBe(64);
    expect(expectCleanError(fast.stderr)).toMatch(/--interval must be at least 1s/);
  });
});
