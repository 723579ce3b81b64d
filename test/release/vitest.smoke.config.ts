// The distribution smoke suite: `npm run release:smoke` (not part of `npm test`:
// it builds every binary, krew, kubectl and the official plugin, and runs
// binaries under qemu and wine; minutes, not seconds).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      '@cnpg-disk/core': fileURLToPath(new URL('../../packages/core/src/index.ts', import.meta.url)),
    },
  },
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/release/smoke/**/*.smoke.ts'],
    globalSetup: ['test/release/smoke/setup.ts'],
    // One file at a time: qemu, wine and krew installs each want the 2 cores.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
