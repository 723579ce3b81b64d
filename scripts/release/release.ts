/**
 * `npm run release`: every binary, the versioned archives, their checksums and
 * the krew manifests, in dist/release/:
 *
 *   kubectl-cnpg_<v>_<os>_<arch>.tar.gz|.zip   binary + LICENSE + README.md (+ the two
 *                                              kubectl_complete-* scripts in .tar.gz)
 *   cnpg-disk-probe_<v>_linux_<arch>.tar.gz    binary + LICENSE + README.md
 *   checksums.txt                              sha256sum format, every archive
 *   krew/cnpg-disk.yaml                        manifest with real sha256 and URLs
 *   krew-index/plugins/cnpg-disk.yaml          the custom index tree (plugins.yaml)
 *   build/                                     bundles and bare binaries
 *
 * Download URLs: CNPG_DISK_RELEASE_BASE_URL (`{version}` is replaced),
 * default https://github.com/cnpg-disk/kubectl-cnpg-disk/releases/download/v{version}.
 *
 *   tsx scripts/release/release.ts [--out DIR] [--no-build]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { tarGz, zip } from './archive.js';
import type { Entry } from './archive.js';
import { REPO } from './bundle.js';
import { binaryPath, build, version as pkgVersion } from './build.js';
import type { Program } from './build.js';
import { archiveUrl, baseUrl, readIndexSpec, renderManifest } from './krew.js';
import type { PlatformValues } from './krew.js';
import { CLI_BIN, PROBE_BIN, PROBE_TARGET_IDS, TARGETS, archiveName } from './targets.js';
import type { Target } from './targets.js';

export interface ReleaseOptions {
  out: string;
  /** Reuse the binaries already in <out>/build. */
  build: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface ReleaseResult {
  version: string;
  archives: Array<{ file: string; sha256: string; bytes: number; program: Program; target: Target }>;
  checksums: string;
  manifests: string[];
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Runs `jobs` at most `limit` at a time (zlib works on the thread pool; 2 cores here). */
async function pool<T>(limit: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

export async function release(opts: ReleaseOptions): Promise<ReleaseResult> {
  const version = pkgVersion();
  const buildDir = join(opts.out, 'build');
  if (opts.build) {
    rmSync(opts.out, { recursive: true, force: true });
    await build({ targets: TARGETS, programs: ['cli', 'probe'], out: buildDir });
  } else {
    for (const f of readdirArchives(opts.out)) rmSync(f, { force: true });
  }
  mkdirSync(opts.out, { recursive: true });

  const license = readFileSync(join(REPO, 'LICENSE'));
  const readme = {
    cli: readFileSync(join(REPO, 'scripts/release/archive-README.md')),
    probe: readFileSync(join(REPO, 'scripts/release/probe-README.md')),
  };
  const completionHelpers: Entry[] = ['kubectl_complete-cnpg', 'kubectl_complete-cnpg-disk'].map((name) => ({
    name,
    data: readFileSync(join(REPO, 'bin', name)),
    mode: 0o755,
  }));
  const jobs: Array<() => Promise<ReleaseResult['archives'][number]>> = [];
  const plan: Array<{ program: Program; t: Target }> = [
    ...TARGETS.map((t) => ({ program: 'cli' as const, t })),
    ...TARGETS.filter((t) => PROBE_TARGET_IDS.includes(t.id)).map((t) => ({ program: 'probe' as const, t })),
  ];
  for (const { program, t } of plan) {
    jobs.push(async () => {
      const bin = (program === 'cli' ? CLI_BIN : PROBE_BIN) + t.exeSuffix;
      const entries: Entry[] = [
        { name: bin, data: readFileSync(binaryPath(buildDir, program, t)), mode: 0o755 },
        { name: 'LICENSE', data: license, mode: 0o644 },
        { name: 'README.md', data: readme[program], mode: 0o644 },
        // kubectl's plugin completion helpers (docs/distribution.md, "Shell completion"); POSIX shells only.
        ...(program === 'cli' && t.archive !== 'zip' ? completionHelpers : []),
      ];
      const data = t.archive === 'zip' ? await zip(entries) : await tarGz(entries);
      const file = join(opts.out, archiveName(program === 'cli' ? CLI_BIN : PROBE_BIN, version, t));
      writeFileSync(file, data);
      return { file, sha256: sha256(data), bytes: data.length, program, target: t };
    });
  }
  const archives = await pool(2, jobs);

  const checksums = join(opts.out, 'checksums.txt');
  writeFileSync(
    checksums,
    archives
      .map((a) => `${a.sha256}  ${a.file.slice(opts.out.length + 1)}\n`)
      .sort()
      .join(''),
  );

  const base = baseUrl(version, opts.env ?? process.env);
  const values: PlatformValues = {};
  for (const a of archives.filter((x) => x.program === 'cli')) {
    values[`${a.target.os}/${a.target.arch}`] = {
      uri: archiveUrl(base, version, a.target.os, a.target.arch),
      sha256: a.sha256,
    };
  }
  const spec = readIndexSpec();
  const manifests: string[] = [];
  for (const p of spec.plugins) {
    const text = renderManifest(readFileSync(join(REPO, p.manifest), 'utf8'), version, values);
    for (const dir of [join(opts.out, 'krew'), join(opts.out, 'krew-index', 'plugins')]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${p.name}.yaml`), text);
      manifests.push(join(dir, `${p.name}.yaml`));
    }
  }
  return { version, archives, checksums, manifests };
}

function readdirArchives(out: string): string[] {
  const names = [...TARGETS.map((t) => archiveName(CLI_BIN, pkgVersion(), t)), 'checksums.txt'];
  return names.map((n) => join(out, n));
}

export function defaultReleaseDir(): string {
  return join(REPO, 'dist/release');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'no-build': { type: 'boolean', default: false } },
  });
  const out = values.out ? resolve(values.out) : defaultReleaseDir();
  const res = await release({ out, build: !values['no-build'] });
  for (const a of res.archives)
    console.log(`${a.sha256}  ${(a.bytes / 2 ** 20).toFixed(1).padStart(6)} MiB  ${a.file}`);
  console.log(`checksums: ${res.checksums}`);
  for (const m of res.manifests) console.log(`krew manifest: ${m}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  main().catch((e: unknown) => {
    console.error(`release: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
