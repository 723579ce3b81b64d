// Beside CloudNativePG's own kubectl plugin (built from its Go module at the
// version test/infra pins, tools.sh), through real kubectl plugin dispatch:
// ours installed as kubectl-cnpg-disk (or by krew as kubectl-cnpg_disk) takes
// `kubectl cnpg disk …` (or `kubectl cnpg-disk …`) and every other
// `kubectl cnpg …` still reaches the official plugin.
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { run } from '../../../scripts/release/proc.js';
import { cleanEnv, linkFarm, runBin } from '../helpers.js';
import { cliBinary, smoke } from './context.js';

const ctx = smoke();
const official = ctx.tools['kubectl-cnpg'];
const ours = cliBinary(ctx, 'linux-x64');

function kubectl(args: readonly string[], pathDir: string) {
  return run(ctx.tools.kubectl, args, {
    env: cleanEnv({ PATH: [pathDir, '/usr/bin', '/bin'].join(':'), KUBECONFIG: '/dev/null' }),
    allowFailure: true,
    timeoutMs: 120_000,
  });
}

let officialStatusHelp: string;
let officialVersion: string;
let oursDiskStatusHelp: string;
let oursRootHelp: string;

beforeAll(async () => {
  const [a, b, c, d] = await Promise.all([
    run(official, ['status', '--help']),
    run(official, ['version']),
    runBin(ours, ['disk', 'status', '--help']),
    runBin(ours, ['--help']),
  ]);
  officialStatusHelp = a.stdout;
  officialVersion = b.stdout;
  oursDiskStatusHelp = c.stdout;
  oursRootHelp = d.stdout;
  // The two really are different programs.
  expect(officialVersion).toMatch(/1\.\d+\.\d+/);
  expect(officialStatusHelp).not.toBe(oursDiskStatusHelp);
});

describe('ours as kubectl-cnpg-disk beside the official kubectl-cnpg', () => {
  const dir = join(ctx.dir, 'beside');
  beforeAll(() => {
    linkFarm(dir, official, ['kubectl-cnpg']);
    linkFarm(dir, ours, ['kubectl-cnpg-disk']);
  });

  it('kubectl cnpg status --help still reaches the official plugin', async () => {
    const r = await kubectl(['cnpg', 'status', '--help'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(officialStatusHelp);
  });

  it('kubectl cnpg version still reaches the official plugin', async () => {
    const r = await kubectl(['cnpg', 'version'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(officialVersion);
  });

  it('kubectl cnpg disk status --help reaches ours', async () => {
    const r = await kubectl(['cnpg', 'disk', 'status', '--help'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(oursDiskStatusHelp);
  });

  it('kubectl cnpg disk --help shows our commands', async () => {
    const r = await kubectl(['cnpg', 'disk', '--help'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(oursRootHelp);
  });

  it('kubectl plugin list shows both without a name clash', async () => {
    const r = await kubectl(['plugin', 'list'], dir);
    expect(r.stdout).toContain(join(dir, 'kubectl-cnpg'));
    expect(r.stdout).toContain(join(dir, 'kubectl-cnpg-disk'));
    expect(r.stderr).not.toMatch(/overshadow|warning/i);
  });
});

describe('ours as krew installs it (kubectl-cnpg_disk) beside the official kubectl-cnpg', () => {
  const dir = join(ctx.dir, 'beside-krew');
  beforeAll(() => {
    linkFarm(dir, official, ['kubectl-cnpg']);
    linkFarm(dir, ours, ['kubectl-cnpg_disk']);
  });

  it('kubectl cnpg-disk status --help reaches ours, kubectl cnpg status --help the official one', async () => {
    const [o, c] = await Promise.all([
      kubectl(['cnpg-disk', 'status', '--help'], dir),
      kubectl(['cnpg', 'status', '--help'], dir),
    ]);
    expect(o.status, o.stderr).toBe(0);
    expect(o.stdout).toBe(oursDiskStatusHelp);
    expect(c.stdout).toBe(officialStatusHelp);
  });

  it('kubectl cnpg disk … is not ours there: it reaches the official plugin, which rejects it', async () => {
    const r = await kubectl(['cnpg', 'disk', 'status', '--help'], dir);
    expect(r.stdout).not.toBe(oursDiskStatusHelp);
  });
});

describe('official and ours both named kubectl-cnpg: the documented wrong way', () => {
  it('kubectl warns that one shadows the other', async () => {
    const a = join(ctx.dir, 'clash-a');
    const b = join(ctx.dir, 'clash-b');
    linkFarm(a, official, ['kubectl-cnpg']);
    linkFarm(b, ours, ['kubectl-cnpg']);
    const r = await run(ctx.tools.kubectl, ['plugin', 'list'], {
      env: cleanEnv({ PATH: [a, b, '/usr/bin', '/bin'].join(':') }),
      allowFailure: true,
    });
    expect(r.stderr).toMatch(/overshadowed|shadowed/i);
  });
});
