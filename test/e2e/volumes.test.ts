// A 3-instance CloudNativePG cluster with separate WAL storage and a
// tablespace comes up on the target cluster, and what each PVC promises is
// what `df` inside each pod shows. This is the ground truth every disk number
// of the CLI is compared with.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cli } from './lib/cli.js';
import { MOUNTS, dfInPod, instancePods, psql, pvcs, type DfRow, createCluster } from './lib/cnpg.js';
import { Kube, bytes, exec } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pg3';
const SIZES = { data: '1Gi', wal: '512Mi', tbs: '256Mi' };
let ns = '';

describe('3-instance cluster with WAL volume and tablespace', () => {
  beforeAll(async () => {
    ns = await kube.createNamespace('volumes');
    await createCluster(
      kube,
      cfg,
      ns,
      {
        name: CLUSTER,
        instances: 3,
        dataSize: SIZES.data,
        walSize: SIZES.wal,
        tablespaces: [{ name: 'tbs1', size: SIZES.tbs }],
      },
      12 * 60_000,
    );
  });

  afterAll(async () => {
    cli.dispose();
    if (ns) await kube.deleteNamespace(ns);
  });

  it('has one primary and two replicas streaming from it', async () => {
    const pods = await instancePods(kube, ns, CLUSTER);
    expect(pods.map((p) => p.role).sort()).toEqual(['primary', 'replica', 'replica']);
    const primary = pods.find((p) => p.role === 'primary');
    expect(primary).toBeDefined();
    const streaming = await psql(
      kube,
      ns,
      primary?.name ?? '',
      "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
    );
    expect(Number(streaming)).toBe(2);
  });

  it('binds a data, a WAL and a tablespace PVC per instance, each at its requested size', async () => {
    const list = await pvcs(kube, ns, CLUSTER);
    expect(list).toHaveLength(9);
    const byRole = (role: string) => list.filter((p) => p.role === role);
    expect(byRole('PG_DATA')).toHaveLength(3);
    expect(byRole('PG_WAL')).toHaveLength(3);
    expect(byRole('PG_TABLESPACE')).toHaveLength(3);
    for (const p of list) {
      expect(p.storageClass).toBe(cfg.storageClass);
      expect(p.capacity, p.name).toBeGreaterThanOrEqual(p.requested);
    }
  });

  it('shows in df inside every pod a filesystem of the PVC size on each volume', async () => {
    const pods = await instancePods(kube, ns, CLUSTER);
    const list = await pvcs(kube, ns, CLUSTER);
    for (const pod of pods) {
      // An empty tablespace directory takes no blocks on tmpfs: used may be 0 there.
      const volumes = [
        { pvc: pod.name, path: MOUNTS.data, size: bytes(SIZES.data), hasData: true },
        { pvc: `${pod.name}-wal`, path: MOUNTS.wal, size: bytes(SIZES.wal), hasData: true },
        { pvc: `${pod.name}-tbs-tbs1`, path: MOUNTS.tablespace('tbs1'), size: bytes(SIZES.tbs), hasData: false },
      ];
      for (const v of volumes) {
        const pvc = list.find((p) => p.name === v.pvc);
        expect(pvc, `PVC ${v.pvc}`).toBeDefined();
        const df = await dfInPod(kube, ns, pod.name, v.path);
        expect(df.target).toBe(v.path);
        if (v.hasData) expect(df.used).toBeGreaterThan(0);
        expect(pvc?.requested).toBe(v.size);
        if (cfg.local) {
          // csi-tmpfs: the filesystem is exactly the provisioned size.
          expect(df.size).toBe(pvc?.capacity);
        } else {
          // Block storage: filesystem overhead makes df a little smaller.
          expect(df.size).toBeLessThanOrEqual(pvc?.capacity ?? 0);
          expect(df.size).toBeGreaterThan(0.9 * (pvc?.capacity ?? 0));
        }
      }
    }
  });

  it('keeps WAL on the WAL volume and the tablespace on its own volume', async () => {
    const pods = await instancePods(kube, ns, CLUSTER);
    const primary = pods.find((p) => p.role === 'primary')?.name ?? '';
    const walLink = await kube.exec(ns, primary, 'postgres', ['readlink', '/var/lib/postgresql/data/pgdata/pg_wal']);
    expect(walLink.stdout.trim()).toBe('/var/lib/postgresql/wal/pg_wal');
    await psql(kube, ns, primary, 'CREATE TABLE IF NOT EXISTS t_tbs (x text) TABLESPACE tbs1');
    await psql(kube, ns, primary, "INSERT INTO t_tbs SELECT repeat('x', 1000) FROM generate_series(1, 20000)");
    const before = await dfInPod(kube, ns, primary, MOUNTS.tablespace('tbs1'));
    expect(before.used).toBeGreaterThan(20_000 * 1000);
  });

  // ---- the CLI against df ------------------------------------------------

  interface VolumeJson {
    instance: string;
    pvc: string;
    type: string;
    tablespace?: string;
    capacityBytes?: string;
    filesystem?: { totalBytes: string; usedBytes: string; availableBytes: string; source: string };
    /** --watch only */
    forecast?: Forecast;
  }
  interface DiskStatusDoc {
    apiVersion: string;
    kind: string;
    sources: { source: string; fact: string; outcome: string }[];
    clusters: { name: string; volumes: VolumeJson[] }[];
  }

  interface Forecast {
    samples: number;
    spanSeconds: number;
    bytesPerHour?: string;
    secondsToFull?: number;
  }

  function mountOf(v: VolumeJson): string {
    if (v.type === 'data') return MOUNTS.data;
    if (v.type === 'wal') return MOUNTS.wal;
    return MOUNTS.tablespace(v.tablespace ?? '');
  }

  /** Differences from df, as fractions of the filesystem size; empty when all within 1 %. */
  function disagreements(doc: DiskStatusDoc, df: Map<string, DfRow>): string[] {
    const out: string[] = [];
    for (const v of doc.clusters[0]?.volumes ?? []) {
      const d = df.get(v.pvc);
      const fs = v.filesystem;
      if (!d || !fs) {
        out.push(`${v.pvc}: ${!d ? 'no df' : 'no filesystem facts'}`);
        continue;
      }
      const total = Number(fs.totalBytes);
      const dTotal = Math.abs(total - d.size) / d.size;
      const dUsed = Math.abs(Number(fs.usedBytes) - d.used) / d.size;
      if (dTotal > 0.01 || dUsed > 0.01) {
        out.push(`${v.pvc}: total ${total} vs df ${d.size}, used ${fs.usedBytes} vs df ${d.used}`);
      }
    }
    return out;
  }

  async function dfAll(doc: DiskStatusDoc): Promise<Map<string, DfRow>> {
    const m = new Map<string, DfRow>();
    for (const v of doc.clusters[0]?.volumes ?? []) m.set(v.pvc, await dfInPod(kube, ns, v.instance, mountOf(v)));
    return m;
  }

  for (const source of ['auto', 'exec', 'kubelet-summary'] as const) {
    it(`disk status --source ${source} agrees with df within 1 % on every volume of every instance`, async () => {
      // The two measurements are moments apart (WAL keeps being written): a few tries. The
      // kubelet's figures are up to one volumeStatsAggPeriod (10 s here) old by design, so
      // the tries are spaced by more than that (once a volume just written by the previous
      // test showed 0 used in three back-to-back tries).
      let last: string[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 12_000));
        const doc = await cli.json<DiskStatusDoc>(['disk', 'status', '-n', ns, CLUSTER, '--source', source]);
        expect(doc.kind).toBe('DiskStatus');
        const volumes = doc.clusters[0]?.volumes ?? [];
        expect(volumes).toHaveLength(9);
        expect(volumes.filter((v) => v.type === 'data')).toHaveLength(3);
        expect(volumes.filter((v) => v.type === 'wal')).toHaveLength(3);
        expect(volumes.filter((v) => v.type === 'tablespace' && v.tablespace === 'tbs1')).toHaveLength(3);
        const used = doc.sources.filter((x) => x.fact === 'filesystem' && x.outcome === 'used').map((x) => x.source);
        expect(used).toEqual([source === 'auto' ? 'exec' : source]);
        for (const v of volumes) expect(v.filesystem?.source).toBe(source === 'auto' ? 'exec' : source);
        last = disagreements(doc, await dfAll(doc));
        if (last.length === 0) break;
      }
      expect(last).toEqual([]);
    });
  }

  it('disk status --watch follows the real volumes: one document per refresh, growth fitted over them', async () => {
    // The tablespace grows between the two refreshes (rows written on the primary), the data
    // volumes of the replicas barely move: the forecast must say which is growing.
    const primary = (await instancePods(kube, ns, CLUSTER)).find((p) => p.role === 'primary')?.name ?? '';
    const run = cli.run([
      'disk',
      'status',
      '-n',
      ns,
      CLUSTER,
      '--watch',
      '--interval',
      '15s',
      '--count',
      '2',
      '-o',
      'json',
    ]);
    await new Promise((r) => setTimeout(r, 5_000)); // inside the first interval
    await psql(kube, ns, primary, "INSERT INTO t_tbs SELECT repeat('y', 1000) FROM generate_series(1, 20000)");
    const r = await run;
    expect([0, 1, 2], r.stderr).toContain(r.code);
    const docs = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as DiskStatusDoc & { clusters: { volumes: (VolumeJson & { forecast: Forecast })[] }[] },
      );
    expect(docs).toHaveLength(2);
    const tbs = (d: (typeof docs)[number]) => d.clusters[0]!.volumes.find((v) => v.pvc === `${primary}-tbs-tbs1`)!;
    expect(tbs(docs[0]!).forecast).toEqual({ samples: 1, spanSeconds: 0 });
    const grown = Number(tbs(docs[1]!).filesystem!.usedBytes) - Number(tbs(docs[0]!).filesystem!.usedBytes);
    expect(grown).toBeGreaterThan(15_000 * 1000); // most of the 20 MB of rows (TOAST compresses 'y' runs)
    const f = tbs(docs[1]!).forecast!;
    expect(f.samples).toBe(2);
    expect(Number(f.bytesPerHour)).toBeGreaterThan(0);
    expect(f.secondsToFull).toBeGreaterThan(0);
  });

  for (const name of ['kubectl-cnpg', 'kubectl-cnpg-disk'] as const) {
    it(`answers \`kubectl cnpg disk status\` through kubectl's plugin dispatch as ${name}`, async () => {
      const r = await cli.viaKubectl(name, ['disk', 'status', '-n', ns, CLUSTER, '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as DiskStatusDoc;
      expect(doc.kind).toBe('DiskStatus');
      const sizes = (doc.clusters[0]?.volumes ?? []).map((v) => [v.pvc, v.filesystem?.totalBytes]).sort();
      const list = await pvcs(kube, ns, CLUSTER);
      const expected = list.map((p) => [p.name, cfg.local ? String(p.capacity) : expect.any(String)]).sort();
      expect(sizes).toEqual(expected);
    });
  }

  it('works beside the official CloudNativePG plugin: `kubectl cnpg status` reaches it, `kubectl cnpg disk` reaches ours', async () => {
    // The official plugin at the pinned CNPG version, built by the release tooling (cached).
    let official = process.env['CNPG_E2E_OFFICIAL_PLUGIN'] ?? '';
    if (!official) {
      const built = await exec('bash', [join(cfg.repoDir, 'scripts/release/tools.sh'), 'kubectl-cnpg'], {
        timeoutMs: 30 * 60_000,
      });
      expect(built.code, built.stderr).toBe(0);
      official = built.stdout.trim().split(' ')[1] ?? '';
    }
    const theirs = await cli.besideOfficial(official, ['status', '-n', ns, CLUSTER]);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(theirs.stdout).toContain('Cluster Summary');
    expect(theirs.stdout).toMatch(/Instances:\s+3/);
    const ours = await cli.besideOfficial(official, ['disk', 'status', '-n', ns, CLUSTER, '-o', 'json']);
    expect(ours.code, ours.stderr).toBe(0);
    const doc = JSON.parse(ours.stdout) as DiskStatusDoc;
    expect(doc.kind).toBe('DiskStatus');
    expect(doc.clusters[0]?.volumes).toHaveLength(9);
  });
});
