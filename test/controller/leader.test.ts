// Leader election on a coordination.k8s.io/v1 Lease against the real
// kube-apiserver + etcd of test/infra, with the production durations
// (lease 15 s, renew deadline 10 s, retry 2 s). Nothing is simulated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElector, microTime } from '../../src/controller/leader.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';

const NS = 'cnpg-disk-system';
const LEASE = 'cnpg-disk-autoresizer';

interface Lease {
  metadata: { resourceVersion: string; labels?: Record<string, string> };
  spec: { holderIdentity?: string; renewTime?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}

describe('leader election on a Lease (real API server)', { timeout: 180_000 }, () => {
  let api: ApiServerHandle;
  let client: () => KubeClient;
  const electors: LeaderElector[] = [];
  let watchdog: NodeJS.Timeout | undefined;
  let twoLeadersSeen = 0;

  const elector = (identity: string, name = LEASE) => {
    const e = new LeaderElector({ client: client(), namespace: NS, name, identity });
    electors.push(e);
    return e;
  };
  const readLease = async (name = LEASE) => (await api.request('GET', leasePath(name))).json<Lease>();
  const leasePath = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`;
  const until = async (cond: () => boolean | Promise<boolean>, ms: number) => {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (await cond()) return Date.now() - start;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`condition not met within ${ms} ms`);
  };

  beforeAll(async () => {
    api = await startApiServer({ installCrds: false });
    const kc = loadKubeConfig({ kubeconfig: api.kubeconfigPath });
    client = () => new KubeClient(kc, 5_000);
    const ns = await api.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
    expect(ns.status).toBe(201);
    // Never two leaders at once, checked every 50 ms for the whole file.
    watchdog = setInterval(() => {
      if (electors.filter((e) => e.isLeader).length > 1) twoLeadersSeen++;
    }, 50);
  }, 120_000);

  afterAll(async () => {
    clearInterval(watchdog);
    await Promise.all(electors.map((e) => e.stop({ release: false })));
    await api?.stop();
  }, 60_000);

  it('two electors: exactly one leads, and the Lease names it', async () => {
    const a = elector('replica-a');
    const b = elector('replica-b');
    a.start();
    b.start();
    await until(() => a.isLeader || b.isLeader, 10_000);
    // Several retry periods later, still exactly one.
    await new Promise((r) => setTimeout(r, 5_000));
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader ? 'replica-a' : 'replica-b';
    const lease = await readLease();
    expect(lease.spec.holderIdentity).toBe(leader);
    expect(lease.spec.leaseDurationSeconds).toBe(15);
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // The leader renews: renewTime moves.
    const before = lease.spec.renewTime;
    await until(async () => (await readLease()).spec.renewTime !== before, 5_000);
  });

  it('the leader abandoned without release (kill -9): the other takes over within the lease duration', async () => {
    const [a, b] = electors as [LeaderElector, LeaderElector];
    const leader = a.isLeader ? a : b;
    const standby = leader === a ? b : a;
    const transitions = (await readLease()).spec.leaseTransitions ?? 0;
    await leader.stop({ release: false });
    const abandonedAt = Date.now();
    await until(() => standby.isLeader, 25_000);
    const took = Date.now() - abandonedAt;
    // The standby must wait for a whole lease duration of silence (its own
    // clock), and must not wait much longer than that plus a retry period.
    expect(took).toBeGreaterThanOrEqual(13_000);
    expect(took).toBeLessThan(15_000 + 2 * 2_400 + 1_000);
    const lease = await readLease();
    expect(lease.spec.holderIdentity).toBe(standby === a ? 'replica-a' : 'replica-b');
    expect(lease.spec.leaseTransitions).toBe(transitions + 1);
  });

  it('graceful release: a standby takes over at its next retry, not after expiry', async () => {
    const leader = electors.find((e) => e.isLeader)!;
    const c = elector('replica-c');
    c.start();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(c.isLeader).toBe(false);
    await leader.stop({ release: true });
    const releasedAt = Date.now();
    expect((await readLease()).spec.holderIdentity).toBeUndefined();
    await until(() => c.isLeader, 10_000);
    expect(Date.now() - releasedAt).toBeLessThan(3_500);
    expect((await readLease()).spec.holderIdentity).toBe('replica-c');
  });

  it('a 409 on renew is handled: re-read; still the holder → keep leading; another holder → step down', async () => {
    const c = electors.find((e) => e.isLeader)!;
    expect(c).toBeDefined();
    // Someone else writes the Lease (a label): the leader's cached resourceVersion is stale.
    const cur = await readLease();
    const labelled = await api.request('PUT', leasePath(LEASE), {
      body: { ...cur, metadata: { ...cur.metadata, labels: { touched: 'by-admin' } } },
    });
    expect(labelled.status).toBe(200);
    const conflictsBefore = c.conflicts;
    await until(() => c.conflicts > conflictsBefore, 5_000);
    const rv = labelled.json<Lease>().metadata.resourceVersion;
    await until(async () => (await readLease()).metadata.resourceVersion !== rv, 5_000);
    expect(c.isLeader).toBe(true);
    const after = await readLease();
    expect(after.spec.holderIdentity).toBe('replica-c');
    expect(after.metadata.labels).toEqual({ touched: 'by-admin' });

    // Now an intruder takes the Lease outright (fresh renewTime): the leader's renewal
    // conflicts, it re-reads, sees another holder whose record is fresh, and steps down.
    const cur2 = await readLease();
    const stolen = await api.request('PUT', leasePath(LEASE), {
      body: { ...cur2, spec: { ...cur2.spec, holderIdentity: 'intruder', renewTime: microTime(Date.now()) } },
    });
    expect(stolen.status).toBe(200);
    await until(() => !c.isLeader, 6_000);
    expect((await readLease()).spec.holderIdentity).toBe('intruder');
  });

  it('never saw two leaders at once', () => {
    expect(twoLeadersSeen).toBe(0);
  });
});
