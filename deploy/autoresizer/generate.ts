/**
 * Writes the plain deploy assets of the autoresize controller from their
 * source of truth in src/install (the same objects `disk install` prints):
 *
 *   cnpg-disk-autoresizer.rules.yaml      Prometheus rules file (rule_files)
 *   cnpg-disk-autoresizer.dashboard.json  Grafana dashboard (import it)
 *
 *   npx tsx deploy/autoresizer/generate.ts [--check]
 *
 * --check exits 1 when a file differs from what would be written (the tests
 * run the same comparison).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDeployAssets } from '../../src/controller/install/assets.js';

const dir = import.meta.dirname;
const check = process.argv.includes('--check');
let stale = 0;
for (const [name, text] of Object.entries(renderDeployAssets())) {
  const path = join(dir, name);
  let cur = '';
  try {
    cur = readFileSync(path, 'utf8');
  } catch {
    /* missing: written below */
  }
  if (cur === text) continue;
  if (check) {
    stale++;
    process.stderr.write(`${name} is out of date: run npx tsx deploy/autoresizer/generate.ts\n`);
  } else {
    writeFileSync(path, text);
    process.stdout.write(`wrote ${name}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
