// The pod-proxy source's port-forward fallback (src/sources/port-forward.ts)
// against a real kubelet and containerd streaming server.
//
// The API server's pod proxy reaches an instance's ports 8000 (/pg/status)
// and 9187 (/metrics) over the pod network; a port-forward goes API server →
// kubelet → containerd, which dials the port inside the pod's own network
// namespace. So an iptables REJECT inside the cluster's network namespace
// (OUTPUT chain, destination the pod IP, those two ports) cuts the proxy for
// real and leaves port-forward working. The CLI must then read the same
// facts over port-forward, say so in `sources`, and the WAL facts it reports
// must be what psql in the pod says. The API audit log is the independent
// witness of what the CLI did: proxy requests answered 503, port-forward
// sessions upgraded (101).
//
// The instance archives to the local object store with a wrong key, so the
// archiver has failures and a `.ready` backlog; it also has an inactive slot.
// Its metrics are computed at every scrape (metricsQueriesTTL 0s; by default
// CloudNativePG serves query results up to 30 s old), so the counters the CLI
// reads can be held against psql.
//
// Local cluster only: it needs root in the cluster's network namespace
// (CNPG_E2E_NETNS, as test/cluster/lib.sh) and the audit log.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SourceAttempt } from '../../src/model/snapshot.js';
import { Cli } from './lib/cli.js';
import { instancePods, psql, createCluster } from './lib/cnpg.js';
import { Kube, exec, waitFor } from './lib/kube.js';

const cfg = inject('e2e');
const kube = new Kube(cfg);
const cli = new Cli(cfg);
const CLUSTER = 'pgpf';
const SECRET = 'archive-creds';
const SLOT = 'e2e_pf_inactive';
/** CloudNativePG's status port and metrics exporter port (what the pod proxy asks for). */
const PORTS = [8000, 9187] as const;
const NETNS = `/run/netns/${process.env['CNPG_E2E_NETNS'] ?? 'cnpg-disk-e2e'}`;
/**
 * The longest the REJECT rule may live. kubelet's probes of the instance
 * (readiness and liveness: HTTPS on 8000, every 10 s, 3 failures in a row
 * allowed) take the same path as the pod proxy and fail while the rule is in
 * place. The rule lives for one CLI run: a few seconds, i.e. one failed probe,
 * at most two (a window under 20 s holds at most two probe times); three in a
 * row would mark the pod unready and restart postgres. A watchdog removes the
 * rule after this long whatever the CLI is doing.
 */
const RULE_MAX_MS = 18_000;
/** Between two rule windows: more than one probe period, so a probe succeeds in between. */
const RULE_GAP_MS = 12_000;

let ns = '';
let pod = '';
let podIp = '';
let ruleRemovedAt = 0;
let user = '';
let userKubeconfig = '';

// ---- the REJECT rule ---------------------------------------------------------

/** The rule without its chain: `-I OUTPUT 1 …`, `-C OUTPUT …`, `-D OUTPUT …`. */
function ruleSpec(): string[] {
  return [
    '-d',
    `${podIp}/32`,
    '-p',
    'tcp',
    '-m',
    'multiport',
    '--dports',
    PORTS.join(','),
    '-m',
    'comment',
    '--comment',
    `cnpg-disk e2e port-forward test ${ns}`,
    '-j',
    'REJECT',
    '--reject-with',
    'tcp-reset',
  ];
}

/** iptables inside the cluster's network namespace (as lib.sh's in_netns); -w: kube-proxy holds the lock at times. */
function iptables(args: string[]): number {
  try {
    execFileSync('nsenter', [`--net=${NETNS}`, '--', 'iptables', '-w', '10', ...args], { stdio: 'ignore' });
    return 0;
  } catch (e) {
    return (e as { status?: number }).status ?? 1;
  }
}

function ruleInPlace(): boolean {
  return podIp !== '' && iptables(['-C', 'OUTPUT', ...ruleSpec()]) === 0;
}

/** Removes every copy of our rule; synchronous, so it also runs from a timer and at process exit. */
function removeRule(): void {
  for (let i = 0; i < 5 && ruleInPlace(); i++) iptables(['-D', 'OUTPUT', ...ruleSpec()]);
  ruleRemovedAt = Date.now();
}

