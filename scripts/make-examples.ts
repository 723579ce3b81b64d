// Makes the sample support bundles in examples/ with the REAL tooling:
//   npx tsx scripts/make-examples.ts
// starts the real kube-apiserver of test/infra (root; binaries from
// test/infra/build-k8s.sh), seeds three CloudNativePG clusters
// (scripts/make-examples.scenarios.ts says what is real and what is
// simulated), builds the CLI and runs `kubectl-cnpg diagnose --bundle` as a
// read-only support identity (no exec, no secrets) for each cluster.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  grantClusterRole,
  healthyScenario,
  instanceDownScenario,
  seedCluster,
  startWorld,
  SUPPORT_RULES,
  walArchiveFailingScenario,
} from './make-examples.scenarios.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repo, 'examples');

const EXAMPLES = [
  { file: 'healthy.tar.gz', scenario: healthyScenario() },
  { file: 'wal-archive-failing.tar.gz', scenario: walArchiveFailingScenario() },
  { file: 'instance-down-exit-code-4.tar.gz', scenario: instanceDownScenario() },
];

function runNode(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: repo, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function main(): Promise<void> {
  process.stderr.write('building the CLI (tsc -b)\n');
  execFileSync('npx', ['tsc', '-b'], { cwd: repo, stdio: 'inherit' });
  process.stderr.write('starting kube-apiserver + etcd, seeding clusters\n');
  const world = await startWorld();
  try {
    for (const e of EXAMPLES) await seedCluster(world, e.scenario);
    const kubeconfig = await grantClusterRole(world, 'cnpg-disk-support', SUPPORT_RULES, 'cnpg-disk:support');
    mkdirSync(out, { recursive: true });
    for (const e of EXAMPLES) {
      const file = join(out, e.file);
      const args = [
        join(repo, 'bin', 'run.js'),
        'diagnose',
        e.scenario.name,
        '-n',
        e.scenario.namespace,
        '--kubeconfig',
        kubeconfig,
        '--bundle',
        file,
        '--force', // regenerating: replace the committed example
      ];
      // Asynchronously: the simulated kubelet and instances answer from this process.
      const r = await runNode(args);
      process.stderr.write(`\n$ kubectl-cnpg ${args.slice(1).join(' ')}\n${r.stderr}${r.stdout}(exit ${r.status})\n`);
      if (r.status === null || r.status > 3)
        throw new Error(`diagnose --bundle for ${e.file} failed with exit ${r.status}`);
    }
  } finally {
    await world.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`make-examples: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
