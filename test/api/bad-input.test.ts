// Bad input around the connection: broken kubeconfigs, unknown contexts,
// servers that refuse, hang or present the wrong certificate, rejected
// credentials, and an API server without the CloudNativePG CRDs. Each must
// end in one clear line (plus hints), the documented exit code, no stack
// trace — and must end at all (a hanging server is bounded by
// --request-timeout; we only assert that the command finishes and says so).
//
// Real: a kube-apiserver without the CNPG CRDs (for 401 and "CRD missing"),
// TCP/TLS servers made here that refuse, hang or mis-certify.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../infra/apiserver.js';
import { cli, expectCleanError, requireBuiltCli } from '../helpers/cli.js';

function kubeconfig(server: string, opts: { ca?: string; token?: string; context?: string; current?: string } = {}) {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const ctx = opts.context ?? 'test';
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${JSON.stringify(server)}`,
    ...(opts.ca ? [`    certificate-authority-data: ${b64(opts.ca)}`] : []),
    'users:',
    '- name: u',
    '  user:',
    `    token: ${JSON.stringify(opts.token ?? 'not-a-real-token')}`,
    'contexts:',
    `- name: ${ctx}`,
    '  context: { cluster: c, user: u, namespace: db }',
    `current-context: ${JSON.stringify(opts.current ?? ctx)}`,
    '',
  ].join('\n');
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('bad input: kubeconfig, contexts, unreachable or unfriendly servers', { timeout: 90_000 }, () => {
  let dir: string;
  let api: ApiServerHandle;
  let hanging: net.Server;
  let wrongCert: tls.Server;
  const sockets = new Set<net.Socket>();
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  beforeAll(async () => {
    requireBuiltCli();
    dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-badinput-'));
    // An API server without the CNPG CRDs (starts faster, too).
    api = await startApiServer({ installCrds: false });
    // Accepts TCP connections and never answers (not even the TLS handshake).
    hanging = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    // A TLS server with a self-signed certificate (not signed by the kubeconfig's CA).
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=impostor',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'impostor.key'),
        '-out',
        join(dir, 'impostor.crt'),
      ],
      { stdio: 'ignore' },
    );
    const serving = { cert: readFileSync(join(dir, 'impostor.crt')), key: readFileSync(join(dir, 'impostor.key')) };
    wrongCert = tls.createServer(serving, (s) => s.end());
    await new Promise<void>((r) => wrongCert.listen(0, '127.0.0.1', r));
  }, 240_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([
      api?.stop(),
      new Promise((r) => (hanging ? hanging.close(r) : r(undefined))),
      new Promise((r) => (wrongCert ? wrongCert.close(r) : r(undefined))),
    ]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a kubeconfig that is not YAML, not a kubeconfig, missing, or without a current context: exit 64, one line', async () => {
    const cases: [string, string[], RegExp][] = [
      [
        'broken YAML',
        ['--kubeconfig', file('broken.yaml', 'apiVersion: v1\nclusters: [ {name: c, cluster: {server: "https://x\n')],
        /^error: cannot read the kubeconfig: /,
      ],
      ['not a kubeconfig', ['--kubeconfig', file('scalar.yaml', 'just a string\n')], /^error: /],
      ['missing file', ['--kubeconfig', join(dir, 'nope.yaml')], /^error: kubeconfig .*nope\.yaml does not exist$/],
      [
        'no current context',
        ['--kubeconfig', file('nocurrent.yaml', kubeconfig('https://127.0.0.1:1', { current: '' }))],
        /^error: the kubeconfig has no current context$/,
      ],
    ];
    // every case with disk status; the first also with the other read commands (same loading code)
    const plan: [string, string[], RegExp][] = [
      ...cases.map(([what, args, want]): [string, string[], RegExp] => [what, ['disk', 'status', ...args], want]),
      [cases[0]![0], ['wal', 'health', ...cases[0]![1]], cases[0]![2]],
      [cases[0]![0], ['diagnose', ...cases[0]![1]], cases[0]![2]],
    ];
    const runs = await Promise.all(plan.map(([, args]) => cli(args)));
    runs.forEach((r, i) => {
      const [what, args, want] = plan[i]!;
      const label = `${what} / ${args.slice(0, 2).join(' ')}: ${r.stderr}`;
      expect(r.code, label).toBe(64);
      expect(expectCleanError(r.stderr), label).toMatch(want);
      expect(r.stdout, label).toBe('');
    });
  });

  it('an unknown context: exit 64 naming the known ones', async () => {
    const kc = file('ctx.yaml', kubeconfig('https://127.0.0.1:1', { context: 'prod' }));
    const r = await cli(['disk', 'status', '--kubeconfig', kc, '--context', 'staging']);
    expect(r.code).toBe(64);
    expect(expectCleanError(r.stderr)).toBe('error: context "staging" is not in the kubeconfig');
    expect(r.stderr).toMatch(/hint: known contexts: prod$/m);
  });

  it('KUBECONFIG naming no existing file: exit 64; no kubeconfig at all: exit 3 pointing at --from-bundle', async () => {
    const [env, none] = await Promise.all([
      cli(['disk', 'status'], { env: { KUBECONFIG: join(dir, 'a.yaml') + ':' + join(dir, 'b.yaml') } }),
      cli(['disk', 'status']),
    ]);
    expect(env.code).toBe(64);
    expect(expectCleanError(env.stderr)).toMatch(/no file of KUBECONFIG/);
    expect(none.code).toBe(3);
    expect(expectCleanError(none.stderr)).toMatch(/no kubeconfig found/);
    expect(none.stderr).toMatch(/--from-bundle/);
  });

  it('connection refused: exit 3, "cannot reach the API server"', async () => {
    const kc = file('refused.yaml', kubeconfig(`https://127.0.0.1:${await closedPort()}`));
    const runs = await Promise.all([
      cli(['disk', 'status', '--kubeconfig', kc]),
      cli(['diagnose', '-A', '--kubeconfig', kc]),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(3);
      expect(expectCleanError(r.stderr)).toMatch(
        /^error: cannot reach the API server at https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/,
      );
    }
  });

  it('a server that never answers: bounded by --request-timeout, says it timed out', async () => {
    const port = (hanging.address() as net.AddressInfo).port;
    const kc = file('hanging.yaml', kubeconfig(`https://127.0.0.1:${port}`));
    // The bound here is only against a hang of the test itself; the command must end on its own.
    const r = await cli(['disk', 'status', '--kubeconfig', kc, '--request-timeout', '2s'], { killAfterMs: 60_000 });
    expect(r.killed, 'the command did not end by itself').toBe(false);
    expect(r.code).toBe(3);
    expect(expectCleanError(r.stderr)).toMatch(/cannot reach the API server.*timed out/);
    const bad = await cli(['disk', 'status', '--kubeconfig', kc, '--request-timeout', 'soon']);
    expect(bad.code).toBe(64);
    expect(expectCleanError(bad.stderr)).toMatch(/--request-timeout "soon" is not a duration/);
  });

  it('a server whose certificate the kubeconfig CA did not sign: exit 3, one line', async () => {
    const port = (wrongCert.address() as net.AddressInfo).port;
    const kc = file('wrongca.yaml', kubeconfig(`https://127.0.0.1:${port}`, { ca: api.caCertPem }));
    const r = await cli(['disk', 'status', '--kubeconfig', kc]);
    expect(r.code).toBe(3);
    expect(expectCleanError(r.stderr)).toMatch(/cannot reach the API server .*(certificate|self.signed|verify)/i);
  });

  it('credentials the API server rejects (401): exit 3 "rejected our credentials"', async () => {
    const kc = file('badtoken.yaml', kubeconfig(api.url, { ca: api.caCertPem, token: 'wrong-token' }));
    const r = await cli(['disk', 'status', '-n', 'db', '--kubeconfig', kc]);
    expect(r.code).toBe(3);
    expect(expectCleanError(r.stderr)).toMatch(/the API server rejected our credentials/);
  });

  it('an API server without CloudNativePG: exit 3 "not installed", for every read command', async () => {
    const kc = await api.kubeconfigFor('no-crd', ['system:masters']);
    const runs = await Promise.all([
      cli(['disk', 'status', '-A', '--kubeconfig', kc]),
      cli(['wal', 'health', '--kubeconfig', kc]),
      cli(['diagnose', '-n', 'db', '--kubeconfig', kc]),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(3);
      expect(expectCleanError(r.stderr)).toMatch(/CloudNativePG Cluster resource is not installed/);
    }
    // the kubeconfig file itself is untouched by the CLI
    expect(readFileSync(kc, 'utf8')).toContain('client-certificate-data');
  });
});
