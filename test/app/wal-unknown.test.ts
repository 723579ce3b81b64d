// With no WAL facts at all, disk status, diagnose and wal health agree: the
// same WAL_UNKNOWN finding and the same exit code (1), never "healthy" (0).
// Run on a snapshot file through --from-bundle (the path a bundle takes).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toPlain } from '@cnpg-disk/core';
import { runDiagnose } from '../../src/app/diagnose.js';
import { runDiskStatus } from '../../src/app/disk-status.js';
import { runWalHealth } from '../../src/app/wal-health.js';
import type { Deps } from '../../src/cli/deps.js';
import { bufferIO } from '../../src/cli/io.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot } from '../helpers/fixtures.js';

function bundle(conditions?: { type: string; status: string; reason?: string; message?: string }[]): string {
  const c = cluster({ name: 'pg', instances: 1, archiving: true });
  if (conditions) (c.status as Record<string, unknown>)['conditions'] = conditions;
  // The filesystem was measured; WAL was not (e.g. only the kubelet summary was permitted).
  const cs = clusterSnapshot(
    c,
    [pod({ name: 'pg-1' })],
    [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
    [{ pod: 'pg-1', filesystems: { 'pg-1': fs(10, 10) }, errors: [] }],
  );
  const file = join(mkdtempSync(join(tmpdir(), 'wal-unknown-')), 'snapshot.json');
  writeFileSync(file, JSON.stringify(toPlain({ kind: 'Snapshot', ...snapshot([cs]) })));
  return file;
}

async function runAll(file: string) {
  const out: Record<string, { code: number; text: string }> = {};
  const base = { allNamespaces: false, fromBundle: file, source: 'auto' as const, concurrency: 1, measure: true };
  const runs: [string, (d: Deps, output: 'table' | 'json') => Promise<number>][] = [
    ['disk status', (d, output) => runDiskStatus({ ...base, output, verbose: false }, d)],
    ['diagnose', (d, output) => runDiagnose({ ...base, output, verbose: false, redact: true, pluginVersion: 't' }, d)],
    ['wal health', (d, output) => runWalHealth({ ...base, output, verbose: false }, d)],
  ];
  for (const [name, run] of runs) {
    const io = bufferIO({});
    const d: Deps = {
      io,
      now: () => new Date('2026-11-26T00:00:00Z'),
      kube: () => {
        throw new Error('no API server in this test');
      },
    };
    const code = await run(d, 'table');
    out[name] = { code, text: io.out.join('') + io.err.join('') };
  }
  return out;
}

describe('no WAL facts at all', () => {
  it('disk status, diagnose and wal health all exit 1 with WAL_UNKNOWN; none says healthy', async () => {
    const r = await runAll(bundle());
    for (const [name, x] of Object.entries(r)) {
      expect(x.code, name).toBe(1);
      expect(x.text, name).toMatch(/no source gave WAL facts for pg-1/);
    }
    expect(r['wal health']!.text).toMatch(/pg-1\s+primary\s.*\sunknown\s*$/m);
  });

  it('ContinuousArchiving=False on the Cluster: all three exit 2 with ARCHIVE_FAILING', async () => {
    const r = await runAll(
      bundle([{ type: 'ContinuousArchiving', status: 'False', reason: 'Failing', message: 'no space in bucket' }]),
    );
    for (const [name, x] of Object.entries(r)) {
      expect(x.code, name).toBe(2);
      expect(x.text, name).toMatch(/ContinuousArchiving=False, Failing: no space in bucket/);
    }
  });

  it('ContinuousArchiving=True: archiving is known to work, slots and backlog are not — still exit 1', async () => {
    const r = await runAll(bundle([{ type: 'ContinuousArchiving', status: 'True' }]));
    for (const [name, x] of Object.entries(r)) {
      expect(x.code, name).toBe(1);
      expect(x.text, name).toMatch(/archiving working \(ContinuousArchiving=True\)/);
    }
  });
});
