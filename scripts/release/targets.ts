/**
 * What we ship and what it is built with: one table, read by the build, the
 * release and the smoke tests.
 *
 * Every binary is a Bun single-file executable (docs/distribution.md says why).
 * The Bun runtime for each platform comes from its npm package
 * `@oven/bun-<platform>`, fetched with `npm pack` and checked against the
 * integrity pinned here, so a build never downloads anything else.
 */

/** Bun release whose runtimes are embedded. Change it together with RUNTIMES. */
export const BUN_VERSION = '1.4.5';

export type Os = 'linux' | 'darwin' | 'windows';
export type Arch = 'amd64' | 'arm64';

export interface Runtime {
  /** npm package holding the Bun executable for this platform. */
  readonly pkg: string;
  /** `dist.integrity` of `${pkg}@${BUN_VERSION}` on the registry. */
  readonly integrity: string;
  /** Path of the executable inside the package tarball. */
  readonly exe: string;
}

export interface Target {
  /** Our name for it: `<os>-<arch>` with Node's arch words (x64, arm64). */
  readonly id: TargetId;
  /** GOOS / GOARCH words: krew selectors and archive names use them. */
  readonly os: Os;
  readonly arch: Arch;
  /** `bun build --compile --target=` value. */
  readonly bunTarget: string;
  readonly runtime: Runtime;
  /** `.exe` on Windows. */
  readonly exeSuffix: string;
  /** Archive format of the release (krew reads both). */
  readonly archive: 'tar.gz' | 'zip';
}

export type TargetId = 'linux-x64' | 'linux-arm64' | 'darwin-x64' | 'darwin-arm64' | 'windows-x64' | 'windows-arm64';

// x64 uses Bun's "baseline" builds (no AVX2 needed): a CLI gains nothing from
// AVX2 and must start on any x86-64 machine, VMs with reduced CPU flags included.
export const TARGETS: readonly Target[] = [
  {
    id: 'linux-x64',
    os: 'linux',
    arch: 'amd64',
    bunTarget: 'bun-linux-x64-baseline',
    runtime: {
      pkg: '@oven/bun-linux-x64-baseline',
      integrity: 'sha512-s8yMwYcFnnrA178gji0gZbkE2WVDej/Ti1x770oPfihxyRxSMNhGhiAQNXV53aDeraZxksdvKV/RAdQBCd0qPA==',
      exe: 'package/bin/bun',
    },
    exeSuffix: '',
    archive: 'tar.gz',
  },
  {
    id: 'linux-arm64',
    os: 'linux',
    arch: 'arm64',
    bunTarget: 'bun-linux-arm64',
    runtime: {
      pkg: '@oven/bun-linux-aarch64',
      integrity: 'sha512-4BXmsSKnjOrlGWqZV4x/oWa7AVoR+B6lCXddMzOAXBIm3t50eslg9wb66gmtW1AamEQ1l1CDvmmruysEhqOWMg==',
      exe: 'package/bin/bun',
    },
    exeSuffix: '',
    archive: 'tar.gz',
  },
  {
    id: 'darwin-x64',
    os: 'darwin',
    arch: 'amd64',
    bunTarget: 'bun-darwin-x64-baseline',
    runtime: {
      pkg: '@oven/bun-darwin-x64-baseline',
      integrity: 'sha512-zqfLA5A4B+hYMh5WYzYSot3uZ06FzhdP0OEwQisEzdirYtXGj5cQFlfy31BGfNsAsk1Gd/w/OxJ/jqqJ3cMclw==',
      exe: 'package/bin/bun',
    },
    exeSuffix: '',
    archive: 'tar.gz',
  },
  {
    id: 'darwin-arm64',
    os: 'darwin',
    arch: 'arm64',
    bunTarget: 'bun-darwin-arm64',
    runtime: {
      pkg: '@oven/bun-darwin-aarch64',
      integrity: 'sha512-4MIFXHmctH2EhAxLXm2/qxNtv17dFtLJylvaOCsrgq6KSqHTs6eW5YSrJjRbJxYUJaR901fsN8JfZOa+CsWpWQ==',
      exe: 'package/bin/bun',
    },
    exeSuffix: '',
    archive: 'tar.gz',
  },
  {
    id: 'windows-x64',
    os: 'windows',
    arch: 'amd64',
    bunTarget: 'bun-windows-x64-baseline',
    runtime: {
      pkg: '@oven/bun-windows-x64-baseline',
      integrity: 'sha512-/U3Dc74uGqE6EUqef7mPtg9KwJs7iJH4JHRMfIZIn18MrJh6Xz4gVvWDXRvzCL2j8wPlTnJVyrO4n7Qq4uM7TQ==',
      exe: 'package/bin/bun.exe',
    },
    exeSuffix: '.exe',
    archive: 'zip',
  },
  {
    id: 'windows-arm64',
    os: 'windows',
    arch: 'arm64',
    bunTarget: 'bun-windows-arm64',
    runtime: {
      pkg: '@oven/bun-windows-aarch64',
      integrity: 'sha512-MiPFZnBNDnBXgr1oONc5pizC4fOLjnIOfNkYdFEnWzLmoFTg86naZIG3SvS7d/GglpQSAnCKMAzSjI/TAckiRw==',
      exe: 'package/bin/bun.exe',
    },
    exeSuffix: '.exe',
    archive: 'zip',
  },
];

/** The probe runs beside PostgreSQL on Linux nodes only. */
export const PROBE_TARGET_IDS: readonly TargetId[] = ['linux-x64', 'linux-arm64'];

export function target(id: string): Target {
  const t = TARGETS.find((x) => x.id === id);
  if (!t) throw new Error(`unknown target '${id}' (known: ${TARGETS.map((x) => x.id).join(', ')})`);
  return t;
}

/** The target whose Bun can run on this machine: it does the bundling and compiling. */
export function hostTarget(platform: string = process.platform, arch: string = process.arch): Target {
  const os = platform === 'win32' ? 'windows' : platform;
  return target(`${os}-${arch}`);
}

/** Name of the CLI binary as shipped in the archives (and as `kubectl` finds it standalone). */
export const CLI_BIN = 'kubectl-cnpg';
/** Name of the probe binary. */
export const PROBE_BIN = 'cnpg-disk-probe';
/** krew plugin name: `kubectl krew install cnpg-disk`, invoked as `kubectl cnpg-disk`. */
export const KREW_PLUGIN = 'cnpg-disk';

export function archiveName(bin: string, version: string, t: Target): string {
  return `${bin}_${version}_${t.os}_${t.arch}.${t.archive}`;
}
