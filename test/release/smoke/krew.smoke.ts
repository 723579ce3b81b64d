// The release through the real krew (built from sigs.k8s.io/krew, tools.sh)
// and the real kubectl (test/infra/build-k8s.sh): krew's own manifest
// validator, `kubectl krew install --manifest --archive`, a custom index added
// with `kubectl krew index add` and installed from over HTTP (loopback), and
// the installed plugin run through kubectl's plugin dispatch.
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO } from '../../../scripts/release/bundle.js';
import { renderManifest } from '../../../scripts/release/krew.js';
import type { PlatformValues } from '../../../scripts/release/krew.js';
import { run } from '../../../scripts/release/proc.js';
import { TARGETS, target } from '../../../scripts/release/targets.js';
import { cleanEnv, linkFarm, runBin } from '../helpers.js';
import { cliArchive, cliBinary, smoke } from './context.js';
import type { SmokeContext } from './context.js';

const ctx = smoke();

/** A PATH directory with kubectl and krew as kubectl finds it (kubectl-krew). */
function toolDir(c: SmokeContext): string {
  const dir = join(c.dir, 'tools-bin');
  try {
    lstatSync(join(dir, 'kubectl'));
  } catch {
    mkdirSync(dir, { recursive: true });
    symlinkSync(c.tools.kubectl, join(dir, 'kubectl'));
    symlinkSync(c.tools.krew, join(dir, 'kubectl-krew'));
  }
  return dir;
}

/** krew never goes to the network by itself here: no upgrade check, no default index. */
function krewEnv(krewRoot: string, ...pathDirs: string[]): NodeJS.ProcessEnv {
  return cleanEnv({
    KREW_ROOT: krewRoot,
    KREW_NO_UPGRADE_CHECK: '1',
    PATH: [...pathDirs, toolDir(ctx), '/usr/bin', '/bin'].join(':'),
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
  });
}

function kubectl(args: readonly string[], env: NodeJS.ProcessEnv) {
  return run(join(toolDir(ctx), 'kubectl'), args, { env, allowFailure: true, timeoutMs: 300_000 });
}

