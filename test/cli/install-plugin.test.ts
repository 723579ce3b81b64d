// `disk install --plugin` through the built CLI, without a cluster:
//  - the printed objects are byte-identical to golden files (GOLDEN_UPDATE=1
//    writes them): with --cert-manager as printed, with the tool's own
//    certificates after each Secret's data is checked (a certificate for the
//    Service's names, a matching key) and replaced by a placeholder, the one
//    part that differs between runs; -o json is the same objects as a List;
//  - hostile or wrong flag values (namespace names, image references with
//    odd characters, flags of the other install) are refused before anything
//    is generated: exit 64, one sentence, nothing on stdout.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { PLUGIN_NAME } from '@cnpg-disk/core';
import { REPO, cli, expectCleanError, requireBuiltCli } from '../helpers/cli.js';

const GOLDEN = join(REPO, 'test', 'cli', 'golden');
const IMAGE = 'registry.example/cnpg-disk-plugin:0.1.0';
type Obj = { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string> };

function golden(name: string, got: string): void {
  const file = join(GOLDEN, name);
  if (process.env['GOLDEN_UPDATE'] === '1') writeFileSync(file, got);
  expect(existsSync(file), `${file} is missing (GOLDEN_UPDATE=1 writes it)`).toBe(true);
  expect(got, name).toBe(readFileSync(file, 'utf8'));
}

beforeAll(() => requireBuiltCli());

describe('disk install --plugin: the printed objects', { timeout: 120_000 }, () => {
  it('--cert-manager: byte-identical to the golden file; the enable instructions on stderr', async () => {
    const r = await cli(['disk', 'install', '--plugin', '--image', IMAGE, '--cert-manager']);
    expect(r.code, r.stderr).toBe(0);
    golden('install-plugin.cert-manager.yaml', r.stdout);
    expect(r.stderr).toContain(`- name: ${PLUGIN_NAME}`);
    expect(r.stdout).not.toContain('kind: Secret');
  });

  it("the tool's certificates: valid pairs for the Service, the rest byte-identical to the golden file", async () => {
    const r = await cli(['disk', 'install', '--plugin', '--image', IMAGE, '-n', 'db-operators']);
    expect(r.code, r.stderr).toBe(0);
    const docs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJSON() as Obj);
    const secrets = docs.filter((d) => d.kind === 'Secret');
    expect(secrets.map((s) => s.metadata.name)).toEqual(['cnpg-disk-plugin-server-tls', 'cnpg-disk-plugin-client-tls']);
    for (const s of secrets) {
      const cert = new X509Certificate(Buffer.from(s.data?.['tls.crt'] ?? '', 'base64'));
      const key = createPrivateKey(Buffer.from(s.data?.['tls.key'] ?? '', 'base64'));
      expect(cert.checkPrivateKey(key), s.metadata.name).toBe(true);
      if (s.metadata.name.includes('server')) expect(cert.checkHost('cnpg-disk-plugin.db-operators.svc')).toBeTruthy();
      s.data = { 'tls.crt': '<PEM certificate>', 'tls.key': '<PEM key>' };
    }
    golden('install-plugin.generated.yaml', docs.map((d) => YAML.stringify(d, { lineWidth: 0 })).join('---\n'));

    const json = await cli(['disk', 'install', '--plugin', '--image', IMAGE, '-n', 'db-operators', '-o', 'json']);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { apiVersion: string; kind: string; items: Obj[] };
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    expect(list.items.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual(
      docs.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`),
    );
  });

  it('--image-pull-policy reaches the plugin container', async () => {
    const r = await cli([
      'disk',
      'install',
      '--plugin',
      '--image',
      IMAGE,
      '--cert-manager',
      '--image-pull-policy',
      'Never',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('imagePullPolicy: Never');
  });
});

describe('disk install: bad or hostile flags are refused', { timeout: 120_000 }, () => {
  const cases: [string[], RegExp][] = [
    [['--plugin'], /--plugin needs --image/],
    [['--plugin', '--image', 'Registry/Image'], /--image "Registry\/Image" is not an image reference/],
    [
      ['--plugin', '--image', 'x\u001b[2J'],
      /--image "x\\u001b\[2J" is not an image reference: it contains white space or control characters/,
    ],
    [['--plugin', '--image', 'img:1; rm -rf /'], /is not an image reference: it contains white space/],
    [['--plugin', '--image', '$(id)'], /--image "\$\(id\)" is not an image reference/],
    [['--plugin', '--image', ''], /--image "" is not an image reference: it is empty/],
    [
      ['--plugin', '--image', IMAGE, '-n', 'cnpg-system;x'],
      /--namespace "cnpg-system;x" is not a valid namespace name/,
    ],
    [['--plugin', '--image', IMAGE, '-n', 'CNPG'], /--namespace "CNPG" is not a valid namespace name/],
    [['--plugin', '--image', IMAGE, '-n', 'a.b'], /--namespace "a.b" is not a valid namespace name/],
    [['--plugin', '--image', IMAGE, '-n', 'x'.repeat(64)], /is not a valid namespace name/],
    [
      ['--plugin', '--image', IMAGE, '--watch-namespace', 'db'],
      /--watch-namespace is a flag of the controller, not of --plugin/,
    ],
    [['--plugin', '--image', IMAGE, '--interval', '30s'], /--interval is a flag of the controller/],
    [['--plugin', '--image', IMAGE, '--dashboard'], /--dashboard is a flag of the controller/],
    [['--plugin', '--image', IMAGE, '--dry-run'], /--dry-run asks the API server to check an apply/],
    [
      ['--plugin', '--image', IMAGE, '--image-pull-policy', 'Sometimes'],
      /Expected --image-pull-policy=Sometimes to be one of/,
    ],
    [['--cert-manager'], /--cert-manager needs --plugin/],
    [['--image-pull-policy', 'Never'], /--image-pull-policy needs --plugin/],
    // The controller's --image is checked the same way.
    [['--image', 'Not An Image'], /--image "Not An Image" is not an image reference/],
  ];
  for (const [args, message] of cases) {
    it(`disk install ${JSON.stringify(args).slice(0, 80)}`, async () => {
      const r = await cli(['disk', 'install', ...args]);
      expect(r.code, r.stderr).toBe(64);
      expect(r.stdout).toBe('');
      expect(expectCleanError(r.stderr)).toMatch(message);
      // Nothing the terminal would act on: control characters come back escaped.
      expect(r.stderr).not.toContain('\u001b');
    });
  }
});
