// The autoresizer in a real cluster: the image built from the Linux binary
// with buildah (scripts/release/image.ts), imported into the node's
// containerd, deployed with `disk install --apply`; a real Cluster whose data
// volume a real file fills past the policy's threshold is grown online by the
// controller (PVC request, then capacity, then the filesystem inside the
// running pod), with an AutoResized Event on the Cluster and one ledger entry;
// then a second instance, created by CloudNativePG at the declared size, is
// grown to its sibling's size (the sibling floor).
//
// On a cluster other than the local one (AKS...), set
// CNPG_E2E_AUTORESIZER_IMAGE to an image pushed from the same archives.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  clusterEvents,
  controllerImage,
  deployController,
  ledgerEntries,
  leaseHolder,
  POD_LABEL,
  removeController,
} from './lib/autoresizer.js';
import { Cli } from './lib/cli.js';
import { MOUNTS, createCluster, dfInPod, fillVolume, instancePods, pvcs, waitHealthy } from './lib/cnpg.js';
import { Kube, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pg';
const POLICY = [
  'storage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 70 }',
  '    expansion: { step: 256Mi, limit: 2Gi }',
  '    strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } }',
].join('\n');
let ns = '';
let ctrlNs = '';

describe('autoresizer (in-cluster controller)', () => {
  beforeAll(async () => {
    const image = await controllerImage(cfg);
    ns = await kube.createNamespace('autoresize');
    ctrlNs = await kube.createNamespace('autoresizer');
    await deployController(kube, cli, { ctrlNs, watchNs: ns, image });
    await createCluster(kube, cfg, ns, { name: CLUSTER, instances: 1, dataSize: '512Mi' });
    await kube.ok(['-n', ns, 'annotate', 'cluster', CLUSTER, `disk.cnpg-plugin.dev/resize-policy=${POLICY}`]);
  });

  afterAll(async () => {
    await removeController(kube, ctrlNs, ns);
  });

  it('two replicas, exactly one holds the Lease', async () => {
    const holder = await leaseHolder(kube, ctrlNs);
    const pods = await kube.json<{ items: { metadata: { name: string } }[] }>([
      '-n',
      ctrlNs,
      'get',
      'pods',
      '-l',
      POD_LABEL,
    ]);
    expect(pods.items).toHaveLength(2);
    expect(pods.items.map((p) => p.metadata.name)).toContain(holder);
  });

  it('a filling data volume is grown online: request, capacity, filesystem; an event; one ledger entry', async () => {
    const [pod] = await instancePods(kube, ns, CLUSTER);
    const name = pod?.name ?? '';
    const before = await fillVolume(kube, ns, name, MOUNTS.data, 0.85);
    const grown = await waitFor(
      'the filesystem to grow',
      kube.t(5 * 60_000),
      async () => {
        const df = await dfInPod(kube, ns, name, MOUNTS.data);
        return df.size > before.size * 1.3 ? df : undefined;
      },
      async () => (await kube.run(['-n', ns, 'get', 'pvc,events'])).stdout,
      5_000,
    );
    expect(grown.size).toBeGreaterThan(before.size);
    const [p] = await pvcs(kube, ns, CLUSTER);
    expect(p?.requested).toBe(768 * 2 ** 20);
    const ledger = await ledgerEntries(kube, ns, name);
    expect(ledger).toHaveLength(1);
    const events = await clusterEvents(kube, ns, CLUSTER);
    expect(events.filter((e) => e.reason === 'AutoResized')).toHaveLength(1);
  });

  it('a new replica gets the sibling floor', async () => {
    await kube.ok(['-n', ns, 'patch', 'cluster', CLUSTER, '--type=merge', '-p', '{"spec":{"instances":2}}']);
    const sizes = await waitFor(
      'the new replica PVC grown to its sibling',
      kube.t(10 * 60_000),
      async () => {
        const list = await pvcs(kube, ns, CLUSTER);
        if (list.length < 2) return undefined;
        const req = list.map((x) => x.requested);
        return req.every((b) => b === req[0]) ? req : undefined;
      },
      async () => (await kube.run(['-n', ns, 'get', 'pvc,pods,events'])).stdout,
      5_000,
    );
    expect(sizes).toEqual([768 * 2 ** 20, 768 * 2 ** 20]);
    await waitHealthy(kube, ns, CLUSTER, 2, 10 * 60_000);
    const second = (await pvcs(kube, ns, CLUSTER)).find((x) => x.name !== `${CLUSTER}-1`);
    const pvc = await kube.json<{ metadata: { annotations: Record<string, string> } }>([
      '-n',
      ns,
      'get',
      'pvc',
      second?.name ?? '',
    ]);
    expect(pvc.metadata.annotations['disk.cnpg-plugin.dev/resize-ledger']).toContain('"why":"sibling-floor"');
  });
});
