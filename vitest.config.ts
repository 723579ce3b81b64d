import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run against the sources of the workspace packages, not their builds.
    alias: {
      '@cnpg-disk/core': fileURLToPath(new URL('./packages/core/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'test/e2e/**'],
    testTimeout: 20_000,
    coverage: {
      provider: 'v8',
      include: ['packages/core/src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: {
        // packages/core is the source of truth for every decision: keep it fully exercised.
        'packages/core/src/**/*.ts': { branches: 95, lines: 95, functions: 95, statements: 95 },
      },
    },
  },
});