process.once('exit', () => {
  if (ruleInPlace()) removeRule();
});

/**
 * Runs fn (one CLI run) while the pod proxy cannot reach the instance. The
 * rule is removed when fn ends, by the watchdog after RULE_MAX_MS, in
 * afterAll, and at process exit, whichever comes first.
 */
async function withProxyCut<T>(fn: () => Promise<T>): Promise<T> {
  const wait = ruleRemovedAt + RULE_GAP_MS - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  expect(podIp).not.toBe('');
  if (iptables(['-I', 'OUTPUT', '1', ...ruleSpec()]) !== 0) {
    throw new Error(`could not add the REJECT rule in ${NETNS}`);
  }
  const added = Date.now();
  let expired = false;
  const watchdog = setTimeout(() => {
    expired = true;
    removeRule();
  }, RULE_MAX_MS);
  let result: T;
  try {
    result = await fn();
  } finally {
    clearTimeout(watchdog);
    removeRule();
    console.error(`[e2e] port-forward: the REJECT rule lived ${((ruleRemovedAt - added) / 1000).toFixed(1)} s`);
    expect(ruleInPlace(), 'the REJECT rule is gone').toBe(false);
  }
  if (expired) {
    // Not a verdict on the CLI: the proxy was not cut for its whole run (a very loaded machine).
    throw new Error(`the CLI ran longer than the REJECT rule may live (${RULE_MAX_MS / 1000} s); run again`);
  }
  return result;
}

// ---- the API audit log (what the API server did for the CLI) -------------------

interface AuditEvent {
  auditID: string;
  requestURI: string;
  user: { username: string };
  responseStatus?: { code?: number };
}

function auditOffset(): number {
  return statSync(cfg.auditLog ?? '').size;
}

/** Proxy and port-forward requests to our namespace's pods since `offset`, as "pod part of the URI → code". */
function podRequestsSince(offset: number, username?: string): Map<string, number> {
  const log = cfg.auditLog ?? '';
  const fd = openSync(log, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(Math.max(0, statSync(log).size - offset));
    readSync(fd, buf, 0, buf.length, offset);
    text = buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
  // One entry per request: the last stage seen (ResponseStarted, ResponseComplete).
  const byId = new Map<string, AuditEvent>();
  const prefix = `/api/v1/namespaces/${ns}/pods/`;
  for (const line of text.split('\n')) {
    if (!line.includes(prefix)) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line still being written
    }
    if (username !== undefined && e.user.username !== username) continue;
    if (!e.requestURI.includes('/proxy/') && !e.requestURI.includes('/portforward')) continue;
    byId.set(e.auditID, e);
  }
  const out = new Map<string, number>();
  for (const e of byId.values()) out.set(e.requestURI.slice(prefix.length), e.responseStatus?.code ?? 0);
  return out;
}

/** The pod-proxy source's requests: /pg/status over https (the probes' scheme), /metrics over http. */
const PROXY_STATUS = () => `https:${pod}:8000/proxy/pg/status`;
const PROXY_METRICS = () => `${pod}:9187/proxy/metrics`;
const FORWARD_STATUS = () => `${pod}/portforward?ports=8000`;
const FORWARD_METRICS = () => `${pod}/portforward?ports=9187`;
/** What the API server did for a run whose proxy could not reach the pod and that fell back to port-forward. */
const CUT_AND_FORWARDED = () => ({
  [PROXY_STATUS()]: 503,
  [PROXY_METRICS()]: 503,
  [FORWARD_STATUS()]: 101,
  [FORWARD_METRICS()]: 101,
});

/** The audit log holds exactly `expected` for our pods since `offset` (it is written as requests finish). */
async function expectAudit(offset: number, expected: Record<string, number>, username?: string): Promise<void> {
  let seen = new Map<string, number>();
  await waitFor(
    'the audit log to record the requests to the pod',
    kube.t(20_000),
    () => {
      seen = podRequestsSince(offset, username);
      return Promise.resolve(Object.keys(expected).every((k) => seen.has(k)) ? true : undefined);
    },
    () => Promise.resolve(JSON.stringify(Object.fromEntries(seen))),
    500,
  );
  expect(Object.fromEntries(seen)).toEqual(expected);
}

