// What `npm run release` leaves in dist/release: exactly the expected files,
// checksums that sha256sum accepts, and archives holding the binary that was
// built (byte for byte, executable), LICENSE and README.md.
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { run } from '../../../scripts/release/proc.js';
import { CLI_BIN, PROBE_BIN, PROBE_TARGET_IDS, TARGETS, archiveName } from '../../../scripts/release/targets.js';
import { REPO } from '../helpers.js';
import { smoke } from './context.js';

const ctx = smoke();

const expected = [
  ...TARGETS.map((t) => ({ t, bin: CLI_BIN, name: archiveName(CLI_BIN, ctx.version, t) })),
  ...TARGETS.filter((t) => PROBE_TARGET_IDS.includes(t.id)).map((t) => ({
    t,
    bin: PROBE_BIN,
    name: archiveName(PROBE_BIN, ctx.version, t),
  })),
];

describe('release directory', () => {
  it('holds the eight archives, checksums.txt, krew/ and krew-index/, and nothing else', () => {
    expect(readdirSync(ctx.release).sort()).toEqual(
      [...expected.map((e) => e.name), 'checksums.txt', 'krew', 'krew-index', 'build'].sort(),
    );
    expect(readdirSync(join(ctx.release, 'krew-index', 'plugins'))).toEqual(['cnpg-disk.yaml']);
    expect(readFileSync(join(ctx.release, 'krew-index/plugins/cnpg-disk.yaml'), 'utf8')).toBe(
      readFileSync(join(ctx.release, 'krew/cnpg-disk.yaml'), 'utf8'),
    );
  });

  it('checksums.txt lists every archive and sha256sum -c accepts it', async () => {
    const lines = readFileSync(join(ctx.release, 'checksums.txt'), 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split('  ')[1]).sort()).toEqual(expected.map((e) => e.name).sort());
    const r = await run('sha256sum', ['-c', 'checksums.txt'], { cwd: ctx.release });
    expect(r.stdout.match(/: OK$/gm)).toHaveLength(expected.length);
  });

  for (const e of expected) {
    it(`${e.name} holds the built binary, LICENSE and README.md`, async () => {
      const out = join(ctx.dir, 'unpacked', e.name);
      mkdirSync(out, { recursive: true });
      const file = join(ctx.release, e.name);
      if (e.t.archive === 'zip') await run('unzip', ['-q', file, '-d', out]);
      else await run('tar', ['-xzf', file, '-C', out]);
      const bin = e.bin + e.t.exeSuffix;
      expect(readdirSync(out).sort()).toEqual(['LICENSE', 'README.md', bin].sort());
      expect(readFileSync(join(out, bin)).equals(readFileSync(join(ctx.release, 'build', e.t.id, bin)))).toBe(true);
      expect(statSync(join(out, bin)).mode & 0o111).toBe(0o111);
      expect(readFileSync(join(out, 'LICENSE')).equals(readFileSync(join(REPO, 'LICENSE')))).toBe(true);
      expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain(
        e.bin === CLI_BIN ? 'kubectl cnpg disk' : 'cnpg-disk-probe',
      );
    });
  }
});
