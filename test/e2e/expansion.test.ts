// Volume expansion on the target cluster, without our CLI: growing a PVC of an
// expandable class grows the filesystem inside the running pod (no restart);
// a class without allowVolumeExpansion refuses. On the local cluster also the
// CSI driver's injected node-expansion failure, which is what `diagnose` must
// later report as a stuck resize.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MOUNTS, dfInPod, instancePods, pvcs, createCluster } from './lib/cnpg.js';
import { Kube, bytes, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const CLUSTER = 'pg1';
let ns = '';
let fixedClass = cfg.storageClassFixed ?? '';
let createdClass = '';

async function podState(pod: string): Promise<{ uid: string; restarts: number }> {
  const p = await kube.json<{
    metadata: { uid: string };
    status: { containerStatuses?: { name: string; restartCount: number }[] };
  }>(['-n', ns, 'get', 'pod', pod]);
  const c = p.status.containerStatuses?.find((s) => s.name === 'postgres');
  return { uid: p.metadata.uid, restarts: c?.restartCount ?? -1 };
}

describe('volume expansion', () => {
  beforeAll(async () => {
    ns = await kube.createNamespace('expand');
    if (!fixedClass) {
      // Same provisioner and parameters as the expandable class, but no expansion.
      const sc = await kube.json<{ provisioner: string; parameters?: Record<string, string> }>([
        'get',
        'storageclass',
        cfg.storageClass,
      ]);
      createdClass = `${ns}-fixed`;
      fixedClass = createdClass;
      const params = Object.entries(sc.parameters ?? {}).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
      await kube.apply(
        [
          'apiVersion: storage.k8s.io/v1',
          'kind: StorageClass',
          `metadata: { name: ${createdClass} }`,
          `provisioner: ${sc.provisioner}`,
          'allowVolumeExpansion: false',
          ...(params.length > 0 ? ['parameters:', ...params] : []),
        ].join('\n'),
      );
    }
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '512Mi',
      walSize: '256Mi',
      walStorageClass: fixedClass,
    });
  });

  afterAll(async () => {
    if (cfg.csiFaults) rmSync(join(cfg.csiFaults, 'node-expand'), { force: true });
    if (ns) await kube.deleteNamespace(ns);
    if (createdClass) await kube.run(['delete', 'storageclass', createdClass]);
  });

  it('grows the data filesystem online when the PVC request grows', async () => {
    const [pod] = await instancePods(kube, ns, CLUSTER);
    expect(pod).toBeDefined();
    const name = pod?.name ?? '';
    const before = await podState(name);
    const dfBefore = await dfInPod(kube, ns, name, MOUNTS.data);
    await kube.ok([
      '-n',
      ns,
      'patch',
      'pvc',
      name,
      '--type=merge',
      '-p',
      '{"spec":{"resources":{"requests":{"storage":"768Mi"}}}}',
    ]);
    const grown = await waitFor(
      'data filesystem to grow to 768Mi',
      kube.t(3 * 60_000),
      async () => {
        const df = await dfInPod(kube, ns, name, MOUNTS.data);
        return df.size >= (cfg.local ? bytes('768Mi') : 0.9 * bytes('768Mi')) ? df : undefined;
      },
      async () => (await kube.run(['-n', ns, 'describe', 'pvc', name])).stdout,
    );
    if (cfg.local) expect(grown.size).toBe(bytes('768Mi'));
    expect(grown.size).toBeGreaterThan(dfBefore.size);
    // Data survived and the pod was never restarted.
    expect(grown.used).toBeGreaterThanOrEqual(dfBefore.used * 0.5);
    expect(await podState(name)).toEqual(before);
    const pvc = await waitFor('PVC capacity 768Mi', kube.t(60_000), async () => {
      const p = (await pvcs(kube, ns, CLUSTER)).find((x) => x.name === name);
      return p && p.capacity >= bytes('768Mi') ? p : undefined;
    });
    expect(pvc.conditions).not.toContain('FileSystemResizePending');
  });

  it('refuses to grow a PVC whose storage class does not allow expansion', async () => {
    const [pod] = await instancePods(kube, ns, CLUSTER);
    const r = await kube.run([
      '-n',
      ns,
      'patch',
      'pvc',
      `${pod?.name ?? ''}-wal`,
      '--type=merge',
      '-p',
      '{"spec":{"resources":{"requests":{"storage":"512Mi"}}}}',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/storageclass that provisions the pvc must support resize/);
  });

  describe.runIf(cfg.local)('local CSI driver fault injection', () => {
    it('leaves the resize pending with the driver message while node expansion fails, then completes', async () => {
      const faults = cfg.csiFaults ?? '';
      if (!existsSync(faults)) mkdirSync(faults, { recursive: true });
      const [pod] = await instancePods(kube, ns, CLUSTER);
      const name = pod?.name ?? '';
      writeFileSync(join(faults, 'node-expand'), 'e2e: injected node expansion failure\n');
      await kube.ok([
        '-n',
        ns,
        'patch',
        'pvc',
        name,
        '--type=merge',
        '-p',
        '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}',
      ]);
      await waitFor('a warning event with the driver message', kube.t(2 * 60_000), async () => {
        const ev = await kube.ok(['-n', ns, 'get', 'events', '--field-selector', 'type=Warning', '-o', 'json']);
        return ev.includes('e2e: injected node expansion failure') ? true : undefined;
      });
      expect((await dfInPod(kube, ns, name, MOUNTS.data)).size).toBe(bytes('768Mi'));
      rmSync(join(faults, 'node-expand'));
      const df = await waitFor('the filesystem to reach 1Gi after the fault is gone', kube.t(3 * 60_000), async () => {
        const d = await dfInPod(kube, ns, name, MOUNTS.data);
        return d.size === bytes('1Gi') ? d : undefined;
      });
      expect(df.size).toBe(bytes('1Gi'));
    });
  });
});
