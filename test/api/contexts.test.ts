// Several kubeconfig contexts in one run (`--context a,b`, `--all-contexts`)
// against TWO real kube-apiservers (+ etcd), one kubeconfig holding:
//   alpha      server A, admin        beta       server B, admin
//   alpha2     server A, another admin (a third context for the bound)
//   down       an address where nothing listens (connection refused)
//   forbidden  server A, a user with no permission at all
//   EVIL       server B, a name with an escape sequence, BEL and a bidi override
// Proves: every row and document is labelled with its context; the run exits
// with the worst code of its contexts; an unreachable or forbidden context is
// a reported problem, not a failed run; at most --context-concurrency contexts
// are read at once (in-flight reads counted at the instance managers behind
// both servers' pod proxies); one context keeps the single-context output;
// unknown names and refused combinations are usage errors; hostile names
// never reach the terminal raw.
// Real: two API servers, RBAC, the pod proxy, tmpfs. Simulated: kubelets
// (statfs summaries) and instance managers / exporters behind the pod proxy.
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { createTestNetwork, type TestNetwork } from '../infra/testhost.js';
import { mergeKubeconfigs } from './harness.js';
import { cli, expectCleanError, json, requireBuiltCli, type CliResult } from '../helpers/cli.js';
import { metricsExporter, Seeder, type ClusterSpec, type SeededVolume } from './seed.js';

const EVIL = 'evil\u001b]0;pwned\u0007\u202ectx';
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0007\u001b\u202e]/;

interface Item {
  context: string;
  exitCode: number;
  report?: {
    kind: string;
    origin: { context?: string; server?: string };
    clusters: { name: string; instances?: unknown }[];
  };
  error?: { code: string; message: string; hints: string[] };
}
interface ListDoc {
  apiVersion: string;
  kind: string;
  summary: { contexts: number; evaluated: number; failed: number; exitCode: number };
  items: Item[];
}

