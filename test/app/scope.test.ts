// A scope that matches nothing in a bundle: a named Cluster the bundle does
// not hold, or a namespace (-n) it has no Cluster in, is a usage error (64)
// naming the bundle's Clusters, in every command; a selector that matches
// nothing is an empty answer (0). The live side (exit 3) is tested against the
// real API server in test/api/disk-status.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toPlain } from '@cnpg-disk/core';
import { runDiagnose } from '../../src/app/diagnose.js';
import { runDiskResize } from '../../src/app/disk-resize.js';
import { runDiskStatus } from '../../src/app/disk-status.js';
import { runWalHealth } from '../../src/app/wal-health.js';
import type { ScopeOptions } from '../../src/app/gather.js';
import type { Deps } from '../../src/cli/deps.js';
import { bufferIO } from '../../src/cli/io.js';
import type { CliError } from '../../src/model/errors.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot, wal } from '../helpers/fixtures.js';

const FILE = (() => {
  const c = cluster({ name: 'pg', instances: 1 });
  const cs = clusterSnapshot(
    c,
    [pod({ name: 'pg-1' })],
    [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
    [{ pod: 'pg-1', filesystems: { 'pg-1': fs(10, 10) }, wal: wal('pg-1'), errors: [] }],
  );
  const dir = mkdtempSync(join(tmpdir(), 'scope-test-'));
  const file = join(dir, 'snapshot.json');
  writeFileSync(file, JSON.stringify(toPlain({ kind: 'Snapshot', ...snapshot([cs]) })));
  return file;
})();

function deps(): Deps {
  return {
    io: bufferIO({}),
    now: () => new Date('2026-11-26T00:00:00Z'),
    kube: () => {
      throw new Error('this test must not reach an API server');
    },
  };
}

const scope = (o: Partial<ScopeOptions>) => ({
  allNamespaces: false,
  fromBundle: FILE,
  source: 'auto' as const,
  concurrency: 1,
  measure: true,
  output: 'table' as const,
  verbose: false,
  ...o,
});

const commands: [string, (o: Partial<ScopeOptions>) => Promise<number>][] = [
  ['disk status', (o) => runDiskStatus(scope(o), deps())],
  ['wal health', (o) => runWalHealth(scope(o), deps())],
  ['diagnose', (o) => runDiagnose({ ...scope(o), redact: true, pluginVersion: 'test' }, deps())],
];

async function failure(run: () => Promise<number>): Promise<CliError> {
  try {
    await run();
  } catch (e) {
    return e as CliError;
  }
  throw new Error('expected an error');
}

describe('a scope that matches nothing in a bundle', () => {
  it.each(commands)(
    '%s: a Cluster the bundle does not hold is exit 64 listing the bundle’s Clusters',
    async (_, run) => {
      const e = await failure(() => run({ cluster: 'nope' }));
      expect(e.exitCode).toBe(64);
      expect(e.message).toBe(`there is no CloudNativePG Cluster "nope" in the bundle ${FILE}`);
      expect(e.suggestions).toEqual(['the bundle holds: db/pg']);
    },
  );

  it.each(commands)(
    '%s: a namespace with no Cluster in the bundle is exit 64; a selector matching nothing is 0',
    async (_, run) => {
      const e = await failure(() => run({ namespace: 'other' }));
      expect(e.exitCode).toBe(64);
      expect(e.message).toBe(`there is no CloudNativePG Cluster in the bundle ${FILE} (namespace other)`);
      expect(e.suggestions).toEqual(['the bundle holds: db/pg']);
      expect(await run({ selector: 'team=nobody' })).toBe(0);
    },
  );

  it('disk resize: the same usage error for a Cluster the bundle does not hold', async () => {
    const e = await failure(() =>
      runDiskResize(
        {
          cluster: 'nope',
          fromBundle: FILE,
          source: 'auto',
          concurrency: 1,
          output: 'table',
          verbose: false,
          apply: false,
          yes: false,
          updateSpec: false,
          wait: false,
          waitTimeoutMs: 1000,
          events: false,
          forceUnknownStorageClass: false,
        },
        deps(),
      ),
    );
    expect(e.exitCode).toBe(64);
    expect(e.suggestions).toEqual(['the bundle holds: db/pg']);
  });
});
