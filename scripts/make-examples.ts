// Makes the sample support bundles in examples/ on the REAL end-to-end
// cluster (test/cluster: kubelet, containerd, CloudNativePG's operator and
// instance managers, PostgreSQL 15, Azurite as the object store):
//
//   npm run cluster:up && npx tsx scripts/make-examples.ts
//
// Three clusters, each in its own namespace, each put into its state by the
// database itself (no simulated host, no hand-written status):
//   healthy                    2 instances, WAL volume and a tablespace, archiving to the store
//   wal-archive-failing        2 instances archiving with a wrong key: barman-cloud fails for
//                              real, `.ready` files pile up on the primary's WAL volume
//   instance-down-exit-code-4  1 instance, an inactive slot holds WAL until the WAL volume is
//                              full and the instance manager exits with code 4
// Then `kubectl-cnpg diagnose --bundle` runs for each as a read-only support
// identity (pod and node proxy, no exec, no secrets) minted by test/cluster/kubeconfig-for.sh.
// Sizes are small so the bundles stay small; the namespaces are removed at
// the end unless KEEP=1. REUSE=1 keeps clusters made by an earlier KEEP=1 run
// and only writes the bundles again (after a change to the bundle writer).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localConfig } from '../test/e2e/lib/config.js';
import { createCluster, instancePods, psql } from '../test/e2e/lib/cnpg.js';
import { Kube, exec, waitFor } from '../test/e2e/lib/kube.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repo, 'examples');
const cfg = localConfig(repo);
const kube = new Kube(cfg);
const SECRET = 'archive-creds';
const SUPPORT = 'cnpg-disk-support';

