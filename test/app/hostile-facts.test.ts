// Hand-made hostile bundles: malformed facts are never judged and never
// dropped silently. Each rejected fact is a `problem:` line in the text
// output (without -v), and its volume is unmeasured with that reason — never
// "0.0% full (0 B available)". Run through --from-bundle on a snapshot file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toPlain } from '@cnpg-disk/core';
import { runDiskStatus } from '../../src/app/disk-status.js';
import { evaluateSnapshot } from '../../src/analysis/evaluate.js';
import { readBundle } from '../../src/snapshot/bundle.js';
import type { Deps } from '../../src/cli/deps.js';
import { bufferIO } from '../../src/cli/io.js';
import { cluster, clusterSnapshot, pod, pvc, snapshot, wal } from '../helpers/fixtures.js';

const GI = String(1024 ** 3);

function hostileBundle(): string {
  const c = cluster({ name: 'pg', instances: 1, walStorage: true, tablespaces: ['a', 'b', 'ok'] });
  const cs = clusterSnapshot(
    c,
    [pod({ name: 'pg-1' })],
    [
      pvc({ instance: 'pg-1', role: 'PG_DATA', request: '1Gi' }),
      pvc({ instance: 'pg-1', role: 'PG_WAL', request: '1Gi' }),
      pvc({ instance: 'pg-1', role: 'PG_TABLESPACE', tablespace: 'a', request: '1Gi' }),
      pvc({ instance: 'pg-1', role: 'PG_TABLESPACE', tablespace: 'b', request: '1Gi' }),
      pvc({ instance: 'pg-1', role: 'PG_TABLESPACE', tablespace: 'ok', request: '1Gi' }),
    ],
  );
  const doc = toPlain({ kind: 'Snapshot', ...snapshot([cs]) }) as Record<string, unknown>;
  const clusters = doc['clusters'] as Record<string, unknown>[];
  clusters[0]!['measurements'] = [
    {
      pod: 'pg-1',
      errors: [],
      wal: toPlain(wal('pg-1')),
      filesystems: {
        // zero total: would read "0.0% full (0 B available)"
        'pg-1': { totalBytes: '0', usedBytes: '0', availableBytes: '0' },
        // negative used
        'pg-1-wal': { totalBytes: GI, usedBytes: -5, availableBytes: GI },
        // an unparsable quantity where bytes belong
        'pg-1-tbs-a': { totalBytes: '1Gi', usedBytes: '0', availableBytes: GI },
        // more available than the whole filesystem
        'pg-1-tbs-b': { totalBytes: '100', usedBytes: '10', availableBytes: '500' },
        // and one sane volume
        'pg-1-tbs-ok': { totalBytes: GI, usedBytes: '0', availableBytes: GI },
      },
    },
  ];
  // a malformed Cluster next to the good one
  clusters.push({ namespace: 'db', name: 'broken', cluster: 'not an object', pods: [], pvcs: [] });
  const file = join(mkdtempSync(join(tmpdir(), 'hostile-')), 'snapshot.json');
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

describe('malformed facts in a bundle', () => {
  const file = hostileBundle();

  it('every rejected fact is a problem line in the text output, and nothing is judged from it', async () => {
    const io = bufferIO({});
    const d: Deps = {
      io,
      now: () => new Date('2026-11-26T00:00:00Z'),
      kube: () => {
        throw new Error('no API server in this test');
      },
    };
    await runDiskStatus(
      {
        allNamespaces: false,
        fromBundle: file,
        source: 'auto',
        concurrency: 1,
        measure: true,
        output: 'table',
        verbose: false,
      },
      d,
    );
    const err = io.err.join('');
    const out = io.out.join('');
    expect(err).toMatch(/problem: clusters\[0\]\.measurements\[0\]\.filesystems\.pg-1: totalBytes is 0/);
    expect(err).toMatch(
      /problem: .*filesystems\.pg-1-wal\.usedBytes: expected a non-negative whole number of bytes, got -5/,
    );
    expect(err).toMatch(
      /problem: .*filesystems\.pg-1-tbs-a\.totalBytes: expected a non-negative whole number of bytes, got "1Gi"/,
    );
    expect(err).toMatch(/problem: .*filesystems\.pg-1-tbs-b: availableBytes 500 exceeds totalBytes 100/);
    expect(err).toMatch(/problem: clusters\[1\]: not a cluster snapshot, skipped/);
    expect(out + err).not.toMatch(/0\.0% full|0 B available/);
    expect(out).not.toMatch(/VOLUME_NEAR_FULL|full \(/);
  });

  it('a volume with a rejected fact is unmeasured, with that reason', async () => {
    const snap = await readBundle(file);
    const [r] = evaluateSnapshot(snap, { now: Date.parse('2026-11-26T00:00:00Z') });
    const byPvc = new Map(r!.volumes.map((v) => [v.pvcName, v]));
    for (const name of ['pg-1', 'pg-1-wal', 'pg-1-tbs-a', 'pg-1-tbs-b']) {
      expect(byPvc.get(name)?.filesystem, name).toBeUndefined();
      expect(byPvc.get(name)?.unmeasuredReason, name).toBeDefined();
    }
    expect(byPvc.get('pg-1')!.unmeasuredReason).toBe('totalBytes is 0 (no filesystem has size 0)');
    const notMeasured = r!.findings.filter((f) => f.code === 'NOT_MEASURED').map((f) => f.message);
    expect(notMeasured).toContain(
      'pg-1 is unmeasured: its filesystem facts were rejected (totalBytes is 0 (no filesystem has size 0))',
    );
    expect(notMeasured.join('\n')).not.toMatch(/no source answered/);
    expect(byPvc.get('pg-1-tbs-ok')?.filesystem?.totalBytes).toBe(1024n ** 3n);
  });
});