// ---- the facts, from PostgreSQL and from the CLI ---------------------------------

interface PgFacts {
  archived: number;
  failed: number;
  lastArchivedWal: string | null;
  lastFailedWal: string | null;
  /** epoch milliseconds, microseconds as the fraction, as text */
  lastArchivedMs: string | null;
  lastFailedMs: string | null;
  ready: number;
  slots: { name: string; type: string; active: boolean; walStatus: string; retained: string }[];
}

const FACTS_SQL = `SELECT json_build_object(
  'archived', a.archived_count,
  'failed', a.failed_count,
  'lastArchivedWal', a.last_archived_wal,
  'lastFailedWal', a.last_failed_wal,
  'lastArchivedMs', (extract(epoch FROM a.last_archived_time) * 1000)::text,
  'lastFailedMs', (extract(epoch FROM a.last_failed_time) * 1000)::text,
  'ready', (SELECT count(*) FROM pg_ls_dir('pg_wal/archive_status') f WHERE f LIKE '%.ready'),
  'slots', (SELECT coalesce(json_agg(json_build_object(
      'name', slot_name, 'type', slot_type, 'active', active, 'walStatus', wal_status,
      'retained', pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text) ORDER BY slot_name), '[]')
    FROM pg_replication_slots))
FROM pg_stat_archiver a`;

async function pgFacts(): Promise<PgFacts> {
  return JSON.parse(await psql(kube, ns, pod, FACTS_SQL)) as PgFacts;
}

/** The facts that do not move on their own here (no segment is written while the CLI runs). */
function fixedPart(f: PgFacts): unknown {
  return {
    archived: f.archived,
    lastArchivedWal: f.lastArchivedWal,
    lastFailedWal: f.lastFailedWal,
    ready: f.ready,
    slots: f.slots.map((s) => ({ ...s, retained: undefined })),
  };
}

interface CliWal {
  pod: string;
  source?: string;
  archiver?: {
    archivedCount: number | null;
    failedCount: number | null;
    lastArchivedWal?: string;
    lastArchivedTime?: string;
    lastFailedWal?: string;
    lastFailedTime?: string;
  };
  readyFiles?: number;
  slots?: { name: string; type: string; active: boolean; retainedBytes?: string; walStatus?: string }[];
}

interface Doc {
  kind: string;
  sources: SourceAttempt[];
}

interface WalDoc extends Doc {
  clusters: { instances: CliWal[] }[];
}

interface DiskDoc extends Doc {
  clusters: {
    instances: { pod: string; wal?: Omit<CliWal, 'pod'> }[];
    volumes: { pvc: string; filesystem?: { source: string } }[];
  }[];
}

/** n lies between what psql said just before (lo) and just after (hi) the CLI ran. */
function expectBetween(what: string, n: number, lo: number, hi: number): void {
  expect(n, `${what} ≥ psql before`).toBeGreaterThanOrEqual(lo);
  expect(n, `${what} ≤ psql after`).toBeLessThanOrEqual(hi);
}

/**
 * The CLI's WAL facts against PostgreSQL's, read just before (a) and just
 * after (b) the CLI. The archiver retries the failing segment in bursts about
 * a minute apart, so the failed count and time may move during the run: the
 * CLI's value must then lie between the two readings (it equals both when
 * nothing moved). Slot retention (current LSN − restart_lsn) grows with any
 * WAL written: the same. Everything else must be equal.
 */
