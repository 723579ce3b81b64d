// The end-to-end suite (npm run e2e): real cluster, real CloudNativePG, real
// PostgreSQL. Not part of `npm test`. See docs/e2e.md.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    // One cluster on two cores: one file at a time, tests in order.
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 15 * 60_000,
    reporters: ['verbose'],
  },
});
