// A 3-instance CloudNativePG cluster with separate WAL storage and a
// tablespace comes up on the target cluster, and what each PVC promises is
// what `df` inside each pod shows. This is the ground truth every disk number
// of the CLI is compared with.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MOUNTS, clusterManifest, dfInPod, instancePods, psql, pvcs, waitHealthy } from './lib/cnpg.js';
import { Kube, bytes } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const CLUSTER = 'pg3';
const SIZES = { data: '1Gi', wal: '512Mi', tbs: '256Mi' };
let ns = '';

describe('3-instance cluster with WAL volume and tablespace', () => {
  beforeAll(async () => {
    ns = await kube.createNamespace('volumes');
    await kube.apply(
      clusterManifest(ns, {
        name: CLUSTER,
        instances: 3,
        dataSize: SIZES.data,
        walSize: SIZES.wal,
        tablespaces: [{ name: 'tbs1', size: SIZES.tbs }],
        storageClass: cfg.storageClass,
        ...(cfg.pgImage ? { imageName: cfg.pgImage } : {}),
      }),
    );
    await waitHealthy(kube, ns, CLUSTER, 3, 12 * 60_000);
  });

  afterAll(async () => {
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
});
