/**
 * `npm run release:image`: the controller's container image, one OCI archive
 * per Linux architecture, built offline with buildah from the release's
 * single binaries (no registry, no Dockerfile, no base image):
 *
 *   dist/release/kubectl-cnpg-disk_<v>_linux_amd64.oci.tar
 *   dist/release/kubectl-cnpg-disk_<v>_linux_arm64.oci.tar
 *
 * Each image is `buildah from scratch` plus:
 *   /usr/local/bin/kubectl-cnpg     the Bun single binary of that architecture
 *   the glibc loader and the four libraries the binary links (ldd: libc,
 *   libpthread, libdl, libm), from the build host for amd64 and from Debian's
 *   libc6-arm64-cross for arm64, with glibc's copyright file
 * and config: user 65532:65532, entrypoint the binary, os/arch set.
 *
 * `npm run release` builds them too (about 6 s per image here); `npm run
 * release -- --no-image` skips them on a runner without buildah, and `npm run
 * release:image` builds only the two Linux binaries and the images. Push step (needs a registry, not done here):
 *   skopeo copy oci-archive:dist/release/kubectl-cnpg-disk_<v>_linux_amd64.oci.tar docker://REGISTRY/kubectl-cnpg-disk:<v>-amd64
 * (same for arm64), then a manifest list joining both:
 *   buildah manifest create kubectl-cnpg-disk:<v> && buildah manifest add ... && buildah manifest push --all ...
 * Or import into a node's containerd directly: ctr -n k8s.io images import <archive>.
 *
 *   tsx scripts/release/image.ts [--out DIR] [--no-build]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { REPO } from './bundle.js';
import { binaryPath, build, defaultOut, version as pkgVersion } from './build.js';
import { run } from './proc.js';
import { target, type Target } from './targets.js';

export const IMAGE_NAME = 'kubectl-cnpg-disk';
/**
 * The name inside the archive. `localhost/` is a domain, so containerd and
 * the kubelet take the name as written after `ctr images import` (a bare
 * `kubectl-cnpg-disk:<v>` would be stored bare but looked up under the
 * default registry's library path, and never found).
 */
export const LOCAL_IMAGE = (v: string): string => `localhost/${IMAGE_NAME}:${v}`;
export const IMAGE_TARGETS = ['linux-x64', 'linux-arm64'] as const;
/** The image's user: the conventional "nonroot" id; the Deployment runs as it too. */
export const IMAGE_USER = '65532:65532';

/** Where glibc's files come from, per architecture. */
const GLIBC: Record<'amd64' | 'arm64', { loader: [string, string]; libDir: string; inImageLibDir: string }> = {
  amd64: {
    loader: ['/lib64/ld-linux-x86-64.so.2', '/lib64/ld-linux-x86-64.so.2'],
    libDir: '/lib/x86_64-linux-gnu',
    inImageLibDir: '/lib/x86_64-linux-gnu',
  },
  arm64: {
    loader: ['/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1', '/lib/ld-linux-aarch64.so.1'],
    libDir: '/usr/aarch64-linux-gnu/lib',
    inImageLibDir: '/lib/aarch64-linux-gnu',
  },
};
const LIBS = ['libc.so.6', 'libpthread.so.0', 'libdl.so.2', 'libm.so.6'];

export function imageArchiveName(v: string, t: Target): string {
  return `${IMAGE_NAME}_${v}_linux_${t.arch}.oci.tar`;
}

export interface ImageResult {
  file: string;
  bytes: number;
  arch: string;
  ms: number;
}

/** buildah with its own storage under `root`, so nothing touches the host's image store. */
function buildah(root: string) {
  const base = ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs'];
  return async (...args: string[]): Promise<string> => (await run('buildah', [...base, ...args])).stdout.trim();
}

export async function buildImage(binary: string, t: Target, outFile: string, v: string): Promise<ImageResult> {
  const started = Date.now();
  const arch = t.arch;
  const g = GLIBC[arch];
  for (const f of [g.loader[0], ...LIBS.map((l) => join(g.libDir, l))]) {
    if (!existsSync(f)) {
      throw new Error(
        `${f} is missing: ${arch === 'arm64' ? 'apt-get install libc6-arm64-cross' : 'this build host has no glibc at the usual path'}`,
      );
    }
  }
  const root = mkdtempSync(join(tmpdir(), 'cnpg-disk-image-'));
  const b = buildah(root);
  try {
    const c = await b('from', '--arch', arch, '--os', 'linux', 'scratch');
    await b('copy', '--chmod', '0755', c, binary, '/usr/local/bin/kubectl-cnpg');
    await b('copy', c, g.loader[0], g.loader[1]);
    for (const l of LIBS) await b('copy', c, join(g.libDir, l), `${g.inImageLibDir}/${l}`);
    const copyright = '/usr/share/doc/libc6/copyright';
    if (existsSync(copyright)) await b('copy', c, copyright, copyright);
    await b('copy', c, join(REPO, 'LICENSE'), '/usr/share/doc/kubectl-cnpg-disk/LICENSE');
    await b(
      'config',
      '--arch',
      arch,
      '--os',
      'linux',
      '--user',
      IMAGE_USER,
      '--workingdir',
      '/',
      '--entrypoint',
      JSON.stringify(['/usr/local/bin/kubectl-cnpg']),
      '--cmd',
      JSON.stringify(['disk', 'autoresize', '--controller', '--all-namespaces']),
      '--env',
      'HOME=/tmp',
      '--label',
      `org.opencontainers.image.title=${IMAGE_NAME}`,
      '--label',
      `org.opencontainers.image.version=${v}`,
      '--label',
      'org.opencontainers.image.licenses=Apache-2.0',
      c,
    );
    mkdirSync(resolve(outFile, '..'), { recursive: true });
    rmSync(outFile, { force: true });
    await b('commit', '--format', 'oci', '--rm', c, `oci-archive:${outFile}:${LOCAL_IMAGE(v)}`);
    return { file: outFile, bytes: statSync(outFile).size, arch, ms: Date.now() - started };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The images of a release whose binaries are in buildDir (release.ts calls this too). */
export async function buildReleaseImages(out: string, buildDir: string): Promise<ImageResult[]> {
  const v = pkgVersion();
  const results: ImageResult[] = [];
  for (const t of IMAGE_TARGETS.map(target)) {
    results.push(await buildImage(binaryPath(buildDir, 'cli', t), t, join(out, imageArchiveName(v, t)), v));
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'no-build': { type: 'boolean', default: false } },
  });
  const out = values.out ? resolve(values.out) : join(REPO, 'dist/release');
  const buildDir = values.out ? join(out, 'build') : defaultOut();
  const targets = IMAGE_TARGETS.map(target);
  const missing = targets.filter((t) => !existsSync(binaryPath(buildDir, 'cli', t)));
  if (missing.length > 0) {
    if (values['no-build']) throw new Error(`no binary for ${missing.map((t) => t.id).join(', ')} in ${buildDir}`);
    await build({ targets: missing, programs: ['cli'], out: buildDir });
  }
  for (const r of await buildReleaseImages(out, buildDir)) {
    console.log(`${basename(r.file)}\t${(r.bytes / 2 ** 20).toFixed(1)} MiB\t${(r.ms / 1000).toFixed(1)} s`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  main().catch((e: unknown) => {
    console.error(`image: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