function expectSameWal(got: CliWal | undefined, a: PgFacts, b: PgFacts): void {
  expect(fixedPart(b), 'only the failure count and time move while the CLI runs').toEqual(fixedPart(a));
  expect(got, 'the instance in the report').toBeDefined();
  const w = got as CliWal;
  expect(w.archiver?.archivedCount).toBe(a.archived);
  expectBetween('failedCount', w.archiver?.failedCount ?? -1, a.failed, b.failed);
  expect(w.archiver?.lastArchivedWal ?? null).toBe(a.lastArchivedWal);
  expect(w.archiver?.lastFailedWal ?? null).toBe(a.lastFailedWal);
  // PostgreSQL keeps microseconds, the CLI milliseconds.
  for (const [name, cliTime, lo, hi] of [
    ['lastArchivedTime', w.archiver?.lastArchivedTime, a.lastArchivedMs, b.lastArchivedMs],
    ['lastFailedTime', w.archiver?.lastFailedTime, a.lastFailedMs, b.lastFailedMs],
  ] as const) {
    if (lo === null) expect(cliTime, name).toBeUndefined();
    else {
      expect(cliTime, name).toBeDefined();
      expectBetween(name, Date.parse(cliTime ?? ''), Math.floor(Number(lo)), Math.floor(Number(hi)));
    }
  }
  expect(w.readyFiles).toBe(a.ready);
  const identity = (s: { name: string; type: string; active: boolean; walStatus?: string }) => ({
    name: s.name,
    type: s.type,
    active: s.active,
    walStatus: s.walStatus,
  });
  expect((w.slots ?? []).map(identity)).toEqual(a.slots.map(identity));
  for (const s of w.slots ?? []) {
    const lo = Number(a.slots.find((x) => x.name === s.name)?.retained);
    const hi = Number(b.slots.find((x) => x.name === s.name)?.retained);
    expectBetween(`retainedBytes of ${s.name}`, Number(s.retainedBytes), lo, hi);
  }
}

/** psql, then `read` (the CLI), then psql again. */
async function measured<T>(read: () => Promise<T>): Promise<{ doc: T; a: PgFacts; b: PgFacts }> {
  const a = await pgFacts();
  const doc = await read();
  const b = await pgFacts();
  return { doc, a, b };
}

function podProxyAttempts(doc: Doc): SourceAttempt[] {
  return doc.sources.filter((s) => s.source === 'pod-proxy');
}

function walOf(doc: WalDoc): CliWal | undefined {
  return doc.clusters[0]?.instances.find((i) => i.pod === pod);
}

