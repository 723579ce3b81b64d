// Every binary of the release, on every platform that can run here: linux-x64
// natively, linux-arm64 under qemu-user, windows-x64 under wine; the macOS
// and windows-arm64 ones are checked for format and (macOS) a valid ad-hoc
// signature, since nothing here can execute them.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { bundleInputs, probeInputs } from '../../../scripts/release/bundle.js';
import { adhocSign } from '../../../scripts/release/macho-sign.js';
import { run } from '../../../scripts/release/proc.js';
import { hostBun, runtimeFor } from '../../../scripts/release/runtimes.js';
import { target } from '../../../scripts/release/targets.js';
import { readElf, readMachO, readPe } from '../executable-format.js';
import { REPO, cleanEnv, linkFarm, runBin, runNode, withoutRuntime } from '../helpers.js';
import { cliBinary, probeBinary, smoke } from './context.js';

const ctx = smoke();
const QEMU = ['/usr/bin/qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'];

function qemu(file: string, args: readonly string[], cwd?: string) {
  return run(QEMU[0] as string, [...QEMU.slice(1), file, ...args], {
    env: cleanEnv(),
    allowFailure: true,
    timeoutMs: 180_000,
    ...(cwd ? { cwd } : {}),
  });
}

describe('linux-arm64 binaries under qemu-user', () => {
  const bin = cliBinary(ctx, 'linux-arm64');

  it('are aarch64 ELF executables', () => {
    expect(readElf(readFileSync(bin))).toMatchObject({ bits: 64, machine: 'aarch64' });
    expect(readElf(readFileSync(probeBinary(ctx, 'linux-arm64')))).toMatchObject({ machine: 'aarch64' });
  });

  it('kubectl-cnpg prints the same --help as the Node CLI', async () => {
    const [b, n] = await Promise.all([qemu(bin, ['--help']), runNode(['--help'])]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toContain('linux-arm64');
    expect(withoutRuntime(b.stdout)).toBe(withoutRuntime(n.stdout));
  });

  it('kubectl-cnpg reads a support bundle like the Node CLI', async () => {
    const args = ['disk', 'status', '--from-bundle', ctx.sample.tgz, '-o', 'json'];
    const [b, n] = await Promise.all([qemu(bin, args), runNode(args)]);
    expect(b.status).toBe(n.status);
    expect(b.stdout).toBe(n.stdout);
    expect(b.stdout).toContain('"orders"');
  });

  it('answers to kubectl-cnpg-disk as if "disk" had been typed', async () => {
    const names = linkFarm(join(ctx.dir, 'arm64-names'), bin, ['kubectl-cnpg-disk']);
    const [b, n] = await Promise.all([
      qemu(names['kubectl-cnpg-disk'] as string, ['status', '--help']),
      runNode(['disk', 'status', '--help']),
    ]);
    expect(b.status).toBe(0);
    expect(b.stdout).toBe(n.stdout);
  });

  it('cnpg-disk-probe prints the same --help as the Node probe', async () => {
    const probe = join(REPO, 'packages/probe/dist/bin.js');
    const [b, n] = await Promise.all([
      qemu(probeBinary(ctx, 'linux-arm64'), ['--help']),
      run(process.execPath, [probe, '--help'], { allowFailure: true }),
    ]);
    expect(b.status).toBe(0);
    expect(b.stdout).toBe(n.stdout);
  });
});

describe('cnpg-disk-probe measures a real filesystem like the Node probe', () => {
  // A tmpfs of a known size laid out like a CNPG data volume, with WAL files
  // waiting for the archiver: statfs and the archive_status scan through the
  // binary's runtime (Bun, and Bun under qemu for arm64) against Node's.
  let root: string;
  beforeAll(async () => {
    root = join(ctx.dir, 'probe-root');
    const data = join(root, 'var/lib/postgresql/data');
    mkdirSync(data, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64m,nr_inodes=4096', 'cnpg-disk-smoke', data]);
    const wal = join(data, 'pgdata/pg_wal');
    mkdirSync(join(wal, 'archive_status'), { recursive: true });
    for (let i = 1; i <= 3; i++) {
      const seg = `00000001000000000000000${i}`;
      writeFileSync(join(wal, seg), Buffer.alloc(1024 * 1024, i));
      writeFileSync(join(wal, 'archive_status', `${seg}.${i === 1 ? 'done' : 'ready'}`), '');
    }
    return async () => {
      await run('umount', [data]);
    };
  });

  const normalise = (json: string): unknown =>
    JSON.parse(json, (k: string, v: unknown) => (k === 'observedAt' ? '<time>' : v)) as unknown;

  for (const id of ['linux-x64', 'linux-arm64'] as const) {
    it(`${id}: once --no-sql gives the same report`, async () => {
      const args = ['once', '--no-sql', '--root', root, '--instance', 'pg-1', '--namespace', 'db'];
      const bin = probeBinary(ctx, id);
      const [b, n] = await Promise.all([
        id === 'linux-x64' ? runBin(bin, args) : qemu(bin, args),
        run(process.execPath, [join(REPO, 'packages/probe/dist/bin.js'), ...args], { allowFailure: true }),
      ]);
      expect(b.status, b.stderr).toBe(n.status);
      expect(normalise(b.stdout)).toEqual(normalise(n.stdout));
      const report = JSON.parse(b.stdout) as {
        volumes: Array<{ filesystem: { totalBytes: string } }>;
        wal: { readyFiles: number; doneFiles: number };
      };
      expect(report.volumes[0]?.filesystem.totalBytes).toBe(String(64 * 2 ** 20));
      expect(report.wal).toMatchObject({ readyFiles: 2, doneFiles: 1 });
    });
  }
});

describe('windows-x64 binary under wine', () => {
  // wine 8.0 (Debian 12) lacks ProcessPrng, which Bun's Windows runtime
  // imports: test/release/wine/ builds a stand-in DLL that sits beside the exe
  // (the application directory comes first in the DLL search order).
  const app = join(ctx.dir, 'wine-app');
  const env = cleanEnv({
    WINEPREFIX: join(process.env.CNPG_DISK_CACHE || join(homedir(), '.cache/cnpg-disk'), 'wine-prefix'),
    WINEDEBUG: '-all',
  });
  const wine = (exe: string, args: readonly string[]) =>
    run('wine', [join(app, exe), ...args], { env, cwd: app, allowFailure: true, timeoutMs: 300_000 });

  beforeAll(async () => {
    mkdirSync(app, { recursive: true });
    const exe = cliBinary(ctx, 'windows-x64');
    copyFileSync(exe, join(app, 'kubectl-cnpg.exe'));
    copyFileSync(exe, join(app, 'kubectl-cnpg-disk.exe'));
    const src = join(REPO, 'test/release/wine');
    await run('x86_64-w64-mingw32-gcc', [
      '-O2',
      '-shared',
      '-o',
      join(app, 'bcryptprimitives.dll'),
      join(src, 'bcryptprimitives.c'),
      join(src, 'bcryptprimitives.def'),
      '-lbcrypt',
    ]);
  }, 120_000);

  it('is a PE32+ x86-64 console executable', () => {
    expect(readPe(readFileSync(cliBinary(ctx, 'windows-x64')))).toEqual({
      format: 'pe',
      machine: 'x86-64',
      pe32plus: true,
      subsystem: 'console',
    });
  });

  it('prints the same --help as the Node CLI', async () => {
    const [b, n] = await Promise.all([wine('kubectl-cnpg.exe', ['--help']), runNode(['--help'])]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toContain('win32-x64');
    expect(withoutRuntime(b.stdout)).toBe(withoutRuntime(n.stdout));
  }, 300_000);

  it('answers to kubectl-cnpg-disk.exe as if "disk" had been typed', async () => {
    const [b, n] = await Promise.all([
      wine('kubectl-cnpg-disk.exe', ['status', '--help']),
      runNode(['disk', 'status', '--help']),
    ]);
    expect(b.status).toBe(0);
    expect(withoutRuntime(b.stdout)).toBe(n.stdout);
  }, 300_000);
});

describe('windows-arm64 binary', () => {
  it('is a PE32+ arm64 console executable (nothing here runs Windows on arm64)', () => {
    expect(readPe(readFileSync(cliBinary(ctx, 'windows-arm64')))).toEqual({
      format: 'pe',
      machine: 'arm64',
      pe32plus: true,
      subsystem: 'console',
    });
  });
});

describe('macOS binaries (nothing here runs macOS)', () => {
  for (const [id, cpu] of [
    ['darwin-arm64', 'arm64'],
    ['darwin-x64', 'x86-64'],
  ] as const) {
    it(`${id} is a Mach-O ${cpu} executable with a valid ad-hoc signature`, () => {
      const info = readMachO(readFileSync(cliBinary(ctx, id)));
      expect(info).toMatchObject({ cpu, executable: true, signed: true });
      expect(info.signature).toMatchObject({
        adhoc: true,
        hashType: 'sha256',
        identifier: 'kubectl-cnpg',
        pagesMatch: true,
      });
    });
  }

  it('a changed byte breaks the signature check (so the check above can fail)', () => {
    const b = readFileSync(cliBinary(ctx, 'darwin-x64'));
    b[4096 * 3 + 7] = (b[4096 * 3 + 7] as number) ^ 0xff;
    expect(readMachO(b).signature?.pagesMatch).toBe(false);
  });

  it("our signer writes exactly what Bun writes for darwin-arm64 (Bun's own signature is valid there)", async () => {
    // Raw Bun output, not re-signed by compile.ts.
    const raw = join(ctx.dir, 'raw-darwin-arm64');
    const t = target('darwin-arm64');
    await run(await hostBun(), [
      'build',
      join(ctx.release, 'build/bundle/kubectl-cnpg.js'),
      '--compile',
      `--target=${t.bunTarget}`,
      `--compile-executable-path=${await runtimeFor(t)}`,
      '--no-compile-autoload-dotenv',
      '--no-compile-autoload-bunfig',
      `--outfile=${raw}`,
    ]);
    const bunSigned = readFileSync(raw);
    expect(readMachO(bunSigned).signature).toMatchObject({ identifier: 'a.out', pagesMatch: true });
    expect(adhocSign(bunSigned, 'a.out').equals(bunSigned)).toBe(true);
  }, 120_000);
});

describe('what the CLI binary holds', () => {
  it('nothing of the probe, while the probe bundle does hold what the check looks for', () => {
    const cli = bundleInputs(join(ctx.release, 'build/bundle/kubectl-cnpg.js'));
    const probe = bundleInputs(join(ctx.release, 'build/bundle/cnpg-disk-probe.js'));
    expect(probeInputs(cli)).toEqual([]);
    const flagged = probeInputs(probe);
    expect(flagged.some((i) => i.includes('node_modules/pg/'))).toBe(true);
    expect(flagged.some((i) => i.startsWith('packages/probe/'))).toBe(true);
  });
});
