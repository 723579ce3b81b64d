// The kubeconfig reader (src/kube/kubeconfig.ts) against real files, a real
// exec credential plugin (a shell script) and, as the reference, client-node's
// own KubeConfig loading the same file: both must give the same cluster,
// user and request options.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig, loadKubeContexts, readKubeConfig } from '../../../src/kube/kubeconfig.js';
import { CliError } from '../../../src/model/errors.js';

let dir: string;
const saved = { KUBECONFIG: process.env['KUBECONFIG'], HOME: process.env['HOME'] };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cnpg-kubeconfig-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  delete process.env['KUBERNETES_SERVICE_HOST'];
  delete process.env['KUBERNETES_SERVICE_PORT'];
});

function write(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function config(o: { current?: string; clusters: [string, string][]; users?: string[]; extraUser?: string }): string {
  const lines = ['apiVersion: v1', 'kind: Config'];
  if (o.current) lines.push(`current-context: ${o.current}`);
  lines.push('clusters:');
  for (const [name, server] of o.clusters) {
    lines.push(
      `- name: ${name}`,
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority-data: ${b64('CA-' + name)}`,
    );
  }
  lines.push('users:');
  for (const u of o.users ?? o.clusters.map(([n]) => n))
    lines.push(`- name: ${u}`, '  user:', `    token: token-of-${u}`);
  if (o.extraUser) lines.push(o.extraUser);
  lines.push('contexts:');
  for (const [name] of o.clusters) {
    lines.push(
      `- name: ${name}`,
      '  context:',
      `    cluster: ${name}`,
      `    user: ${name}`,
      `    namespace: ns-${name}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** A kubeconfig whose one context `c` uses one user `c` with these lines under `user:`. */
function withOneUser(name: string, userLines: string[]): string {
  const extraUser = ['- name: c', '  user:', ...userLines].join('\n');
  return write(name, config({ current: 'c', clusters: [['c', 'https://c:6443']], users: [], extraUser }));
}

async function optionsOf(kc: {
  applyToHTTPSOptions(o: https.RequestOptions): Promise<void>;
}): Promise<https.RequestOptions> {
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  return o;
}

/** What a request would carry, without client-node's agent (ours owns one per API server). */
function comparable(o: https.RequestOptions) {
  return {
    ca: o.ca?.toString(),
    cert: o.cert?.toString(),
    key: o.key?.toString(),
    auth: o.auth,
    rejectUnauthorized: o.rejectUnauthorized,
    servername: o.servername,
    authorization: (o.headers as Record<string, string> | undefined)?.['Authorization'],
    impersonate: (o.headers as Record<string, string> | undefined)?.['Impersonate-User'],
  };
}

function expectUsageError(f: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(CliError);
  expect((thrown as CliError).exitCode).toBe(64);
  expect((thrown as CliError).message).toMatch(message);
}

describe('kubeconfig', () => {
  it('one file: the same cluster, user, namespace and request options as client-node', async () => {
    mkdirSync(join(dir, 'one', 'pki'), { recursive: true });
    writeFileSync(join(dir, 'one', 'pki', 'ca.crt'), 'CA-FROM-FILE');
    writeFileSync(join(dir, 'one', 'pki', 'me.crt'), 'CERT-FROM-FILE');
    writeFileSync(join(dir, 'one', 'pki', 'me.key'), 'KEY-FROM-FILE');
    const file = write(
      'one/config',
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: main',
        'clusters:',
        '- name: main',
        '  cluster:',
        '    server: https://10.0.0.1:6443',
        '    certificate-authority: pki/ca.crt', // relative: to the file's folder
        '    tls-server-name: api.internal',
        '- name: lax',
        '  cluster:',
        '    server: https://10.0.0.2:6443',
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: me',
        '  user:',
        '    client-certificate: pki/me.crt',
        '    client-key: pki/me.key',
        '    as: someone-else',
        '- name: basic',
        '  user:',
        '    username: admin',
        '    password: pw',
        'contexts:',
        '- name: main',
        '  context: {cluster: main, user: me, namespace: shop}',
        '- name: lax',
        '  context: {cluster: lax, user: basic}',
        '',
      ].join('\n'),
    );
    for (const context of ['main', 'lax']) {
      const ours = loadKubeConfig({ kubeconfig: file, context });
      const ref = new KubeConfig();
      ref.loadFromFile(file);
      ref.setCurrentContext(context);
      expect(ours.getCurrentCluster(), context).toEqual(ref.getCurrentCluster());
      expect(ours.getCurrentUser(), context).toEqual(ref.getCurrentUser());
      expect(ours.getContextObject(context), context).toEqual(ref.getContextObject(context));
      expect(comparable(await optionsOf(ours)), context).toEqual(comparable(await optionsOf(ref)));
    }
    const main = comparable(await optionsOf(loadKubeConfig({ kubeconfig: file, context: 'main' })));
    expect(main).toMatchObject({
      ca: 'CA-FROM-FILE',
      cert: 'CERT-FROM-FILE',
      key: 'KEY-FROM-FILE',
      servername: 'api.internal',
      impersonate: 'someone-else',
    });
    // The client-node KubeConfig made for writes and exec holds the same entries.
    const full = await loadKubeConfig({ kubeconfig: file, context: 'lax' }).toClientNode();
    expect(full.getCurrentContext()).toBe('lax');
    expect(comparable(await optionsOf(full))).toMatchObject({ auth: 'admin:pw', rejectUnauthorized: false });
  });

  it('KUBECONFIG=a:b merges as kubectl does: the first current-context and the first entry of a name win; missing files are skipped', () => {
    const a = write('merge/a', config({ clusters: [['prod', 'https://prod-a:6443']] }));
    const b = write(
      'merge/b',
      config({
        current: 'staging',
        clusters: [
          ['prod', 'https://prod-b:6443'],
          ['staging', 'https://staging:6443'],
        ],
      }),
    );
    const c = write('merge/c', config({ current: 'prod', clusters: [['dev', 'https://dev:6443']] }));
    process.env['KUBECONFIG'] = [a, join(dir, 'merge', 'missing'), b, c].join(':');
    const kc = readKubeConfig({});
    expect(kc.getCurrentContext()).toBe('staging'); // a sets none; b is the first that does
    expect(kc.clusters.map((x) => `${x.name} ${x.server}`)).toEqual([
      'prod https://prod-a:6443',
      'staging https://staging:6443',
      'dev https://dev:6443',
    ]);
    expect(kc.getContexts().map((x) => x.name)).toEqual(['prod', 'staging', 'dev']);
    expect(loadKubeConfig({}).getCurrentCluster()?.server).toBe('https://staging:6443');
    const all = loadKubeContexts({}, 'all');
    expect(all.names).toEqual(['prod', 'staging', 'dev']);
  });

  it('KUBECONFIG naming only missing files, or a missing --kubeconfig, is a usage error (64)', () => {
    process.env['KUBECONFIG'] = join(dir, 'nope1') + ':' + join(dir, 'nope2');
    expectUsageError(() => readKubeConfig({}), /no file of KUBECONFIG/);
    expectUsageError(() => readKubeConfig({ kubeconfig: join(dir, 'nope3') }), /does not exist/);
  });

  it('a file that is not a kubeconfig is a usage error (64) in one line, never a stack trace', () => {
    const cases: [string, RegExp][] = [
      ['clusters: [unclosed\n', /cannot read the kubeconfig/],
      ['- just\n- a list\n', /cannot read the kubeconfig: not a YAML mapping/],
      ['clusters:\n- name: x\n', /cannot read the kubeconfig/], // a cluster without its fields
      ['"a string"\n', /cannot read the kubeconfig/],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const f = write(`bad/${i}`, text);
      expectUsageError(() => readKubeConfig({ kubeconfig: f }), message);
      try {
        readKubeConfig({ kubeconfig: f });
      } catch (e) {
        expect((e as Error).message, text).not.toContain('\n');
      }
    }
    // An empty file has no contexts: no current context, a usage error naming the fix.
    const empty = write('bad/empty', '');
    expectUsageError(() => loadKubeConfig({ kubeconfig: empty }), /no current context/);
  });

  it('an unknown --context is a usage error that lists the known ones', () => {
    const f = write(
      'ctx/config',
      config({
        current: 'a',
        clusters: [
          ['a', 'https://a:6443'],
          ['b', 'https://b:6443'],
        ],
      }),
    );
    expectUsageError(() => loadKubeConfig({ kubeconfig: f, context: 'c' }), /context "c" is not in the kubeconfig/);
    try {
      loadKubeConfig({ kubeconfig: f, context: 'c' });
    } catch (e) {
      expect((e as CliError).suggestions).toEqual(['known contexts: a, b']);
    }
  });

  it('an exec credential plugin runs (a real process) and its token is sent, as with client-node', async () => {
    const plugin = write(
      'exec/plugin.sh',
      '#!/bin/sh\n' +
        'echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",' +
        '\\"status\\":{\\"token\\":\\"exec-token-$1\\"}}"\n',
    );
    chmodSync(plugin, 0o755);
    const f = withOneUser('exec/config', [
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1',
      `      command: ${plugin}`,
      '      args: ["42"]',
      '      interactiveMode: Never',
    ]);
    const ours = comparable(await optionsOf(loadKubeConfig({ kubeconfig: f })));
    expect(ours.authorization).toBe('Bearer exec-token-42');
    const ref = new KubeConfig();
    ref.loadFromFile(f);
    expect(ours).toEqual(comparable(await optionsOf(ref)));
  });

  it('a token file (auth provider tokenFile) is read on use', async () => {
    const token = write('tokenfile/token', 'file-token-1');
    const f = withOneUser('tokenfile/config', [
      '    auth-provider:',
      '      name: tokenFile',
      '      config:',
      `        tokenFile: ${token}`,
    ]);
    expect(comparable(await optionsOf(loadKubeConfig({ kubeconfig: f }))).authorization).toBe('Bearer file-token-1');
  });

  it('in a pod (no kubeconfig anywhere): the service account, with an IPv6 host bracketed', () => {
    delete process.env['KUBECONFIG'];
    process.env['HOME'] = join(dir, 'empty-home');
    mkdirSync(process.env['HOME'], { recursive: true });
    process.env['KUBERNETES_SERVICE_HOST'] = 'fd00::1';
    process.env['KUBERNETES_SERVICE_PORT'] = '443';
    const kc = loadKubeConfig({});
    expect(kc.getCurrentCluster()).toMatchObject({
      server: 'https://[fd00::1]:443',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    });
    expect(kc.getCurrentUser()?.authProvider).toEqual({
      name: 'tokenFile',
      config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    });
    // Outside a pod: no silent localhost:8080, exit 3 with what to do.
    delete process.env['KUBERNETES_SERVICE_HOST'];
    let thrown: unknown;
    try {
      loadKubeConfig({});
    } catch (e) {
      thrown = e;
    }
    expect((thrown as CliError).exitCode).toBe(3);
    expect((thrown as CliError).message).toMatch(/no kubeconfig found/);
  });
});
