/**
 * Global setup of the smoke suite: checks the system tools, builds the CLI
 * (tsc -b), the real krew / kubectl / official kubectl-cnpg (tools.sh), runs
 * the whole release into a scratch directory, and serves it on loopback for
 * krew to download from.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { REPO } from '../../../scripts/release/bundle.js';
import { run } from '../../../scripts/release/proc.js';
import { release } from '../../../scripts/release/release.js';
import { writeSampleBundle } from '../helpers.js';
import { SMOKE_ENV } from './context.js';
import type { SmokeContext } from './context.js';

const REQUIRED: Array<[string, string]> = [
  ['/usr/bin/qemu-aarch64', 'qemu-user'],
  ['/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1', 'libc6-arm64-cross'],
  ['/usr/bin/wine', 'wine'],
  ['/usr/bin/x86_64-w64-mingw32-gcc', 'gcc-mingw-w64-x86-64-win32'],
  ['/usr/bin/git', 'git'],
  ['/usr/bin/unzip', 'unzip'],
];

function log(msg: string): void {
  process.stderr.write(`[release smoke] ${msg}\n`);
}

export default async function setup(): Promise<() => Promise<void>> {
  const missing = REQUIRED.filter(([f]) => !existsSync(f)).map(([, pkg]) => pkg);
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: run test/release/install-deps.sh (as root) first`);
  }
  const started = Date.now();
  log('tsc -b src packages/probe');
  await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-b', 'src', 'packages/probe'], {
    cwd: REPO,
  });

  log('tools (krew, validate-krew-manifest, official kubectl-cnpg, kubectl) from Go modules; first run takes minutes');
  const toolsOut = await run('bash', [join(REPO, 'scripts/release/tools.sh')], { cwd: REPO });
  const tools = Object.fromEntries(
    toolsOut.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  ) as SmokeContext['tools'];

  const dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-smoke-'));
  log(`release into ${dir}/release`);
  const res = await release({ out: join(dir, 'release'), build: true });
  const sample = await writeSampleBundle(dir);

  // Loopback only: krew downloads the archives from here.
  const server = createServer((req, res) => {
    const name = basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(dir, 'release', name);
    if (req.method !== 'GET' || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const ctx: SmokeContext = {
    dir,
    release: join(dir, 'release'),
    version: res.version,
    url: `http://127.0.0.1:${port}`,
    tools,
    sample,
  };
  process.env[SMOKE_ENV] = JSON.stringify(ctx);
  log(`ready in ${Math.round((Date.now() - started) / 1000)} s`);

  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!process.env.CNPG_DISK_SMOKE_KEEP) rmSync(dir, { recursive: true, force: true });
  };
}
