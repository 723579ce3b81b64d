// Events on the Cluster, once per change of state per volume, against the
// real kube-apiserver: the same state twice writes nothing, a cleared and
// returning condition is announced again, and a new recorder (a restarted
// controller) rebuilds the state from the Events already there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, MANAGED_BY_LABEL, type VolumeEvent } from '../../src/controller/events.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';

const blocked: VolumeEvent = {
  type: 'Warning',
  reason: 'AutoResizeBlocked',
  message: 'archive-unhealthy: resize of pg-1-wal (wal) blocked (policy: annotation)',
  key: 'db/pg-1-wal/AutoResizeBlocked/archive-unhealthy',
};
const noWal: VolumeEvent = {
  type: 'Warning',
  reason: 'WALHealthUnavailable',
  message: 'pg-1-wal (wal): no WAL health data (policy: annotation)',
  key: 'db/pg-1-wal/AutoResizeWALHealthUnavailable/',
};

describe('events once per change of state (real API server)', { timeout: 120_000 }, () => {
  let api: ApiServerHandle;
  let client: KubeClient;
  const cluster = { namespace: 'db', name: 'pg' };
  const now = () => new Date();
  const ours = async () => {
    const r = await api.request(
      'GET',
      `/api/v1/namespaces/db/events?labelSelector=${MANAGED_BY_LABEL}%3Dcnpg-disk-autoresizer`,
    );
    return r.json<{ items: { reason: string; involvedObject: { kind: string; name: string } }[] }>().items;
  };

  beforeAll(async () => {
    api = await startApiServer({ installCrds: false });
    expect((await api.request('POST', '/api/v1/namespaces', { body: { metadata: { name: 'db' } } })).status).toBe(201);
    client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }), 10_000);
  }, 120_000);
  afterAll(async () => api?.stop(), 60_000);

  it('announces a state once, again after it cleared, and a restarted recorder does not repeat it', async () => {
    const r = new EventRecorder(client, { identity: 'a', now });
    expect(await r.observe(cluster, 'db/pg-1-wal', [blocked])).toHaveLength(1);
    expect(await r.observe(cluster, 'db/pg-1-wal', [blocked])).toHaveLength(0);
    expect(await r.observe(cluster, 'db/pg-1-wal', [blocked, noWal])).toEqual([noWal]);
    expect(await r.observe(cluster, 'db/pg-1-wal', [])).toHaveLength(0);
    expect(await r.observe(cluster, 'db/pg-1-wal', [blocked])).toEqual([blocked]);
    const events = await ours();
    expect(events.map((e) => e.reason).sort()).toEqual([
      'AutoResizeBlocked',
      'AutoResizeBlocked',
      'WALHealthUnavailable',
    ]);
    expect(events.every((e) => e.involvedObject.kind === 'Cluster' && e.involvedObject.name === 'pg')).toBe(true);

    // Restart: a new recorder reads the newest state per volume from the Events.
    const restarted = new EventRecorder(client, { identity: 'b', now });
    expect(await restarted.rebuild(['db'])).toBe(1);
    expect(restarted.stateOf('db/pg-1-wal')).toEqual([blocked.key]);
    expect(await restarted.observe(cluster, 'db/pg-1-wal', [blocked])).toHaveLength(0);
    expect(await restarted.observe(cluster, 'db/pg-1-wal', [blocked, noWal])).toEqual([noWal]);
    expect((await ours()).length).toBe(4);

    // Without rebuild (the old behaviour) the same state is said again: the control.
    const forgetful = new EventRecorder(client, { identity: 'c', now });
    expect(await forgetful.observe(cluster, 'db/pg-1-wal', [blocked, noWal])).toHaveLength(2);
  });

  it('a write that fails is not remembered as announced', async () => {
    const r = new EventRecorder(client, { identity: 'a', now });
    const missing = { namespace: 'no-such-namespace', name: 'pg' };
    expect(await r.observe(missing, 'no-such-namespace/x', [blocked])).toEqual([blocked]);
    expect(r.failures).toBe(1);
    expect(r.stateOf('no-such-namespace/x')).toEqual([]);
  });
});