/** The release manifest, pointed at the loopback server instead of GitHub. */
function localManifest(dir: string): string {
  const sums = new Map(
    readFileSync(join(ctx.release, 'checksums.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).reverse() as [string, string]),
  );
  const values: PlatformValues = {};
  for (const t of TARGETS) {
    const name = cliArchive(ctx, t).split('/').pop() as string;
    values[`${t.os}/${t.arch}`] = { uri: `${ctx.url}/${name}`, sha256: sums.get(name) as string };
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'cnpg-disk.yaml');
  writeFileSync(file, renderManifest(readFileSync(join(REPO, 'krew/cnpg-disk.yaml'), 'utf8'), ctx.version, values));
  return file;
}

async function reference(): Promise<string> {
  const r = await runBin(cliBinary(ctx, 'linux-x64'), ['disk', 'status', '--help']);
  expect(r.status).toBe(0);
  return r.stdout;
}

describe("krew's validator", () => {
  it('accepts the released manifest (structure, selectors, no overlap)', async () => {
    const r = await run(
      ctx.tools['validate-krew-manifest'],
      ['-manifest', join(ctx.release, 'krew/cnpg-disk.yaml'), '-skip-install'],
      { allowFailure: true },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('structural validation OK');
    expect(r.stderr).toContain('no overlapping spec.platform[].selector');
  });

  it('installs every one of the six platforms from the archives, checksums and LICENSE included', async () => {
    const manifest = localManifest(join(ctx.dir, 'validate'));
    const r = await run(ctx.tools['validate-krew-manifest'], ['-manifest', manifest], {
      env: krewEnv(join(ctx.dir, 'unused-krew-root')),
      allowFailure: true,
      timeoutMs: 600_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('all 6 spec.platforms installed fine');
  }, 600_000);

  it('rejects the manifest when a checksum does not match the archive (so the test above can fail)', async () => {
    const dir = join(ctx.dir, 'validate-bad');
    const good = readFileSync(localManifest(dir), 'utf8');
    const sum = /sha256: '?([a-f0-9]{64})/.exec(good)?.[1] as string;
    writeFileSync(
      join(dir, 'cnpg-disk.yaml'),
      good.replace(
        sum,
        sum.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      ),
    );
    const r = await run(ctx.tools['validate-krew-manifest'], ['-manifest', join(dir, 'cnpg-disk.yaml')], {
      env: krewEnv(join(ctx.dir, 'unused-krew-root-2')),
      allowFailure: true,
      timeoutMs: 600_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/sha256|checksum/i);
  }, 600_000);
});

describe('kubectl krew install --manifest --archive', () => {
  it('installs the plugin as kubectl-cnpg_disk, and kubectl runs it as `kubectl cnpg-disk`', async () => {
    const root = join(ctx.dir, 'krew-manifest');
    const env = krewEnv(root, join(root, 'bin'));
    const manifest = localManifest(join(ctx.dir, 'manifest'));
    const archive = cliArchive(ctx, target('linux-x64'));
    const inst = await kubectl(['krew', 'install', `--manifest=${manifest}`, `--archive=${archive}`], env);
    expect(inst.status, inst.stderr).toBe(0);
    expect(inst.stderr).toContain('kubectl cnpg-disk'); // the caveats are shown

    const link = join(root, 'bin', 'kubectl-cnpg_disk');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(join(root, 'store', 'cnpg-disk', `v${ctx.version}`, 'kubectl-cnpg'));
    expect(readFileSync(link).equals(readFileSync(cliBinary(ctx, 'linux-x64')))).toBe(true);

    const viaKubectl = await kubectl(['cnpg-disk', 'status', '--help'], env);
    expect(viaKubectl.status, viaKubectl.stderr).toBe(0);
    expect(viaKubectl.stdout).toBe(await reference());

    const list = await kubectl(['plugin', 'list'], env);
    expect(list.stdout).toContain(link);

    // The caveat's second name gives `kubectl cnpg disk …`.
    symlinkSync('kubectl-cnpg_disk', join(root, 'bin', 'kubectl-cnpg-disk'));
    const disk = await kubectl(['cnpg', 'disk', 'status', '--help'], env);
    expect(disk.status, disk.stderr).toBe(0);
    expect(disk.stdout).toBe(await reference());
  }, 300_000);
});

describe('custom index (plugins.yaml → krew-index/)', () => {
  it('kubectl krew index add, install cnpg-disk/cnpg-disk over HTTP, run, list, uninstall', async () => {
    // The index tree the release wrote, with the loopback URLs, as a git repository.
    const repo = join(ctx.dir, 'index-repo');
    localManifest(join(repo, 'plugins'));
    const git = (args: string[]) =>
      run('git', args, {
        cwd: repo,
        env: cleanEnv({
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.invalid',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.invalid',
        }),
      });
    await git(['init', '-q', '-b', 'main']);
    await git(['add', 'plugins']);
    await git(['commit', '-q', '-m', 'index']);

    const root = join(ctx.dir, 'krew-index-root');
    const env = krewEnv(root, join(root, 'bin'));
    const add = await kubectl(['krew', 'index', 'add', 'cnpg-disk', repo], env);
    expect(add.status, add.stderr).toBe(0);
    const search = await kubectl(['krew', 'search', 'cnpg-disk'], env);
    expect(search.stdout).toMatch(/cnpg-disk\/cnpg-disk\s+Disk space/);

    const inst = await kubectl(['krew', 'install', 'cnpg-disk/cnpg-disk'], env);
    expect(inst.status, inst.stderr).toBe(0);
    const r = await kubectl(['cnpg-disk', 'status', '--help'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(await reference());

    const list = await kubectl(['krew', 'list'], env);
    expect(list.stdout).toMatch(/^cnpg-disk\/cnpg-disk$/m); // not a terminal: names only
    const un = await kubectl(['krew', 'uninstall', 'cnpg-disk'], env);
    expect(un.status, un.stderr).toBe(0);
    const gone = await kubectl(['cnpg-disk', 'status', '--help'], env);
    expect(gone.status).not.toBe(0);
  }, 300_000);
});

describe('standalone install (no krew): the archive binary on PATH as kubectl-cnpg', () => {
  it('kubectl cnpg disk status reaches it', async () => {
    const dir = join(ctx.dir, 'standalone');
    linkFarm(dir, cliBinary(ctx, 'linux-x64'), ['kubectl-cnpg']);
    const r = await kubectl(['cnpg', 'disk', 'status', '--help'], krewEnv(join(ctx.dir, 'unused'), dir));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(await reference());
  });
});
