// What the read commands ask the API server, read from its audit log (the
// real kube-apiserver of test/infra logs every request at Metadata level).
//
//  1. `disk status`, `wal health`, `diagnose` (also with --bundle), `disk
//     resize` without --apply and `disk policy validate` make no
//     create/update/patch/delete request. Two requests are not mutations and
//     are allowed: `create selfsubjectaccessreviews` (asks "may I?", stores
//     nothing) and pods/exec (the CLI runs only read-only commands in the pod:
//     `stat -f`, a psql SELECT). A positive control (`disk resize --apply`)
//     proves the check sees a real mutation.
//  2. Requests grow with namespaces and nodes, not with Clusters or PVCs:
//     1 vs 10 clusters in one namespace, and 10 clusters with twice the PVCs.
//
// Each run uses its own client-certificate user, so the audit log separates
// the runs. Real: API server, audit, RBAC, proxies, tmpfs. Simulated:
// kubelets (statfs summary, no exec) and metrics exporters behind the pod proxy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../infra/apiserver.js';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { auditOf, countByKind, kindOf, mutatingRequests } from './harness.js';
import { cli, json, requireBuiltCli } from '../helpers/cli.js';
import {
  grantClusterWide,
  metricsExporter,
  READ_ONLY_RULES,
  Seeder,
  waitForPermission,
  type ClusterSpec,
  type TmpfsMount,
} from './seed.js';

const MiB = 1024 * 1024;
const nodes = ['au-1', 'au-2', 'au-3'];
const GROW_POLICY = [
  'walStorage:',
  '  resize:',
  '    enabled: true',
  '    triggers: { usageThreshold: 80 }',
  '    expansion: { step: 32Mi, limit: 1Gi }',
  '',
].join('\n');

