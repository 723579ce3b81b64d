// A support bundle of a broken cluster carries what diagnose needs: the
// findings `diagnose --from-bundle` gives offline are the ones `diagnose
// --bundle` found live on the real cluster. Broken here: the data volume
// filled past 90 % (VOLUME_NEAR_FULL, critical) on a cluster whose WAL volume
// is on a storage class that cannot expand.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cli } from './lib/cli.js';
import { MOUNTS, dfInPod, instancePods, createCluster } from './lib/cnpg.js';
import { Kube } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgb';
let ns = '';
let tmp = '';
let createdClass = '';

interface Finding {
  severity: string;
  code: string;
  subject: string;
  message: string;
  command?: string;
}
interface Diagnosis {
  kind: string;
  summary: { critical: number; warning: number; info: number };
  findings: Finding[];
  origin: { kind: string };
}

const key = (f: Finding) => `${f.severity} ${f.code} ${f.subject}`;

describe('support bundle of a broken cluster', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cnpg-e2e-bundle-'));
    ns = await kube.createNamespace('bundle');
    let fixed = cfg.storageClassFixed;
    if (!fixed) {
      const sc = await kube.json<{ provisioner: string }>(['get', 'storageclass', cfg.storageClass]);
      createdClass = `${ns}-fixed`;
      fixed = createdClass;
      await kube.apply(
        `apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: { name: ${createdClass} }\nprovisioner: ${sc.provisioner}\nallowVolumeExpansion: false\n`,
      );
    }
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '256Mi',
      walSize: '256Mi',
      walStorageClass: fixed,
    });
    const [pod] = await instancePods(kube, ns, CLUSTER);
    const name = pod?.name ?? '';
    const df = await dfInPod(kube, ns, name, MOUNTS.data);
    // Fill the data volume to ~94 % with a plain file (PostgreSQL keeps running).
    const fill = Math.floor(df.size * 0.94) - df.used;
    const r = await kube.exec(
      ns,
      name,
      'postgres',
      ['sh', '-c', `head -c ${fill} /dev/zero > ${MOUNTS.data}/e2e-fill && sync`],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
  });

  afterAll(async () => {
    cli.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (ns) await kube.deleteNamespace(ns);
    if (createdClass) await kube.run(['delete', 'storageclass', createdClass]);
  });

  it('finds the same problems offline from the bundle as live', async () => {
    const file = join(tmp, 'support.tar.gz');
    const live = await cli.json<Diagnosis>(['diagnose', '-n', ns, CLUSTER, '--bundle', file], [2]);
    expect(live.kind).toBe('Diagnosis');
    expect(live.origin.kind).toBe('live');
    expect(statSync(file).size).toBeGreaterThan(1000);
    const near = live.findings.find((f) => f.code === 'VOLUME_NEAR_FULL');
    expect(near?.severity).toBe('critical');
    expect(near?.subject).toContain(`${CLUSTER}-1`);

    const offline = await cli.json<Diagnosis>(['diagnose', '--from-bundle', file], [2]);
    expect(offline.origin.kind).toBe('bundle');
    expect(offline.findings.map(key).sort()).toEqual(live.findings.map(key).sort());
    expect(offline.summary).toEqual(live.summary);
  });

  it('shows the same volume numbers from the bundle as df showed when it was made', async () => {
    const file = join(tmp, 'status.tar.gz');
    await cli.json<Diagnosis>(['diagnose', '-n', ns, CLUSTER, '--bundle', file], [2]);
    const [pod] = await instancePods(kube, ns, CLUSTER);
    const df = await dfInPod(kube, ns, pod?.name ?? '', MOUNTS.data);
    const doc = await cli.json<{
      clusters: { volumes: { pvc: string; type: string; filesystem?: { totalBytes: string; usedBytes: string } }[] }[];
    }>(['disk', 'status', '--from-bundle', file]);
    const data = doc.clusters[0]?.volumes.find((v) => v.type === 'data');
    expect(Number(data?.filesystem?.totalBytes)).toBe(df.size);
    expect(Math.abs(Number(data?.filesystem?.usedBytes) - df.used) / df.size).toBeLessThan(0.01);
  });
});
