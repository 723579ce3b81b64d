/**
 * The dependency rules fire on the imports they are about. dependency-cruiser
 * runs with the repository's own configuration on a small tree made for the
 * test (a `src/` file importing the workspace packages by name, which resolve
 * to their dist/ as in the repository, and gRPC), so the test never writes
 * into the sources. An import that lands in a package's dist/ must keep its
 * edge: excluding dist/ once hid every `@cnpg-disk/probe` import from
 * `cli-not-probe`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let root: string;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

function pkg(dir: string, name: string): void {
  write(
    `${dir}/package.json`,
    JSON.stringify({ name, type: 'module', exports: { '.': { import: './dist/index.js' } }, main: './dist/index.js' }),
  );
  write(`${dir}/dist/index.js`, 'export const x = 1;\n');
}

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(paths: string[]): Promise<Violation[]> {
  const bin = join(REPO, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
  const args = [bin, '--config', join(REPO, '.dependency-cruiser.cjs'), '--output-type', 'json', ...paths];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, maxBuffer: 32 * 1024 * 1024 }, (err, stdout) => {
      try {
        resolve((JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations);
      } catch {
        reject(err ?? new Error(stdout));
      }
    });
  });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cnpg-depcheck-'));
  copyFileSync(join(REPO, 'tsconfig.base.json'), join(root, 'tsconfig.base.json'));
  pkg('packages/probe', '@cnpg-disk/probe');
  pkg('packages/plugin', '@cnpg-disk/plugin');
  write('node_modules/@grpc/grpc-js/package.json', JSON.stringify({ name: '@grpc/grpc-js', main: 'index.js' }));
  write('node_modules/@grpc/grpc-js/index.js', 'exports.x = 1;\n');
  mkdirSync(join(root, 'node_modules/@cnpg-disk'), { recursive: true });
  symlinkSync('../../packages/probe', join(root, 'node_modules/@cnpg-disk/probe'));
  symlinkSync('../../packages/plugin', join(root, 'node_modules/@cnpg-disk/plugin'));
  write(
    'src/app/cli.ts',
    [
      "import * as probe from '@cnpg-disk/probe';",
      "import * as plugin from '@cnpg-disk/plugin';",
      "import * as grpc from '@grpc/grpc-js';",
      'export const all = [probe, plugin, grpc];',
      '',
    ].join('\n'),
  );
  write('src/app/fine.ts', 'export const fine = 1;\n');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('dependency rules', () => {
  it('the CLI importing the probe, the plugin or gRPC by package name is a violation of each rule', async () => {
    const v = await cruise(['src']);
    expect(v.map((x) => [x.rule.name, x.from, x.to]).sort()).toEqual([
      ['cli-no-grpc', 'src/app/cli.ts', 'node_modules/@grpc/grpc-js/index.js'],
      ['cli-not-plugin', 'src/app/cli.ts', 'packages/plugin/dist/index.js'],
      ['cli-not-probe', 'src/app/cli.ts', 'packages/probe/dist/index.js'],
    ]);
  });

  it('a CLI file without them is clean', async () => {
    expect(await cruise(['src/app/fine.ts'])).toEqual([]);
  });
});
