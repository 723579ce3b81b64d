/**
 * `npm run release:measure`: sizes of the binaries and archives, and start-up
 * times (a new process each run, hyperfine) of what can run here, against
 * `node bin/run.js` for comparison. Prints figures; asserts nothing.
 *
 *   tsx scripts/release/measure.ts [--out DIR] [--runs N] [--drop-caches]
 *
 * DIR is a release directory (default dist/release; `npm run release` first).
 * --drop-caches empties the page cache before every run (root; slows the
 * whole machine for a moment): the first start after installing or a reboot.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { REPO, chunksDirOf } from './bundle.js';
import { run } from './proc.js';
import { defaultReleaseDir } from './release.js';
import { CLI_BIN, PROBE_BIN, TARGETS } from './targets.js';

const MiB = 2 ** 20;

interface Row {
  name: string;
  command: string;
}

async function hyperfine(rows: Row[], runs: number, dropCaches: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-measure-'));
  try {
    const json = join(dir, 'h.json');
    const args = ['--style', 'none', '--runs', String(runs), '--export-json', json, '-N', '--ignore-failure'];
    if (dropCaches) args.push('--prepare', 'sync; echo 3 > /proc/sys/vm/drop_caches');
    else args.push('--warmup', '1');
    for (const r of rows) args.push('-n', r.name, r.command);
    await run('hyperfine', args, { cwd: REPO, timeoutMs: 1_800_000 });
    const res = JSON.parse(readFileSync(json, 'utf8')) as {
      results: Array<{ command: string; mean: number; stddev: number; min: number; user: number; system: number }>;
    };
    console.log(
      `${'command'.padEnd(58)} ${'mean'.padStart(9)} ${'± sd'.padStart(8)} ${'min'.padStart(9)} ${'cpu'.padStart(9)}`,
    );
    for (const r of res.results) {
      const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
      console.log(
        `${r.command.padEnd(58)} ${ms(r.mean).padStart(9)} ${ms(r.stddev).padStart(8)} ${ms(r.min).padStart(9)} ${ms(r.user + r.system).padStart(9)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      runs: { type: 'string', default: '10' },
      'drop-caches': { type: 'boolean', default: false },
      bundle: { type: 'string' },
    },
  });
  const out = values.out ? resolve(values.out) : defaultReleaseDir();
  const build = join(out, 'build');
  if (!existsSync(build)) throw new Error(`${build} does not exist: run npm run release first`);

  console.log('== sizes');
  for (const t of TARGETS) {
    for (const name of [CLI_BIN + t.exeSuffix, PROBE_BIN]) {
      const f = join(build, t.id, name);
      if (existsSync(f))
        console.log(`${t.id.padEnd(14)} ${name.padEnd(18)} ${(statSync(f).size / MiB).toFixed(1).padStart(6)} MiB`);
    }
  }
  for (const f of readdirSync(out).filter((n) => /\.(tar\.gz|zip)$/.test(n))) {
    console.log(`archive ${f.padEnd(50)} ${(statSync(join(out, f)).size / MiB).toFixed(1).padStart(6)} MiB`);
  }
  for (const b of ['kubectl-cnpg.js', 'cnpg-disk-probe.js']) {
    const f = join(build, 'bundle', b);
    if (!existsSync(f)) continue;
    // The CLI's bundle is split: its entry plus the chunks its dynamic imports load.
    const chunks = chunksDirOf(f);
    const bytes =
      statSync(f).size +
      (existsSync(chunks) ? readdirSync(chunks).reduce((sum, c) => sum + statSync(join(chunks, c)).size, 0) : 0);
    console.log(`bundle ${b.padEnd(51)} ${(bytes / MiB).toFixed(1).padStart(6)} MiB`);
  }

  const runs = Number(values.runs);
  const x64 = join(build, 'linux-x64', CLI_BIN);
  const probe = join(build, 'linux-x64', PROBE_BIN);
  const bundle = values.bundle ? resolve(values.bundle) : undefined;
  const rows: Row[] = [
    { name: 'linux-x64 kubectl-cnpg --help', command: `${x64} --help` },
    { name: 'node bin/run.js --help', command: `node bin/run.js --help` },
    { name: 'linux-x64 cnpg-disk-probe --help', command: `${probe} --help` },
    { name: 'node packages/probe/dist/bin.js --help', command: 'node packages/probe/dist/bin.js --help' },
  ];
  if (bundle) {
    rows.push(
      {
        name: 'linux-x64 kubectl-cnpg disk status --from-bundle',
        command: `${x64} disk status --from-bundle ${bundle}`,
      },
      {
        name: 'node bin/run.js disk status --from-bundle',
        command: `node bin/run.js disk status --from-bundle ${bundle}`,
      },
    );
  }
  console.log(
    `\n== start-up, ${runs} runs each${values['drop-caches'] ? ', page cache dropped before each' : ' (warm page cache)'}`,
  );
  await hyperfine(rows, runs, values['drop-caches'] ?? false);

  const arm = join(build, 'linux-arm64', CLI_BIN);
  if (existsSync('/usr/bin/qemu-aarch64') && existsSync(arm)) {
    console.log('\n== linux-arm64 under qemu-user (emulated: for orientation only)');
    await hyperfine(
      [
        {
          name: 'qemu linux-arm64 kubectl-cnpg --help',
          command: `qemu-aarch64 -L /usr/aarch64-linux-gnu ${arm} --help`,
        },
      ],
      Math.min(runs, 3),
      false,
    );
  }
}

main().catch((e: unknown) => {
  console.error(`measure: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