describe(
  'audit log: read-only commands, and requests that scale with namespaces and nodes',
  { timeout: 120_000 },
  () => {
    let api: ApiServerHandle;
    let net: TestNetwork;
    let seed: Seeder;
    let dir: string;
    let inFlight = 0;
    let maxInFlight = 0;
    const masters = (user: string) => api.kubeconfigFor(user, ['system:masters']);

    beforeAll(async () => {
      requireBuiltCli();
      dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-audit-'));
      await Promise.all([startApiServer().then((a) => (api = a)), createTestNetwork().then((n) => (net = n))]);
      seed = await Seeder.create(api, net);
      await seed.storageClasses();
      await Promise.all(nodes.map((n) => seed.node(n)));
      // audit/grow: the engine plans a WAL resize (88% > 80%), instances serve
      // /metrics through the pod proxy; audit/crash: an instance down with exit code 4.
      await seed.cluster({
        namespace: 'audit',
        name: 'grow',
        instances: 2,
        walStorage: true,
        nodes,
        usage: { data: 0.3, wal: 0.88 },
        annotations: { 'disk.cnpg-plugin.dev/resize-policy': GROW_POLICY },
        instanceManager: { port: 9187, handler: (_p, primary, vols) => metricsExporter(vols, primary) },
      });
      await seed.cluster({
        namespace: 'audit',
        name: 'crash',
        instances: 3,
        walStorage: true,
        nodes,
        usage: (i, v) => (i === 'crash-2' && v === 'wal' ? 0.99 : 0.3),
        pods: { 'crash-2': 'crashloop-exit4' },
      });
      // Scale: the same 3-instance shape, 1 vs 10 clusters in one namespace, and 10
      // with two tablespaces (twice the PVCs). Volumes share a few tmpfs mounts.
      const shared: TmpfsMount[] = await Promise.all(
        [0.2, 0.35, 0.5, 0.65].map((f, i) =>
          seed.pool.mount(64 * MiB, Math.round((f * 64 * MiB) / 4096) * 4096, `s${i}`),
        ),
      );
      let n = 0;
      const mountFor = () => shared[n++ % shared.length]!;
      const shape = (namespace: string, name: string, tbs = false): ClusterSpec => ({
        namespace,
        name,
        instances: 3,
        walStorage: true,
        ...(tbs ? { tablespaces: ['a', 'b'] } : {}),
        nodes,
        mountFor,
      });
      const specs = [
        shape('one', 'c0'),
        ...Array.from({ length: 10 }, (_, i) => shape('ten', `c${i}`)),
        ...Array.from({ length: 10 }, (_, i) => shape('ten-tbs', `c${i}`, true)),
      ];
      await Promise.all(specs.map((s) => seed.cluster(s)));
      // conc: 8 instances whose instance manager answers /pg/status slowly and
      // counts the requests in flight (through the real pod proxy).
      await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          seed.cluster({
            namespace: 'conc',
            name: `q${i}`,
            instances: 2,
            nodes,
            mountFor,
            instanceManager: {
              port: 8000,
              handler: (_pod, primary) => (req, res) => {
                if (req.url !== '/pg/status') {
                  res.writeHead(404);
                  res.end();
                  return;
                }
                inFlight++;
                maxInFlight = Math.max(maxInFlight, inFlight);
                setTimeout(() => {
                  inFlight--;
                  res.writeHead(200, { 'content-type': 'application/json' });
                  res.end(
                    JSON.stringify({
                      isPrimary: primary,
                      currentLsn: '0/5000060',
                      ...(primary
                        ? { lastArchivedWAL: '000000010000000000000004', lastArchivedWALTime: new Date().toISOString() }
                        : {}),
                    }),
                  );
                }, 250);
              },
            },
          }),
        ),
      );
      for (const u of ['scale-r1', 'scale-r10', 'scale-r10t', 'scale-rall']) {
        await grantClusterWide(seed.client, u, READ_ONLY_RULES);
      }
      await Promise.all(
        ['scale-r1', 'scale-r10', 'scale-r10t', 'scale-rall'].map((u) =>
          waitForPermission(api, u, { verb: 'get', resource: 'nodes', subresource: 'proxy' }),
        ),
      );
    }, 180_000);

    afterAll(async () => {
      await seed?.close();
      await Promise.all([api?.stop(), net?.close()]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    const show = (events: AuditEvent[]) => events.map((e) => `${kindOf(e)} ${e.requestURI}`).join('\n');

    it('disk status, wal health, diagnose (and --bundle), disk resize preview, policy validate: no create/update/patch/delete', async () => {
      const runs: [string, string[]][] = [
        ['ro-status', ['disk', 'status', '-n', 'audit', '-o', 'json']],
        ['ro-wal', ['wal', 'health', '-n', 'audit']],
        ['ro-diagnose', ['diagnose', '-n', 'audit']],
        ['ro-bundle', ['diagnose', '-n', 'audit', '--bundle', join(dir, 'b.tar.gz')]],
        ['ro-resize', ['disk', 'resize', 'grow', '-n', 'audit']],
        ['ro-validate', ['disk', 'policy', 'validate', '--cluster', 'grow', '-n', 'audit']],
      ];
      const results = await Promise.all(
        runs.map(async ([user, args]) => cli(args, { kubeconfig: await masters(user) })),
      );
      results.forEach((r, i) => expect([0, 1, 2], `${runs[i]![0]}: ${r.stderr}`).toContain(r.code));
      // the preview really has something it would apply
      expect(results[4]!.stdout).toMatch(/^grow-1\s+wal\s+64Mi\s+96Mi\s+32Mi\s+resize\s/m);
      for (const [user] of runs) {
        const events = await auditOf(api, user);
        expect(events.length, user).toBeGreaterThan(0);
        expect(
          events.some((e) => kindOf(e) === 'list clusters.postgresql.cnpg.io'),
          user,
        ).toBe(true);
        expect(show(mutatingRequests(events)), user).toBe('');
      }
      // The exceptions exist and are what the comment says: access reviews, and exec tried by auto mode.
      const status = await auditOf(api, 'ro-status');
      const kinds = countByKind(status);
      expect(kinds['create selfsubjectaccessreviews.authorization.k8s.io']).toBeGreaterThan(0);
      expect(Object.keys(kinds).some((k) => k.endsWith('pods/exec'))).toBe(true);
      expect(kinds['get nodes/proxy']).toBeGreaterThan(0);
      expect(kinds['get pods/proxy']).toBeGreaterThan(0);
    });

    it('positive control: disk resize --apply is seen as a PVC patch in the same audit check', async () => {
      const r = await cli(
        ['disk', 'resize', 'grow', '-n', 'audit', '--instance', 'grow-1', '--volume', 'wal', '--apply', '--yes'],
        {
          kubeconfig: await masters('rw-apply'),
        },
      );
      expect(r.code, r.stderr).not.toBe(3);
      const mutations = mutatingRequests(await auditOf(api, 'rw-apply'));
      expect(mutations.map(kindOf)).toContain('patch persistentvolumeclaims');
      expect(mutations.find((e) => kindOf(e) === 'patch persistentvolumeclaims')?.objectRef?.name).toBe('grow-1-wal');
    });

    it('requests do not grow with Clusters or PVCs when the kubelet summary is the source (read-only identity)', async () => {
      const run = async (user: string, ns: string) => {
        const r = await cli(['disk', 'status', '-n', ns, '-o', 'json'], { kubeconfig: await api.kubeconfigFor(user) });
        expect([0, 1, 2], r.stderr).toContain(r.code);
        return {
          doc: json<{ summary: { clusters: number; volumes: number } }>(r),
          kinds: countByKind(await auditOf(api, user)),
        };
      };
      const [one, ten, tenTbs] = await Promise.all([
        run('scale-r1', 'one'),
        run('scale-r10', 'ten'),
        run('scale-r10t', 'ten-tbs'),
      ]);
      expect([one.doc.summary, ten.doc.summary, tenTbs.doc.summary]).toEqual([
        // the kubelet summary gives no WAL facts: one WAL_UNKNOWN warning per instance
        { clusters: 1, volumes: 6, critical: 0, warning: 3, info: expect.any(Number) },
        { clusters: 10, volumes: 60, critical: 0, warning: 30, info: expect.any(Number) },
        { clusters: 10, volumes: 120, critical: 0, warning: 30, info: expect.any(Number) },
      ]);
      // exactly the same requests for 6, 60 and 120 PVCs
      expect(ten.kinds).toEqual(one.kinds);
      expect(tenTbs.kinds).toEqual(one.kinds);
      // one list per kind, one summary per node, one access review per (rule, namespace):
      // pod-proxy (get pods/proxy), exec (get and create pods/exec), kubelet-summary (get nodes/proxy)
      expect(one.kinds).toEqual({
        'create selfsubjectaccessreviews.authorization.k8s.io': 4,
        'get nodes/proxy': 3,
        'list clusters.postgresql.cnpg.io': 1,
        'list events': 1,
        'list persistentvolumeclaims': 1,
        'list pods': 1,
        'list storageclasses.storage.k8s.io': 1,
      });
    });

    it('-A lists each kind once across all namespaces; per-pod requests come only from per-pod sources, never per PVC', async () => {
      const all = await cli(['disk', 'status', '-A', '-o', 'json'], {
        kubeconfig: await api.kubeconfigFor('scale-rall'),
      });
      expect([0, 1, 2]).toContain(all.code);
      const kinds = countByKind(await auditOf(api, 'scale-rall'));
      for (const k of ['list clusters.postgresql.cnpg.io', 'list pods', 'list persistentvolumeclaims', 'list events']) {
        expect(kinds[k], k).toBe(1);
      }
      expect(kinds['get nodes/proxy']).toBe(nodes.length);

      // With every permission, auto mode also tries the pod proxy (port-forward as its fallback) and exec, which are per pod (instance).
      const admin = async (user: string, ns: string) => {
        await cli(['disk', 'status', '-n', ns, '-o', 'json'], { kubeconfig: await masters(user) });
        return countByKind(await auditOf(api, user));
      };
      const [one, ten, tenTbs] = await Promise.all([
        admin('scale-a1', 'one'),
        admin('scale-a10', 'ten'),
        admin('scale-a10t', 'ten-tbs'),
      ]);
      // 30 pods with 60 PVCs vs 30 pods with 120 PVCs: identical
      expect(tenTbs).toEqual(ten);
      const perPod = (k: string) =>
        k.endsWith('pods/proxy') || k.endsWith('pods/portforward') || k.endsWith('pods/exec');
      const rest = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !perPod(k)));
      expect(rest(ten)).toEqual(rest(one));
      for (const k of Object.keys(ten).filter(perPod)) expect(ten[k], k).toBe(10 * (one[k] ?? 0));
    });

    it('work on instances runs concurrently, bounded by --concurrency', async () => {
      const run = async (n: number) => {
        maxInFlight = 0;
        const r = await cli(['wal', 'health', '-n', 'conc', '--concurrency', String(n), '-o', 'json'], {
          kubeconfig: await masters(`conc-${n}`),
        });
        expect([0, 1, 2], r.stderr).toContain(r.code);
        expect(r.stdout).toContain('"q3-2"');
        return maxInFlight;
      };
      expect(await run(3)).toBe(3); // 8 slow instances: at most 3 at once, and really 3 at once
      expect(await run(1)).toBe(1);
    });
  },
);
