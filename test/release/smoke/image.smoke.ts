// The controller image (scripts/release/image.ts): buildah builds an OCI
// archive per Linux architecture from the release's binaries; each archive is
// unpacked here and the binary started from the unpacked root filesystem only
// — amd64 with chroot, arm64 under qemu-user pointed at the image's own
// loader and libraries — so an image missing a library fails this test.
// The OCI config must say: user 65532, the binary as entrypoint, the arch.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { buildImage, imageArchiveName, IMAGE_USER } from '../../../scripts/release/image.js';
import { run } from '../../../scripts/release/proc.js';
import { target, type TargetId } from '../../../scripts/release/targets.js';
import { cleanEnv } from '../helpers.js';
import { cliBinary, smoke } from './context.js';

const ctx = smoke();
const work = mkdtempSync(join(ctx.dir, 'image-'));

interface OciIndex {
  manifests: { digest: string; annotations?: Record<string, string> }[];
}
interface OciManifest {
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}
interface OciConfig {
  architecture: string;
  os: string;
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[] };
}

const blob = (dir: string, digest: string) => join(dir, 'blobs', ...digest.split(':'));

async function unpack(archive: string, name: string): Promise<{ config: OciConfig; rootfs: string; tag?: string }> {
  const dir = join(work, name);
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  await run('tar', ['-xf', archive, '-C', dir]);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as OciIndex;
  const m = JSON.parse(readFileSync(blob(dir, index.manifests[0]!.digest), 'utf8')) as OciManifest;
  const config = JSON.parse(readFileSync(blob(dir, m.config.digest), 'utf8')) as OciConfig;
  for (const l of m.layers) await run('tar', ['-xf', blob(dir, l.digest), '-C', rootfs]);
  const tag = index.manifests[0]!.annotations?.['org.opencontainers.image.ref.name'];
  return { config, rootfs, ...(tag ? { tag } : {}) };
}

describe('controller image (buildah, OCI archives)', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each(['linux-x64', 'linux-arm64'] as TargetId[])(
    '%s: builds, and the binary runs from the image alone',
    async (id) => {
      const t = target(id);
      const file = join(work, imageArchiveName(ctx.version, t));
      const r = await buildImage(cliBinary(ctx, id), t, file, ctx.version);
      process.stderr.write(`[image] ${id}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${(r.ms / 1000).toFixed(1)} s\n`);
      const { config, rootfs, tag } = await unpack(file, id);
      expect(config.architecture).toBe(t.arch);
      expect(config.os).toBe('linux');
      expect(config.config.User).toBe(IMAGE_USER);
      expect(config.config.Entrypoint).toEqual(['/usr/local/bin/kubectl-cnpg']);
      expect(tag).toBe(`localhost/kubectl-cnpg-disk:${ctx.version}`);
      const entry = config.config.Entrypoint![0]!;
      const res =
        t.arch === 'amd64'
          ? // A container runtime mounts /proc (the binary reads /proc/self/exe); so does this.
            await run(
              'unshare',
              [
                '--mount',
                '--pid',
                '--fork',
                'sh',
                '-c',
                'mkdir -p "$1/proc" && mount -t proc proc "$1/proc" && exec chroot --userspec "$2" "$1" "$3" --version',
                'sh',
                rootfs,
                IMAGE_USER,
                entry,
              ],
              { env: cleanEnv(), allowFailure: true },
            )
          : await run('/usr/bin/qemu-aarch64', ['-L', rootfs, join(rootfs, entry), '--version'], {
              env: cleanEnv(),
              allowFailure: true,
              timeoutMs: 180_000,
            });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      expect(res.stdout).toContain(ctx.version);
    },
  );
});
