/** What the smoke suite's global setup (setup.ts) built, as the test files see it. */
import { join } from 'node:path';

import { CLI_BIN, PROBE_BIN, archiveName, target } from '../../../scripts/release/targets.js';
import type { Target, TargetId } from '../../../scripts/release/targets.js';

export interface SmokeContext {
  /** Scratch directory of this run (removed at the end). */
  dir: string;
  /** `npm run release` output made by the setup (archives, checksums, krew/, krew-index/, build/). */
  release: string;
  version: string;
  /** http://127.0.0.1:<port> serving `release`. */
  url: string;
  tools: { krew: string; 'validate-krew-manifest': string; 'kubectl-cnpg': string; kubectl: string };
  /** sample support bundle (test/release/helpers.ts) */
  sample: { tgz: string; json: string };
}

export const SMOKE_ENV = 'CNPG_DISK_SMOKE_CONTEXT';

export function smoke(): SmokeContext {
  const raw = process.env[SMOKE_ENV];
  if (!raw) throw new Error('run the smoke suite with npm run release:smoke (its global setup builds everything)');
  return JSON.parse(raw) as SmokeContext;
}

export function cliBinary(ctx: SmokeContext, id: TargetId): string {
  const t = target(id);
  return join(ctx.release, 'build', t.id, CLI_BIN + t.exeSuffix);
}

export function probeBinary(ctx: SmokeContext, id: TargetId): string {
  return join(ctx.release, 'build', id, PROBE_BIN);
}

export function cliArchive(ctx: SmokeContext, t: Target): string {
  return join(ctx.release, archiveName(CLI_BIN, ctx.version, t));
}