/** How collect.ts records a pod-proxy read that went over the fallback, with why the proxy failed (the 503 of the cut). */
const VIA_PORT_FORWARD = {
  source: 'pod-proxy',
  fact: 'wal',
  outcome: 'used',
  detail: expect.stringMatching(/^1 instance\(s\) via port-forward \(the pod proxy failed: .*503/),
};

describe.runIf(cfg.local)('port-forward fallback through a real kubelet', () => {
  beforeAll(async () => {
    ns = await kube.createNamespace('pfwd');
    const store = cfg.objectStore;
    if (!store) throw new Error('the local cluster has no object store (cluster.env)');
    await kube.apply(
      [
        'apiVersion: v1',
        'kind: Secret',
        `metadata: { name: ${SECRET}, namespace: ${ns} }`,
        'stringData:',
        `  AZURE_CONNECTION_STRING: ${JSON.stringify(store.badConnectionString)}`,
      ].join('\n'),
    );
    await createCluster(kube, cfg, ns, {
      name: CLUSTER,
      instances: 1,
      dataSize: '256Mi',
      walSize: '256Mi',
      archive: { destinationPath: `${store.endpoint}/${ns}`, secret: SECRET, key: 'AZURE_CONNECTION_STRING' },
      parameters: { archive_timeout: '0' },
      extraSpec: ['  monitoring:', "    metricsQueriesTTL: '0s'"],
    });
    pod = (await instancePods(kube, ns, CLUSTER)).find((p) => p.role === 'primary')?.name ?? '';
    expect(pod).not.toBe('');
    podIp = (await kube.ok(['-n', ns, 'get', 'pod', pod, '-o', 'jsonpath={.status.podIP}'])).trim();
    expect(podIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // Facts worth comparing: an inactive slot retaining WAL, failed archive
    // attempts (wrong key) and two segments waiting as .ready.
    await psql(kube, ns, pod, `SELECT pg_create_physical_replication_slot('${SLOT}', true)`);
    await psql(kube, ns, pod, 'CREATE TABLE fill AS SELECT g FROM generate_series(1, 100000) g');
    await psql(kube, ns, pod, 'SELECT pg_switch_wal()');
    await psql(kube, ns, pod, 'INSERT INTO fill VALUES (0)');
    await psql(kube, ns, pod, 'SELECT pg_switch_wal()');
    await waitFor('failed archive attempts and 2 .ready files', kube.t(3 * 60_000), async () => {
      const f = await pgFacts();
      return f.failed > 0 && f.ready >= 2 && f.slots.length === 1 ? f : undefined;
    });
    // A user who may read through the pod proxy and exec, but not port-forward.
    user = `cnpg-e2e-pf-${ns.slice(-6)}`;
    const minted = await exec('bash', [join(cfg.repoDir, 'test/cluster/kubeconfig-for.sh'), user]);
    expect(minted.code, minted.stderr).toBe(0);
    userKubeconfig = minted.stdout.trim();
    await kube.apply(
      [
        'apiVersion: rbac.authorization.k8s.io/v1',
        'kind: Role',
        `metadata: { name: no-port-forward, namespace: ${ns} }`,
        'rules:',
        "- { apiGroups: [''], resources: [pods, persistentvolumeclaims, events], verbs: [get, list] }",
        "- { apiGroups: [''], resources: [pods/proxy], verbs: [get] }",
        "- { apiGroups: [''], resources: [pods/exec], verbs: [get, create] }",
        '- { apiGroups: [postgresql.cnpg.io], resources: [clusters], verbs: [get, list] }',
        '---',
        'apiVersion: rbac.authorization.k8s.io/v1',
        'kind: RoleBinding',
        `metadata: { name: no-port-forward, namespace: ${ns} }`,
        'roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: no-port-forward }',
        `subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${user} }]`,
      ].join('\n'),
    );
  });

  afterAll(async () => {
    if (ruleInPlace()) removeRule();
    cli.dispose();
    if (userKubeconfig) {
      for (const ext of ['kubeconfig', 'crt', 'key'])
        rmSync(userKubeconfig.replace(/kubeconfig$/, ext), { force: true });
    }
    if (ns) await kube.deleteNamespace(ns);
  });

  it('control: without the rule the pod proxy answers and no port-forward is opened', async () => {
    const offset = auditOffset();
    const { doc, a, b } = await measured(() => cli.json<WalDoc>(['wal', 'health', '-n', ns, CLUSTER]));
    expect(doc.kind).toBe('WalHealthReport');
    expect(podProxyAttempts(doc)).toEqual([
      { source: 'pod-proxy', fact: 'wal', outcome: 'used', detail: '1 instance(s)' },
    ]);
    expect(walOf(doc)?.source).toBe('pod-proxy');
    expectSameWal(walOf(doc), a, b);
    await expectAudit(offset, { [PROXY_STATUS()]: 200, [PROXY_METRICS()]: 200 });
  });

  it('wal health: the proxy is cut (503), the same facts come over port-forward, and the report says so', async () => {
    const offset = auditOffset();
    const { doc, a, b } = await measured(() =>
      withProxyCut(() => cli.json<WalDoc>(['wal', 'health', '-n', ns, CLUSTER])),
    );
    expect(doc.kind).toBe('WalHealthReport');
    // collect.ts records a fallback that answered as one pod-proxy attempt, "used … via port-forward";
    // the proxy's own failure is not a separate attempt then (the audit log below shows it).
    expect(podProxyAttempts(doc)).toEqual([VIA_PORT_FORWARD]);
    // /pg/status and /metrics both answered (counters known), so no other source was asked for WAL facts.
    expect(walOf(doc)?.source).toBe('pod-proxy');
    expect(doc.sources.filter((s) => s.fact === 'wal' && s.source !== 'pod-proxy')).toEqual([]);
    expectSameWal(walOf(doc), a, b);
    await expectAudit(offset, CUT_AND_FORWARDED());
  });

  it('wal health --source pod-proxy: only the proxy and its fallback, the same facts', async () => {
    const offset = auditOffset();
    const { doc, a, b } = await measured(() =>
      withProxyCut(() => cli.json<WalDoc>(['wal', 'health', '-n', ns, CLUSTER, '--source', 'pod-proxy'])),
    );
    expect(doc.sources).toEqual([VIA_PORT_FORWARD]);
    expectSameWal(walOf(doc), a, b);
    await expectAudit(offset, CUT_AND_FORWARDED());
  });

  it('disk status: WAL facts over port-forward, filesystems by exec; --source pod-proxy alone measures no volume', async () => {
    let offset = auditOffset();
    const { doc, a, b } = await measured(() =>
      withProxyCut(() => cli.json<DiskDoc>(['disk', 'status', '-n', ns, CLUSTER])),
    );
    expect(doc.kind).toBe('DiskStatus');
    expect(podProxyAttempts(doc)).toEqual([VIA_PORT_FORWARD]);
    expect(doc.sources).toContainEqual({ source: 'exec', fact: 'filesystem', outcome: 'used', detail: '2 volume(s)' });
    const inst = doc.clusters[0]?.instances.find((i) => i.pod === pod);
    expect(inst?.wal?.source).toBe('pod-proxy');
    expectSameWal(inst?.wal ? { pod, ...inst.wal } : undefined, a, b);
    const volumes = doc.clusters[0]?.volumes ?? [];
    expect(volumes).toHaveLength(2);
    for (const v of volumes) expect(v.filesystem?.source, v.pvc).toBe('exec');
    await expectAudit(offset, CUT_AND_FORWARDED());

    // Stock CloudNativePG publishes no cnpg_disk_* series, so the pod-proxy
    // source (and its fallback) has no filesystem facts: disk status forced
    // to it reads over port-forward, then cannot evaluate (exit 3, one line).
    offset = auditOffset();
    const r = await withProxyCut(() =>
      cli.run(['disk', 'status', '-n', ns, CLUSTER, '-o', 'json', '--source', 'pod-proxy']),
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: no volume could be measured: .*pod-proxy answered with wal facts only/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await expectAudit(offset, CUT_AND_FORWARDED());
  });

  it('without pods/portforward: the proxy is recorded unreachable and the permission named; exec answers', async () => {
    const restricted = new Cli(cfg, userKubeconfig);
    try {
      const offset = auditOffset();
      const { doc, a, b } = await measured(() =>
        withProxyCut(() => restricted.json<WalDoc>(['wal', 'health', '-n', ns, CLUSTER])),
      );
      const attempts = podProxyAttempts(doc);
      expect(attempts).toHaveLength(2);
      // Port-forward streams over a WebSocket: get and create are both needed (src/sources/permissions.ts).
      expect(attempts).toContainEqual({
        source: 'pod-proxy',
        fact: 'wal',
        outcome: 'denied',
        permission: `get, create pods/portforward in namespace ${ns}`,
        detail: 'port-forward fallback when the pod proxy cannot reach a pod',
        scope: ns,
      });
      const unreachable = attempts.find((s) => s.outcome === 'unreachable');
      expect(unreachable?.fact).toBe('wal');
      // "nor over port-forward" is added only when a forward was tried.
      expect(unreachable?.detail).toMatch(/^1 pod\(s\) did not answer through the pod proxy: .*HTTP 503/);
      expect(unreachable?.detail).not.toContain('port-forward');
      expect(doc.sources).toContainEqual({ source: 'exec', fact: 'wal', outcome: 'used', detail: '1 instance(s)' });
      expect(walOf(doc)?.source).toBe('exec');
      expectSameWal(walOf(doc), a, b);
      // The API server saw the two proxy requests fail to reach the pod, and no port-forward from anyone.
      await expectAudit(offset, { [PROXY_STATUS()]: 503, [PROXY_METRICS()]: 503 }, user);
      expect([...podRequestsSince(offset).keys()].filter((k) => k.includes('/portforward'))).toEqual([]);
    } finally {
      restricted.dispose();
    }
  });

  it('the short rule windows never restarted the instance', async () => {
    const p = await kube.json<{
      status: { containerStatuses?: { name: string; ready: boolean; restartCount: number }[] };
    }>(['-n', ns, 'get', 'pod', pod]);
    const pg = p.status.containerStatuses?.find((c) => c.name === 'postgres');
    expect(pg?.restartCount).toBe(0);
    expect(ruleInPlace()).toBe(false);
  });
});
