// Runs once before the e2e suite: picks the target cluster and, for the local
// one, brings it up if needed (test/cluster/up.sh is idempotent and fast when
// the cluster already runs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { externalConfig, localConfig, type E2EConfig } from './lib/config.js';

const repoDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export default function setup(project: TestProject): void {
  let cfg: E2EConfig;
  const external = process.env['CNPG_E2E_KUBECONFIG'];
  if (external) {
    if (!existsSync(external)) throw new Error(`CNPG_E2E_KUBECONFIG=${external} does not exist`);
    cfg = externalConfig(repoDir, external);
  } else {
    if (process.getuid?.() !== 0) {
      throw new Error('the local e2e cluster needs root (test/cluster/up.sh); or set CNPG_E2E_KUBECONFIG');
    }
    const started = Date.now();
    const up = spawnSync('bash', [join(repoDir, 'test/cluster/up.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (up.status !== 0) throw new Error(`test/cluster/up.sh failed (exit ${String(up.status)}); see docs/e2e.md`);
    console.error(`[e2e] local cluster ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    cfg = localConfig(repoDir);
  }
  console.error(`[e2e] target: ${cfg.local ? 'local cluster' : cfg.kubeconfig}, storage class ${cfg.storageClass}`);
  project.provide('e2e', cfg);
}