const SUPPORT_RULES = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${SUPPORT} }
rules:
- { apiGroups: [postgresql.cnpg.io], resources: [clusters], verbs: [get, list] }
- { apiGroups: [""], resources: [pods, persistentvolumeclaims, persistentvolumes, events, namespaces], verbs: [get, list] }
- { apiGroups: [""], resources: [pods/log, pods/proxy, nodes/proxy], verbs: [get] }
- { apiGroups: [apps], resources: [deployments], verbs: [list] }
- { apiGroups: [storage.k8s.io], resources: [storageclasses], verbs: [get, list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${SUPPORT} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${SUPPORT} }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: User, name: ${SUPPORT} }
`;

function say(text: string): void {
  process.stderr.write(`[make-examples] ${text}\n`);
}

async function namespace(name: string): Promise<string> {
  await kube.run(['delete', 'namespace', name, '--wait=true', '--timeout=300s'], { timeoutMs: 320_000 });
  await kube.ok(['create', 'namespace', name]);
  return name;
}

async function archiveSecret(ns: string, connectionString: string): Promise<void> {
  await kube.ok([
    '-n',
    ns,
    'create',
    'secret',
    'generic',
    SECRET,
    `--from-literal=connectionString=${connectionString}`,
  ]);
}

async function primaryOf(ns: string, cluster: string): Promise<string> {
  const pods = await instancePods(kube, ns, cluster);
  const p = pods.find((x) => x.role === 'primary');
  if (!p) throw new Error(`${ns}/${cluster} has no primary`);
  return p.name;
}

/** Closes WAL segments on the primary until its `.ready` count reaches `count`. */
async function pileUpReady(ns: string, pod: string, count: number): Promise<void> {
  await psql(kube, ns, pod, 'CREATE TABLE IF NOT EXISTS orders (id serial, pad text)');
  await waitFor(`${count} .ready files on ${pod}`, kube.t(6 * 60_000), async () => {
    await psql(kube, ns, pod, "INSERT INTO orders (pad) SELECT repeat('o', 200) FROM generate_series(1, 2000)");
    await psql(kube, ns, pod, 'SELECT pg_switch_wal()');
    const r = await kube.exec(ns, pod, 'postgres', [
      'sh',
      '-c',
      'ls /var/lib/postgresql/wal/pg_wal/archive_status/ | grep -c "\\.ready$" || true',
    ]);
    return Number(r.stdout.trim()) >= count ? true : undefined;
  });
}

async function healthy(): Promise<{ ns: string; name: string }> {
  const ns = await namespace('shop');
  const name = 'pg-shop';
  await archiveSecret(ns, cfg.objectStore!.connectionString);
  await createCluster(kube, cfg, ns, {
    name,
    instances: 2,
    dataSize: '512Mi',
    walSize: '256Mi',
    tablespaces: [{ name: 'idx', size: '128Mi' }],
    archive: {
      destinationPath: `${cfg.objectStore!.endpoint}/examples/${ns}`,
      secret: SECRET,
      key: 'connectionString',
    },
  });
  const primary = await primaryOf(ns, name);
  await psql(
    kube,
    ns,
    primary,
    "CREATE TABLE items AS SELECT g AS id, repeat('i', 300) AS pad FROM generate_series(1, 50000) g",
  );
  await psql(kube, ns, primary, 'SELECT pg_switch_wal()');
  return { ns, name };
}

async function archiveFailing(): Promise<{ ns: string; name: string }> {
  const ns = await namespace('billing');
  const name = 'pg-billing';
  await archiveSecret(ns, cfg.objectStore!.badConnectionString);
  await createCluster(kube, cfg, ns, {
    name,
    instances: 2,
    dataSize: '512Mi',
    walSize: '256Mi',
    archive: {
      destinationPath: `${cfg.objectStore!.endpoint}/examples/${ns}`,
      secret: SECRET,
      key: 'connectionString',
    },
  });
  const primary = await primaryOf(ns, name);
  // 256Mi holds 16 segments: 11 waiting to be archived fill it past the 80 % of the default trigger.
  await pileUpReady(ns, primary, 11);
  return { ns, name };
}

async function instanceDown(): Promise<{ ns: string; name: string }> {
  const ns = await namespace('ledger');
  const name = 'pg-ledger';
  await createCluster(kube, cfg, ns, { name, instances: 1, dataSize: '512Mi', walSize: '128Mi' });
  const pod = `${name}-1`;
  await psql(kube, ns, pod, "SELECT pg_create_physical_replication_slot('forgotten_standby', true)");
  await kube.exec(
    ns,
    pod,
    'postgres',
    [
      'psql',
      '-d',
      'postgres',
      '-Xq',
      '-c',
      'CREATE TABLE entries (pad text)',
      '-c',
      "DO $$ BEGIN FOR i IN 1..400 LOOP INSERT INTO entries SELECT repeat('x', 1000) FROM generate_series(1, 1000); COMMIT; END LOOP; END $$",
    ],
    300_000,
  );
  await waitFor(`${pod} to exit with code 4`, kube.t(6 * 60_000), async () => {
    const p = await kube.json<{
      status: {
        containerStatuses?: { name: string; ready: boolean; lastState: { terminated?: { exitCode: number } } }[];
      };
    }>(['-n', ns, 'get', 'pod', pod]);
    const c = p.status.containerStatuses?.find((x) => x.name === 'postgres');
    return c && !c.ready && c.lastState.terminated?.exitCode === 4 ? true : undefined;
  });
  return { ns, name };
}

/** With REUSE=1, an existing Cluster is taken as it is; otherwise `make` builds it. */
async function reuseOr(ns: string, name: string, make: () => Promise<{ ns: string; name: string }>) {
  if (process.env['REUSE'] === '1') {
    const r = await kube.run(['-n', ns, 'get', 'cluster.postgresql.cnpg.io', name]);
    if (r.code === 0) return { ns, name };
  }
  return make();
}

/**
 * The policies the samples carry in the Cluster annotation, so each shows the
 * engine at work: the shop grows its data volume by the defaults; billing
 * would grow its WAL volume (above 60 %) but its archive fails, so the
 * resize is blocked (blocked/archive-unhealthy).
 */
const POLICIES: Record<string, string> = {
  'shop/pg-shop': 'storage: { resize: { enabled: true, expansion: { limit: 2Gi } } }',
  'billing/pg-billing':
    'walStorage: { resize: { enabled: true, triggers: { usageThreshold: 60 }, expansion: { step: 64Mi, limit: 1Gi } } }',
};

async function annotatePolicy(ns: string, name: string): Promise<void> {
  const policy = POLICIES[`${ns}/${name}`];
  if (!policy) return;
  await kube.ok([
    '-n',
    ns,
    'annotate',
    '--overwrite',
    'cluster.postgresql.cnpg.io',
    name,
    `disk.cnpg-plugin.dev/resize-policy=${policy}`,
  ]);
}

async function main(): Promise<void> {
  if (!cfg.objectStore) throw new Error('the e2e cluster has no object store');
  say('building the CLI (npm run build)');
  execFileSync('npm', ['run', 'build'], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
  say('the three clusters (a few minutes each)');
  const made = [
    { file: 'healthy.tar.gz', ...(await reuseOr('shop', 'pg-shop', healthy)) },
    { file: 'wal-archive-failing.tar.gz', ...(await reuseOr('billing', 'pg-billing', archiveFailing)) },
    { file: 'instance-down-exit-code-4.tar.gz', ...(await reuseOr('ledger', 'pg-ledger', instanceDown)) },
  ];
  for (const e of made) await annotatePolicy(e.ns, e.name);
  await kube.apply(SUPPORT_RULES);
  const minted = await exec('bash', [join(repo, 'test/cluster/kubeconfig-for.sh'), SUPPORT]);
  if (minted.code !== 0) throw new Error(`kubeconfig-for.sh: ${minted.stderr}`);
  const kubeconfig = minted.stdout.trim();
  // CloudNativePG caches its metrics queries for 30 s: let the counters catch up.
  await new Promise((r) => setTimeout(r, 35_000));
  mkdirSync(out, { recursive: true });
  for (const e of made) {
    const file = join(out, e.file);
    rmSync(file, { force: true });
    const r = await exec(
      process.execPath,
      [
        join(repo, 'bin/run.js'),
        'diagnose',
        e.name,
        '-n',
        e.ns,
        '--bundle',
        file,
        '--force',
        '--kubeconfig',
        kubeconfig,
      ],
      { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 300_000 },
    );
    say(`${e.file}: diagnose exited ${r.code}`);
    if (![0, 1, 2].includes(r.code)) throw new Error(`diagnose --bundle ${e.file}: ${r.stderr}`);
  }
  if (process.env['KEEP'] !== '1') {
    for (const e of made) await kube.run(['delete', 'namespace', e.ns, '--wait=false']);
    await kube.run(['delete', 'clusterrolebinding,clusterrole', SUPPORT]);
  }
  say('done');
}

main().catch((e: unknown) => {
  process.stderr.write(`make-examples: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
