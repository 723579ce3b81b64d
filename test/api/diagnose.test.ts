// diagnose, wal health and support bundles end to end against a REAL
// kube-apiserver + etcd (test/infra), its RBAC, audit log, node proxy and pod
// proxy. Simulated, because they cannot run here: the kubelet's HTTP
// handlers (stats/summary from real statfs of tmpfs volumes, container logs)
// and the CloudNativePG instance manager's /pg/status and /metrics payloads
// (scripts/make-examples.scenarios.ts says exactly what is simulated).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/cli/deps.js';
import { CliError, ExitCode } from '../../src/model/errors.js';
import { bufferIO } from '../../src/cli/io.js';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.js';
import { runDiagnose, type DiagnoseOptions } from '../../src/app/diagnose.js';
import { runWalHealth } from '../../src/app/wal-health.js';
import { runDiskStatus } from '../../src/app/disk-status.js';
import { readBundle } from '../../src/snapshot/bundle.js';
import {
  grantClusterRole,
  healthyScenario,
  instanceDownScenario,
  seedCluster,
  startWorld,
  SUPPORT_RULES,
  walArchiveFailingScenario,
  type World,
} from '../../scripts/make-examples.scenarios.js';
import { LEAKS, NEAR_MISSES } from '../cli/leaks.js';

const NOW = Date.now();
const LATER = NOW + 60_000;

interface Finding {
  severity: string;
  code: string;
  subject: string;
  message: string;
  command?: string;
}

let world: World;
let support: string;
let noProxy: string;
let tmp: string;

function depsFor(kubeconfig: string): { deps: Deps; io: ReturnType<typeof bufferIO>; client: KubeClient } {
  const client = new KubeClient(loadKubeConfig({ kubeconfig }), 30_000);
  const io = bufferIO();
  return { deps: { io, now: () => new Date(LATER), kube: () => client }, io, client };
}

function opts(namespace: string, cluster: string, extra: Partial<DiagnoseOptions> = {}): DiagnoseOptions {
  return {
    namespace,
    cluster,
    allNamespaces: false,
    source: 'auto',
    concurrency: 4,
    measure: true,
    output: 'json',
    verbose: false,
    redact: true,
    pluginVersion: '0.0.0-test',
    ...extra,
  };
}

async function diagnose(kubeconfig: string, o: DiagnoseOptions) {
  const { deps, io, client } = depsFor(kubeconfig);
  const code = await runDiagnose(o, deps);
  const doc = JSON.parse(io.out.join('')) as { findings: Finding[]; sources: { source: string; outcome: string }[] };
  return { code, doc, io, client };
}

function extract(file: string): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'bundle-x-'));
  execFileSync('tar', ['xzf', file, '-C', dir]);
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p, `${rel}${f}/`);
      else out.set(`${rel}${f}`, readFileSync(p, 'utf8'));
    }
  };
  walk(dir, '');
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const key = (f: Finding) => `${f.severity} ${f.code} ${f.subject}`;

beforeAll(async () => {
  world = await startWorld();
  tmp = mkdtempSync(join(tmpdir(), 'cnpg-diag-test-'));
  const failing = walArchiveFailingScenario('orders');
  failing.instances[1]!.tls = false; // one instance manager without TLS: the http path of the pod proxy
  const planted = healthyScenario('secrets-test');
  planted.name = 'vault';
  planted.instances = planted.instances.slice(0, 1);
  planted.instances[0]!.env = [
    { name: 'APP_DB_PASSWORD', value: 'Planted-Env-Pw-123' },
    { name: 'DATABASE_URL', value: 'postgresql://app:Planted-Uri-Pw-789@vault-rw:5432/app' },
  ];
  // The leak corpus, planted everywhere a bundle takes text from: env values
  // (under credential-looking names), container logs and Cluster annotations.
  planted.instances[0]!.env!.push(
    ...LEAKS.map((l, i) => ({ name: `LEAK_${i}_PASSWORD`, value: l.secret })),
    { name: 'AWS_SECRET_ACCESS_KEY', value: 'Planted-Aws-Secret-1' },
    { name: 'PGPASSWORD', value: 'Planted-PgPass-2' },
  );
  planted.annotations = {
    ...planted.annotations,
    ...Object.fromEntries(LEAKS.map((l, i) => [`example.com/leak-${i}`, l.text])),
  };
  planted.instances[0]!.logs.push(...LEAKS.map((l) => l.text), ...NEAR_MISSES);
  planted.instances[0]!.logs.push(
    'connection to server failed: password=Planted-Log-Pw-456 sslmode=require',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEPlantedKeyMaterial\n-----END RSA PRIVATE KEY-----',
  );
  for (const c of [healthyScenario('payments'), failing, instanceDownScenario('billing'), planted]) {
    await seedCluster(world, c, NOW);
  }
  support = await grantClusterRole(world, 'cnpg-disk-support', SUPPORT_RULES, 'cnpg-disk:support');
  noProxy = await grantClusterRole(
    world,
    'cnpg-disk-no-proxy',
    SUPPORT_RULES.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== 'pods/proxy') })),
    'cnpg-disk:no-proxy',
  );
}, 240_000);