describe('several contexts against two real API servers', { timeout: 180_000 }, () => {
  let apiA: ApiServerHandle;
  let apiB: ApiServerHandle;
  let netA: TestNetwork;
  let netB: TestNetwork;
  let seedA: Seeder;
  let seedB: Seeder;
  let dir: string;
  let kubeconfig: string;
  // The slow instance managers of namespace "slow" on both servers.
  let inFlight = 0;
  let maxInFlight = 0;
  let target = 1;

  const exporter = {
    port: 9187,
    handler: (_p: string, primary: boolean, vols: SeededVolume[]) => metricsExporter(vols, primary),
  };
  /**
   * /pg/status held until `target` reads are in flight (at most 1.5 s), then
   * answered: reads of different contexts meet here when they may, so the
   * highest count seen is the bound itself, not an accident of timing.
   */
  const slowStatus = (_pod: string, primary: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/pg/status') {
      res.writeHead(404);
      res.end();
      return;
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const started = Date.now();
    const tick = () => {
      if (inFlight < target && Date.now() - started < 1500) {
        setTimeout(tick, 20);
        return;
      }
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            isPrimary: primary,
            currentLsn: '0/5000060',
            lastArchivedWAL: '000000010000000000000004',
            lastArchivedWALTime: new Date().toISOString(),
          }),
        );
      }, 100);
    };
    tick();
  };

  async function seedServer(seed: Seeder, node: string, own: ClusterSpec[]): Promise<void> {
    await seed.storageClasses();
    await seed.node(node);
    const slow = Array.from({ length: 4 }, (_, i): ClusterSpec => ({
      namespace: 'slow',
      name: `s${i}`,
      instances: 1,
      nodes: [node],
      instanceManager: { port: 8000, handler: slowStatus },
    }));
    await Promise.all([...own, ...slow].map((c) => seed.cluster(c)));
  }

  beforeAll(async () => {
    requireBuiltCli();
    dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-contexts-'));
    await Promise.all([
      startApiServer().then((a) => (apiA = a)),
      startApiServer().then((a) => (apiB = a)),
      createTestNetwork().then((n) => (netA = n)),
      createTestNetwork().then((n) => (netB = n)),
    ]);
    [seedA, seedB] = await Promise.all([Seeder.create(apiA, netA), Seeder.create(apiB, netB)]);
    const audited = { audit: 'yes' };
    await Promise.all([
      seedServer(seedA, 'node-a', [
        // healthy: below every threshold, WAL facts from the exporter
        {
          namespace: 'shop',
          name: 'ok-a',
          nodes: ['node-a'],
          labels: audited,
          usage: { data: 0.2 },
          instanceManager: exporter,
        },
        // warning: data volume at 85 %
        {
          namespace: 'warn',
          name: 'w',
          nodes: ['node-a'],
          labels: audited,
          usage: { data: 0.85 },
          instanceManager: exporter,
        },
      ]),
      seedServer(seedB, 'node-b', [
        {
          namespace: 'shop',
          name: 'ok-b',
          nodes: ['node-b'],
          labels: audited,
          usage: { data: 0.2 },
          instanceManager: exporter,
        },
        // critical: data volume at 95 %
        {
          namespace: 'crit',
          name: 'c',
          nodes: ['node-b'],
          labels: audited,
          usage: { data: 0.95 },
          instanceManager: exporter,
        },
      ]),
    ]);
    const [a, a2, b, nobody] = await Promise.all([
      apiA.kubeconfigFor('ctx-admin-a', ['system:masters']),
      apiA.kubeconfigFor('ctx-admin-a2', ['system:masters']),
      apiB.kubeconfigFor('ctx-admin-b', ['system:masters']),
      apiA.kubeconfigFor('ctx-nobody'),
    ]);
    kubeconfig = await mergeKubeconfigs(join(dir, 'kubeconfig'), [
      { name: 'alpha', kubeconfig: a },
      { name: 'beta', kubeconfig: b },
      { name: 'alpha2', kubeconfig: a2 },
      { name: 'down', server: 'https://127.0.0.1:1' },
      { name: 'forbidden', kubeconfig: nobody },
      { name: EVIL, kubeconfig: b },
    ]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([seedA?.close(), seedB?.close()]);
    await Promise.all([apiA?.stop(), apiB?.stop(), netA?.close(), netB?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const run = (args: string[]): Promise<CliResult> => cli(args, { kubeconfig });
  const byContext = (doc: ListDoc) => new Map(doc.items.map((i) => [i.context, i]));

  it('--context a,b: one DiskStatusList, each item labelled and holding that server\u2019s DiskStatus', async () => {
    const r = await run(['disk', 'status', '-n', 'shop', '--context', 'alpha,beta', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json<ListDoc>(r);
    expect(doc).toMatchObject({
      apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
      kind: 'DiskStatusList',
      summary: { contexts: 2, evaluated: 2, failed: 0, exitCode: 0 },
    });
    expect(doc.items.map((i) => i.context)).toEqual(['alpha', 'beta']);
    const [alpha, beta] = doc.items;
    expect(alpha!.report).toMatchObject({ kind: 'DiskStatus', origin: { context: 'alpha', server: apiA.url } });
    expect(beta!.report).toMatchObject({ kind: 'DiskStatus', origin: { context: 'beta', server: apiB.url } });
    expect(alpha!.report!.clusters.map((c) => c.name)).toEqual(['ok-a']);
    expect(beta!.report!.clusters.map((c) => c.name)).toEqual(['ok-b']);
    // a repeated flag is the same request
    const repeated = await run([
      'disk',
      'status',
      '-n',
      'shop',
      '--context',
      'alpha',
      '--context',
      'beta',
      '-o',
      'yaml',
    ]);
    expect(repeated.code, repeated.stderr).toBe(0);
    expect(repeated.stdout).toMatch(/^kind: DiskStatusList$/m);
    expect(repeated.stdout).toMatch(/^ {2}- context: alpha$/m);
    expect(repeated.stdout).toMatch(/^ {2}- context: beta$/m);
  });

  it('tables: a CONTEXT column on every row, findings labelled [context], sources per context on stderr', async () => {
    const r = await run(['disk', 'status', '-A', '-l', 'audit=yes', '--context', 'alpha,beta']);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^CONTEXT\s+CLUSTER\s+INSTANCE\s/);
    const rows = lines.slice(1, lines.indexOf(''));
    expect(rows.length).toBe(4); // ok-a, w, ok-b, c: one data volume each
    expect(rows.filter((l) => /^alpha\s+(shop\/ok-a|warn\/w)\s/.test(l))).toHaveLength(2);
    expect(rows.filter((l) => /^beta\s+(shop\/ok-b|crit\/c)\s/.test(l))).toHaveLength(2);
    expect(r.stdout).toMatch(/^CRITICAL\s+\[beta\] crit\/c\//m);
    expect(r.stdout).toMatch(/^WARNING\s+\[alpha\] warn\/w\//m);
    expect(r.stderr).toMatch(/^context alpha: sources: /m);
    expect(r.stderr).toMatch(/^context beta: sources: /m);

    const w = await run(['wal', 'health', '-A', '-l', 'audit=yes', '--context', 'beta,alpha']);
    expect(w.code, w.stderr).toBe(2); // c's pg_wal lives on its 95 % data volume
    expect(w.stdout.split('\n')[0]).toMatch(/^CONTEXT\s+CLUSTER\s+INSTANCE\s/);
    expect(w.stdout).toMatch(/^beta\s+crit\/c\s+c-1\s/m);
    expect(w.stdout).toMatch(/^alpha\s+warn\/w\s+w-1\s/m);
  });

  it('the run exits with the worst code of its contexts (2 > 3 > 1 > 0)', async () => {
    const codes = await Promise.all([
      // warning (alpha) and critical (beta)
      run(['disk', 'status', '-A', '-l', 'audit=yes', '--context', 'alpha,beta', '-o', 'json']),
      // alpha has no Cluster in the asked-for namespace (3), beta a critical one (2)
      run(['disk', 'status', '-n', 'crit', '--context', 'alpha,beta', '-o', 'json']),
      // a warning does not hide a context that could not be read
      run(['disk', 'status', '-n', 'warn', '--context', 'alpha,down', '-o', 'json']),
      // healthy only
      run(['wal', 'health', '-n', 'shop', '--context', 'alpha,beta', '-o', 'json']),
      // critical beats unreachable
      run(['diagnose', '-n', 'crit', '--context', 'beta,down', '-o', 'json']),
    ]);
    expect(codes.map((r) => r.code)).toEqual([2, 2, 3, 0, 2]);
    for (const r of codes) expect(json<ListDoc>(r).summary.exitCode).toBe(r.code);
    const nsMissing = byContext(json<ListDoc>(codes[1]!));
    expect(nsMissing.get('alpha')).toMatchObject({ exitCode: 3, error: { code: 'CLUSTER_NOT_FOUND' } });
    expect(nsMissing.get('beta')).toMatchObject({ exitCode: 2, report: { kind: 'DiskStatus' } });
  });

  it('an unreachable or forbidden context is a reported problem of that context, not a failed run', async () => {
    const [js, table, diag] = await Promise.all([
      run(['disk', 'status', '-n', 'shop', '--context', 'alpha,down,forbidden', '-o', 'json']),
      run(['wal', 'health', '-n', 'shop', '--context', 'down,alpha,forbidden']),
      run(['diagnose', '-n', 'shop', '--context', 'forbidden,beta,down']),
    ]);
    expect(js.code, js.stderr).toBe(3);
    const doc = json<ListDoc>(js);
    expect(doc.summary).toEqual({ contexts: 3, evaluated: 1, failed: 2, exitCode: 3 });
    const items = byContext(doc);
    expect(items.get('alpha')).toMatchObject({ exitCode: 0, report: { kind: 'DiskStatus' } });
    expect(items.get('down')!.exitCode).toBe(3);
    expect(items.get('down')!.error!.message).toMatch(/connection refused/);
    expect(items.get('forbidden')!.exitCode).toBe(3);
    expect(items.get('forbidden')!.error!.message + items.get('forbidden')!.error!.hints.join(' ')).toMatch(/clusters/);
    for (const r of [js, table, diag]) {
      expect(r.stderr).not.toMatch(/^\s+at /m); // never a stack trace
      expect(r.stderr).not.toMatch(/internal error/);
    }
    // the table: the evaluated rows, a "not evaluated" row per failed context, then why
    expect(table.code, table.stderr).toBe(3);
    expect(table.stdout).toMatch(/^alpha\s+ok-a\s+ok-a-1\s/m);
    expect(table.stdout).toMatch(/^down\s+-\s+-.*not evaluated\s*$/m);
    expect(table.stdout).toMatch(/^forbidden\s+-\s+-.*not evaluated\s*$/m);
    expect(table.stdout).toMatch(/^context down: not evaluated \(exit 3\): .*connection refused/m);
    expect(table.stdout).toMatch(/^context forbidden: not evaluated \(exit 3\): /m);
    // diagnose: findings of the contexts read, the others named with their reason
    expect(diag.code, diag.stderr).toBe(3);
    expect(diag.stdout).toMatch(/^DIAGNOSIS: .* in 1 cluster\(s\) of 1 context\(s\), 2 context\(s\) not evaluated$/m);
    expect(diag.stdout).toMatch(/^context down: not evaluated/m);
    expect(diag.stdout).toMatch(/^context forbidden: not evaluated/m);
  });

  it('one context keeps the single-context output; a list naming one context twice is one context', async () => {
    // times differ between runs (collection, the exporter's clock); everything else must not
    const strip = (s: string) => s.replace(/"(\w*(?:At|Time))": "[^"]*"/g, '"$1": "-"');
    const [dflt, one, twice, table, tableOne] = await Promise.all([
      run(['disk', 'status', '-n', 'shop', '-o', 'json']),
      run(['disk', 'status', '-n', 'shop', '--context', 'alpha', '-o', 'json']),
      run(['disk', 'status', '-n', 'shop', '--context', 'alpha,alpha', '-o', 'json']),
      run(['disk', 'status', '-n', 'shop']),
      run(['disk', 'status', '-n', 'shop', '--context=alpha']),
    ]);
    for (const r of [dflt, one, twice]) expect(json<{ kind: string }>(r).kind).toBe('DiskStatus');
    expect(strip(one.stdout)).toBe(strip(dflt.stdout));
    expect(strip(twice.stdout)).toBe(strip(dflt.stdout));
    expect(tableOne.stdout).toBe(table.stdout);
    expect(table.stdout).toMatch(/^CLUSTER\s+INSTANCE/);
  });

  it('at most --context-concurrency contexts are read at once (in-flight reads counted behind both servers)', async () => {
    const measure = async (bound: number | undefined, expected: number) => {
      inFlight = 0;
      maxInFlight = 0;
      target = expected;
      const r = await run([
        'wal',
        'health',
        '-n',
        'slow',
        '--concurrency',
        '1',
        ...(bound === undefined ? [] : ['--context-concurrency', String(bound)]),
        '--context',
        'alpha,alpha2,beta',
        '-o',
        'json',
      ]);
      const doc = json<ListDoc>(r);
      expect(doc.items.map((i) => [i.context, i.report?.clusters.length])).toEqual([
        ['alpha', 4],
        ['alpha2', 4],
        ['beta', 4],
      ]);
      return maxInFlight;
    };
    // each context reads one instance at a time (--concurrency 1), so in-flight reads = contexts read at once
    expect(await measure(1, 1)).toBe(1);
    expect(await measure(2, 2)).toBe(2);
    expect(await measure(undefined, 3)).toBe(3); // default 4: all three at once
  });

  it('hostile context names are escaped on the terminal and exact in JSON', async () => {
    const [table, js, unknown] = await Promise.all([
      run(['disk', 'status', '-n', 'shop', '--context', `alpha,${EVIL}`]),
      run(['disk', 'status', '-n', 'shop', '--context', `alpha,${EVIL}`, '-o', 'json']),
      run(['disk', 'status', '-n', 'shop', '--context', 'alpha,nope']),
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout + table.stderr).not.toMatch(RAW_CONTROL);
    expect(table.stdout).toMatch(/^evil\\x1b\]0;pwned\\x07\\u202ectx\s+ok-b\s/m);
    expect(table.stderr).toContain('context evil\\x1b]0;pwned\\x07\\u202ectx: sources:');
    expect(json<ListDoc>(js).items.map((i) => i.context)).toEqual(['alpha', EVIL]);
    // an unknown name: a usage error before any request, naming it; the known ones (hostile too) escaped
    expect(unknown.code).toBe(64);
    expect(expectCleanError(unknown.stderr)).toMatch(/context "nope" is not in the kubeconfig/);
    expect(unknown.stderr).not.toMatch(RAW_CONTROL);
    expect(unknown.stderr).toContain('evil\\x1b]0;pwned\\x07\\u202ectx');
    expect(unknown.stdout).toBe('');
  });

  it('--all-contexts reads every context of the kubeconfig', async () => {
    const r = await run(['disk', 'status', '-n', 'shop', '--all-contexts', '-o', 'json']);
    const doc = json<ListDoc>(r);
    expect(doc.items.map((i) => [i.context, i.exitCode])).toEqual([
      ['alpha', 0],
      ['beta', 0],
      ['alpha2', 0],
      ['down', 3],
      ['forbidden', 3],
      [EVIL, 0],
    ]);
    expect(r.code).toBe(3);
  });

  it('refused combinations are usage errors (64), one sentence each', async () => {
    const runs = await Promise.all([
      run(['disk', 'status', '--context', 'alpha', '--all-contexts']),
      run(['disk', 'status', '--context', 'alpha,beta', '--watch', '--count', '1']),
      run(['diagnose', '--context', 'alpha,beta', '--bundle', join(dir, 'b.tar.gz')]),
      run(['wal', 'health', '--all-contexts', '--from-bundle', join(dir, 'missing.tar.gz')]),
      run(['disk', 'status', '--context', 'alpha,beta', '-n', 'shop', '-A']),
      run(['disk', 'status', '--context', ',']),
    ]);
    const messages = runs.map((r) => {
      expect(r.code, r.stderr).toBe(64);
      expect(r.stdout).toBe('');
      return expectCleanError(r.stderr);
    });
    expect(messages[0]).toMatch(/--context and --all-contexts cannot be used together/);
    expect(messages[1]).toMatch(/--watch reads one context/);
    expect(messages[2]).toMatch(/--bundle writes one context/);
    expect(messages[3]).toMatch(/several contexts need a live cluster/);
    expect(messages[4]).toMatch(/--namespace and --all-namespaces cannot be used together/);
    expect(messages[5]).toMatch(/--context names no context/);
  });
});
