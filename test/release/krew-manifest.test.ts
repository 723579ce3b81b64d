// The committed krew manifest (krew/cnpg-disk.yaml) against what the release
// produces, and the renderer that fills in checksums and URLs. krew's own
// validator runs on the rendered manifests in the smoke suite (krew.smoke.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { REPO } from '../../scripts/release/bundle.js';
import { version } from '../../scripts/release/build.js';
import {
  BASE_URL_ENV,
  DEFAULT_BASE_URL,
  KREW_API_VERSION,
  archiveUrl,
  baseUrl,
  readIndexSpec,
  renderManifest,
} from '../../scripts/release/krew.js';
import type { PlatformValues } from '../../scripts/release/krew.js';
import { CLI_BIN, KREW_PLUGIN, TARGETS } from '../../scripts/release/targets.js';

interface Platform {
  selector: { matchLabels: { os: string; arch: string } };
  uri: string;
  sha256: string;
  bin: string;
  files: Array<{ from: string; to: string }>;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { version: string; shortDescription: string; platforms: Platform[]; caveats: string };
}

const source = readFileSync(join(REPO, 'krew/cnpg-disk.yaml'), 'utf8');
const committed = parse(source) as Manifest;
const v = version();

describe('krew/cnpg-disk.yaml', () => {
  it('is a krew v1alpha2 Plugin named like the index entry and the release', () => {
    expect(committed.apiVersion).toBe(KREW_API_VERSION);
    expect(committed.kind).toBe('Plugin');
    expect(committed.metadata.name).toBe(KREW_PLUGIN);
    expect(readIndexSpec().plugins).toEqual([{ name: KREW_PLUGIN, manifest: 'krew/cnpg-disk.yaml' }]);
    expect(committed.spec.shortDescription).not.toMatch(/[\r\n]/);
  });

  it('follows package.json: version and default download URLs', () => {
    expect(committed.spec.version).toBe(`v${v}`);
    const base = baseUrl(v, {});
    for (const p of committed.spec.platforms) {
      const { os, arch } = p.selector.matchLabels;
      expect(p.uri).toBe(archiveUrl(base, v, os as 'linux', arch as 'amd64'));
    }
  });

  it('has exactly the six release platforms, each installing the binary as shipped in its archive', () => {
    const keys = committed.spec.platforms.map((p) => `${p.selector.matchLabels.os}/${p.selector.matchLabels.arch}`);
    expect(keys.sort()).toEqual(TARGETS.map((t) => `${t.os}/${t.arch}`).sort());
    for (const p of committed.spec.platforms) {
      const t = TARGETS.find((x) => x.os === p.selector.matchLabels.os && x.arch === p.selector.matchLabels.arch);
      expect(p.bin).toBe(CLI_BIN + (t?.exeSuffix ?? ''));
      expect(p.files).toEqual([
        { from: p.bin, to: '.' },
        { from: 'LICENSE', to: '.' },
      ]);
      expect(p.sha256).toMatch(/^[a-f0-9]{64}$/);
    }
  });

  it('tells krew users the name it runs under and how to add kubectl cnpg disk', () => {
    expect(committed.spec.caveats).toContain('kubectl cnpg-disk');
    expect(committed.spec.caveats).toContain('ln -s kubectl-cnpg_disk');
  });
});

describe('renderManifest', () => {
  const values: PlatformValues = Object.fromEntries(
    TARGETS.map((t, i) => [
      `${t.os}/${t.arch}`,
      { uri: `http://127.0.0.1:1/${t.id}.archive`, sha256: String(i).repeat(64) },
    ]),
  );

  it('fills version, uri and sha256 of every platform and keeps the comments', () => {
    const out = renderManifest(source, '9.8.7', values);
    const m = parse(out) as Manifest;
    expect(m.spec.version).toBe('v9.8.7');
    for (const p of m.spec.platforms) {
      const key = `${p.selector.matchLabels.os}/${p.selector.matchLabels.arch}`;
      expect({ uri: p.uri, sha256: p.sha256 }).toEqual(values[key]);
    }
    expect(out).toContain('# krew plugin manifest of kubectl-cnpg');
    // an all-digit sha256 must stay a string, not become a number
    expect(typeof m.spec.platforms[0]?.sha256).toBe('string');
  });

  it('refuses a platform without an archive, an archive without a platform, and a malformed checksum', () => {
    const { ['linux/arm64']: _dropped, ...fewer } = values;
    expect(() => renderManifest(source, v, fewer)).toThrow(/no archive for platform linux\/arm64/);
    const more = { ...values, 'freebsd/amd64': { uri: 'x', sha256: 'a'.repeat(64) } };
    expect(() => renderManifest(source, v, more)).toThrow(/no platform for freebsd\/amd64/);
    const bad = { ...values, 'linux/amd64': { uri: 'x', sha256: 'ABC' } };
    expect(() => renderManifest(source, v, bad)).toThrow(/bad sha256 for linux\/amd64/);
  });
});

describe('download URLs', () => {
  it('default to the GitHub releases of the project, and follow CNPG_DISK_RELEASE_BASE_URL', () => {
    expect(DEFAULT_BASE_URL).toContain('cnpg-disk/kubectl-cnpg-disk');
    expect(baseUrl('1.2.3', {})).toBe('https://github.com/cnpg-disk/kubectl-cnpg-disk/releases/download/v1.2.3');
    expect(baseUrl('1.2.3', { [BASE_URL_ENV]: 'http://127.0.0.1:8080/r/{version}/' })).toBe(
      'http://127.0.0.1:8080/r/1.2.3',
    );
    expect(archiveUrl('http://h/x', '1.2.3', 'windows', 'arm64')).toBe(
      'http://h/x/kubectl-cnpg_1.2.3_windows_arm64.zip',
    );
    expect(archiveUrl('http://h/x', '1.2.3', 'darwin', 'amd64')).toBe(
      'http://h/x/kubectl-cnpg_1.2.3_darwin_amd64.tar.gz',
    );
  });
});