afterAll(async () => {
  await world?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('diagnose on the sample scenarios (support identity: no exec, no secrets)', () => {
  it('healthy cluster: nothing above info, exit 0', async () => {
    const { code, doc } = await diagnose(support, opts('payments', 'main'));
    expect(doc.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(code).toBe(ExitCode.OK);
    expect(doc.sources).toContainEqual(expect.objectContaining({ source: 'pod-proxy', outcome: 'used' }));
    expect(doc.sources).toContainEqual(expect.objectContaining({ source: 'kubelet-summary', outcome: 'used' }));
    expect(doc.sources).toContainEqual(expect.objectContaining({ source: 'exec', outcome: 'denied' }));
  });

  it('WAL archiving failing: archive failure is critical, the filling WAL volume a warning, both with commands', async () => {
    const { code, doc } = await diagnose(support, opts('orders', 'orders-db'));
    expect(code).toBe(ExitCode.CRITICAL);
    const archive = doc.findings.find((f) => f.code === 'ARCHIVE_FAILING');
    expect(archive).toMatchObject({ severity: 'critical', subject: 'orders/orders-db/orders-db-1' });
    expect(archive?.message).toContain('212 WAL files wait');
    expect(archive?.command).toBe('kubectl cnpg wal health orders-db -n orders');
    expect(doc.findings).toContainEqual(
      expect.objectContaining({
        severity: 'warning',
        code: 'VOLUME_NEAR_FULL',
        subject: 'orders/orders-db/orders-db-1-wal',
      }),
    );
    // critical first
    expect(doc.findings[0]?.severity).toBe('critical');
  });

  it('instance down with exit code 4: critical, the fix patches the WAL PVC; the kubelet still measures the full volume', async () => {
    const { code, doc } = await diagnose(support, opts('billing', 'ledger'));
    expect(code).toBe(ExitCode.CRITICAL);
    expect(doc.findings).toContainEqual(
      expect.objectContaining({
        severity: 'critical',
        code: 'WAL_DISK_FULL_EXIT',
        subject: 'billing/ledger/ledger-1',
        command: 'kubectl cnpg disk resize ledger -n billing --instance ledger-1 --volume wal --rescue --apply',
      }),
    );
    const full = doc.findings.find((f) => f.code === 'VOLUME_NEAR_FULL' && f.subject.endsWith('ledger-1-wal'));
    expect(full?.severity).toBe('critical');
    expect(full?.message).toContain('100.0% full');
  });

  it('wal health: per-instance verdicts and figures from /pg/status + /metrics through the pod proxy', async () => {
    const { deps, io } = depsFor(support);
    const code = await runWalHealth(
      {
        namespace: 'orders',
        cluster: 'orders-db',
        allNamespaces: false,
        source: 'auto',
        concurrency: 4,
        measure: true,
        output: 'json',
        verbose: false,
      },
      deps,
    );
    expect(code).toBe(ExitCode.CRITICAL);
    const doc = JSON.parse(io.out.join('')) as {
      kind: string;
      clusters: {
        instances: {
          pod: string;
          verdict: string;
          archiver?: { failedCount: number };
          readyFiles?: number;
          slots?: unknown[];
          walDirBytes?: string;
        }[];
      }[];
    };
    expect(doc.kind).toBe('WalHealthReport');
    const [p1, p2] = doc.clusters[0]!.instances;
    expect(p1).toMatchObject({
      pod: 'orders-db-1',
      verdict: 'critical',
      readyFiles: 212,
      walDirBytes: String(111 * 1024 * 1024),
    });
    expect(p1?.archiver?.failedCount).toBe(1534);
    expect(p2).toMatchObject({ pod: 'orders-db-2', verdict: 'healthy', readyFiles: 0, slots: [] });
  });
});

describe('RBAC: a user without pods/proxy', () => {
  it('is told that get pods/proxy is denied, and wal health cannot evaluate without a WAL source', async () => {
    const { deps } = depsFor(noProxy);
    const run = runWalHealth(
      {
        namespace: 'orders',
        cluster: 'orders-db',
        allNamespaces: false,
        source: 'auto',
        concurrency: 4,
        measure: true,
        output: 'json',
        verbose: false,
      },
      deps,
    );
    await expect(run).rejects.toBeInstanceOf(CliError);
    const err = (await run.catch((e: unknown) => e)) as CliError;
    expect(err.exitCode).toBe(ExitCode.UNKNOWN);
    expect(err.suggestions.join('\n')).toContain('grant "get pods/proxy in namespace orders"');
    expect(err.suggestions.join('\n')).toContain('grant "get, create pods/exec in namespace orders"');
  });

  it('diagnose still judges the volumes (kubelet summary) and lists the denied pod proxy', async () => {
    const { doc } = await diagnose(noProxy, opts('orders', 'orders-db'));
    expect(doc.sources).toContainEqual(
      expect.objectContaining({
        source: 'pod-proxy',
        outcome: 'denied',
        permission: 'get pods/proxy in namespace orders',
      }),
    );
    expect(doc.findings.map((f) => f.code)).toContain('VOLUME_NEAR_FULL');
    expect(doc.findings.map((f) => f.code)).not.toContain('ARCHIVE_FAILING');
  });
});

describe('support bundles', () => {
  it('round trip: disk status, wal health and diagnose give the same findings offline', async () => {
    const file = join(tmp, 'orders.tar.gz');
    const live = await diagnose(support, opts('orders', 'orders-db', { bundle: file }));
    expect(live.io.err.join('')).toContain(`bundle written: ${file}`);
    const offline = await diagnose(
      support,
      opts('', '', { fromBundle: file, namespace: undefined, cluster: undefined }),
    );
    expect(offline.doc.findings.map(key)).toEqual(live.doc.findings.map(key));
    expect(offline.doc.findings).toEqual(live.doc.findings);
    expect(offline.code).toBe(live.code);

    // disk status and wal health: same documents live and offline (apart from where they came from).
    for (const run of [runDiskStatus, runWalHealth] as const) {
      const a = depsFor(support);
      const b = depsFor(support);
      const base = {
        allNamespaces: false,
        source: 'auto' as const,
        concurrency: 4,
        measure: true,
        output: 'json' as const,
        verbose: false,
      };
      const ca = await run({ ...base, namespace: 'orders', cluster: 'orders-db' }, a.deps);
      const cb = await run({ ...base, fromBundle: file }, b.deps);
      expect(cb).toBe(ca);
      const strip = (t: string) => {
        const d = JSON.parse(t) as Record<string, unknown>;
        delete d['origin'];
        delete d['collectedAt'];
        delete d['sources'];
        delete d['problems'];
        return JSON.parse(JSON.stringify(d, (k, v: unknown) => (k === 'observedAt' ? undefined : v))) as unknown;
      };
      expect(strip(b.io.out.join(''))).toEqual(strip(a.io.out.join('')));
    }

    const snap = await readBundle(file);
    expect(snap.clusters.map((c) => c.name)).toEqual(['orders-db']);
    expect(snap.clusters[0]?.measurements.find((m) => m.pod === 'orders-db-1')?.wal?.readyFiles).toBe(212);

    const files = extract(file);
    const names = [...files.keys()].map((p) => p.replace(/^[^/]+\//, '')).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'snapshot.json',
        'manifest.json',
        'diagnosis.txt',
        'versions.json',
        'storageclasses.yaml',
        'persistentvolumes.yaml',
        'orders/orders-db/cluster.yaml',
        'orders/orders-db/pods.yaml',
        'orders/orders-db/pvcs.yaml',
        'orders/orders-db/events.yaml',
        'orders/orders-db/facts.json',
        'orders/orders-db/orders-db-1/pg-status.json',
        'orders/orders-db/orders-db-1/metrics.txt',
        'orders/orders-db/orders-db-1/postgres.log',
        'orders/orders-db/orders-db-2/postgres.log',
      ]),
    );
    const manifest = JSON.parse([...files].find(([p]) => p.endsWith('/manifest.json'))?.[1] ?? '{}') as {
      secretsRead: boolean;
      entries: { path: string; bytes: number }[];
      failed: unknown[];
    };
    expect(manifest.secretsRead).toBe(false);
    expect(manifest.entries.length).toBe(files.size - 1);
    expect(manifest.failed).toEqual([]);
    const versions = [...files].find(([p]) => p.endsWith('/versions.json'))?.[1] ?? '';
    expect(versions).toContain('ghcr.io/cloudnative-pg/cloudnative-pg:1.29.1');
    expect(versions).toContain('"instanceManagerVersion": "1.29.1"');
    expect(versions).toContain(world.api.versions.k8s);
    const pvs = [...files].find(([p]) => p.endsWith('/persistentvolumes.yaml'))?.[1] ?? '';
    expect(pvs).toContain('pvc-orders-orders-db-1-wal');
    expect(pvs).not.toContain('pvc-payments');
  });

  it('redacts planted credentials (env, connection string, log, private key); --no-redact keeps them', async () => {
    const planted = [
      'Planted-Env-Pw-123',
      'Planted-Uri-Pw-789',
      'Planted-Log-Pw-456',
      'MIIEPlantedKeyMaterial',
      'Planted-Aws-Secret-1',
      'Planted-PgPass-2',
      ...LEAKS.map((l) => l.secret),
    ];
    const file = join(tmp, 'vault.tar.gz');
    await diagnose(support, opts('secrets-test', 'vault', { bundle: file }));
    const files = extract(file);
    const all = [...files.values()].join('\n');
    for (const p of planted) expect(all).not.toContain(p);
    expect(all).toContain('[REDACTED]');
    const log = [...files].find(([p]) => p.endsWith('vault-1/postgres.log'))?.[1] ?? '';
    for (const n of NEAR_MISSES) expect(log).toContain(n);
    expect(all).not.toContain('"kind":"Cluster","metadata"'); // last-applied-configuration is gone
    // the analysis still reads the redacted snapshot
    expect((await readBundle(file)).clusters[0]?.pods[0]?.metadata?.name).toBe('vault-1');

    const raw = join(tmp, 'vault-raw.tar.gz');
    await diagnose(support, opts('secrets-test', 'vault', { bundle: raw, redact: false }));
    const rawAll = [...extract(raw).values()].join('\n');
    for (const p of planted) expect(rawAll).toContain(p);
  });

  it('reads no Secret and makes no mutating request (audit log)', async () => {
    const file = join(tmp, 'billing.tar.gz');
    const since = new Date().toISOString();
    await diagnose(support, opts('billing', 'ledger', { bundle: file }));
    await new Promise((r) => setTimeout(r, 300));
    const events = (await world.api.readAudit()).filter(
      (e) => e.user.username === 'cnpg-disk-support-user' && e.requestReceivedTimestamp >= since,
    );
    expect(events.length).toBeGreaterThan(5);
    expect(events.filter((e) => e.objectRef?.resource === 'secrets')).toEqual([]);
    const mutating = events.filter(
      (e) =>
        ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb) &&
        e.objectRef?.resource !== 'selfsubjectaccessreviews',
    );
    expect(mutating).toEqual([]);
    // logs of the crash-looping instance: current and previous
    const files = extract(file);
    const prev = [...files].find(([p]) => p.endsWith('ledger-1/postgres.previous.log'))?.[1] ?? '';
    expect(prev).toContain('No space left on device');
  });

  it('--bundle with --source prometheus and no --prometheus-url: a usage error before anything is collected', async () => {
    const { deps } = depsFor(support);
    const file = join(mkdtempSync(join(tmpdir(), 'cnpg-diag-prom-')), 'b.tar.gz');
    await expect(runDiagnose(opts('x', 'y', { bundle: file, source: 'prometheus' }), deps)).rejects.toMatchObject({
      exitCode: ExitCode.USAGE,
      message: '--source prometheus needs --prometheus-url',
    });
    expect(existsSync(file)).toBe(false);
  });

  it('refuses --bundle together with --from-bundle', async () => {
    const { deps } = depsFor(support);
    await expect(
      runDiagnose(opts('x', 'y', { bundle: 'a.tar.gz', fromBundle: 'b.tar.gz' }), deps),
    ).rejects.toMatchObject({
      exitCode: ExitCode.USAGE,
    });
  });
});
