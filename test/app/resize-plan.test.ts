// disk resize without an API server: the plan (pure), its refusals and exit
// codes, rendering, filters and flag checks, run on a snapshot file read with
// --from-bundle (the same path a support bundle takes). The write path is
// tested against a real kube-apiserver in resize-apiserver.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expansionState, toPlain, type Decision, type PvcFacts, GiB as CORE_GIB, MiB } from '@cnpg-disk/core';
import { runDiskResize } from '../../src/app/disk-resize.js';
import {
  buildPlan,
  checkResizeOptions,
  refusalFor,
  resizeExitCode,
  type DiskResizeOptions,
  type PlanItem,
} from '../../src/actions/resize-plan.js';
import { filesystemCaughtUp } from '../../src/app/resize/wait.js';
import { evaluateCluster } from '../../src/analysis/evaluate.js';
import type { Deps } from '../../src/cli/deps.js';
import { bufferIO } from '../../src/cli/io.js';
import type { CliError } from '../../src/model/errors.js';
import type { InstanceMeasurement } from '../../src/model/snapshot.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot, wal, GiB } from '../helpers/fixtures.js';

const NOW = Date.parse('2026-11-26T00:00:00Z');
// JSON documents are read loosely in assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DocAny = Record<string, any>;
const POLICY = 'disk.cnpg-plugin.dev/resize-policy';
const policy = `
storage: { resize: { enabled: true } }
walStorage: { resize: { enabled: true } }
tablespaces:
  idx: { resize: { enabled: true, expansion: { step: 1Gi } } }
  arch: { resize: { enabled: true } }
`;
const hoursAgo = (h: number) => new Date(NOW - h * 3_600_000).toISOString();

function fixture() {
  const c = cluster({
    instances: 2,
    walStorage: true,
    tablespaces: ['idx', 'arch'],
    archiving: true,
    annotations: { [POLICY]: policy },
  });
  const pvcs = [
    pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' }),
    pvc({ instance: 'pg-1', role: 'PG_WAL', request: '2Gi', storageClass: 'fixed' }),
    pvc({ instance: 'pg-1', role: 'PG_TABLESPACE', tablespace: 'idx', request: '5Gi', storageClass: 'gone' }),
    pvc({ instance: 'pg-1', role: 'PG_TABLESPACE', tablespace: 'arch', request: '5Gi' }),
    pvc({
      instance: 'pg-2',
      role: 'PG_DATA',
      request: '10Gi',
      ledger: [1, 2, 3].map((h) => ({
        at: hoursAgo(h),
        fromBytes: 8n * GiB,
        toBytes: 10n * GiB,
        by: 'engine' as const,
      })),
    }),
    pvc({
      instance: 'pg-2',
      role: 'PG_WAL',
      request: '2Gi',
      conditions: [{ type: 'ControllerResizeError', status: 'True', message: 'quota exceeded in zone a' }],
    }),
    pvc({ instance: 'pg-2', role: 'PG_TABLESPACE', tablespace: 'idx', request: '5Gi' }),
    pvc({ instance: 'pg-2', role: 'PG_TABLESPACE', tablespace: 'arch', request: '5Gi' }),
  ];
  const measurements: InstanceMeasurement[] = [
    {
      pod: 'pg-1',
      filesystems: { 'pg-1': fs(10, 85), 'pg-1-wal': fs(2, 90), 'pg-1-tbs-idx': fs(5, 95), 'pg-1-tbs-arch': fs(5, 10) },
      wal: wal('pg-1'),
      errors: [],
    },
    {
      pod: 'pg-2',
      filesystems: { 'pg-2': fs(10, 85), 'pg-2-wal': fs(2, 90), 'pg-2-tbs-arch': fs(5, 10) },
      wal: wal('pg-2'),
      errors: [],
    },
  ];
  const cs = clusterSnapshot(c, [pod({ name: 'pg-1' }), pod({ name: 'pg-2' })], pvcs, measurements);
  return { cs, snap: snapshot([cs]) };
}

function writeSnapshotFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'resize-test-'));
  const file = join(dir, 'snapshot.json');
  writeFileSync(file, JSON.stringify(toPlain({ kind: 'Snapshot', ...fixture().snap })));
  return file;
}

const FILE = writeSnapshotFile();

function deps(opts: { isStdinTTY?: boolean } = {}) {
  const io = bufferIO({ isStdinTTY: opts.isStdinTTY ?? false });
  const d: Deps = {
    io,
    now: () => new Date(NOW),
    kube: () => {
      throw new Error('this test must not reach an API server');
    },
  };
  return { io, deps: d };
}

function options(o: Partial<DiskResizeOptions> = {}): DiskResizeOptions {
  return {
    cluster: 'pg',
    namespace: 'db',
    fromBundle: FILE,
    source: 'auto',
    concurrency: 4,
    output: 'table',
    verbose: false,
    apply: false,
    yes: false,
    updateSpec: false,
    wait: false,
    waitTimeoutMs: 300_000,
    events: false,
    forceUnknownStorageClass: false,
    ...o,
  };
}

function plan(force = false) {
  const { cs, snap } = fixture();
  const report = evaluateCluster(cs, snap.storageClasses, { now: NOW });
  return buildPlan(snap, cs, report, { forceUnknownStorageClass: force });
}

const actions = (items: PlanItem[]) => Object.fromEntries(items.map((i) => [i.volume.pvcName, i.action]));

describe('disk resize plan', () => {
  it('classifies every volume: resize, refusals by storage class, none, hold, failed, unknown', () => {
    const p = plan();
    expect(actions(p.items)).toEqual({
      'pg-1': 'resize',
      'pg-1-wal': 'refuse',
      'pg-1-tbs-idx': 'refuse',
      'pg-1-tbs-arch': 'none',
      'pg-2': 'hold',
      'pg-2-wal': 'failed',
      'pg-2-tbs-idx': 'unknown',
      'pg-2-tbs-arch': 'none',
    });
    const byName = new Map(p.items.map((i) => [i.volume.pvcName, i]));
    expect(byName.get('pg-1-wal')!.refusal!.code).toBe('storage-class-not-expandable');
    expect(byName.get('pg-1-tbs-idx')!.refusal).toMatchObject({ code: 'storage-class-unknown' });
    expect(byName.get('pg-1-tbs-idx')!.refusal!.message).toMatch(/--force-unknown-storage-class/);
    // 20% of 10Gi is below minStep 2Gi: 10Gi + 2Gi.
    expect(byName.get('pg-1')!.volume.decision).toMatchObject({ newBytes: 12n * GiB, stepBytes: 2n * GiB });
    expect(byName.get('pg-2')!.volume.decision).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
    expect(resizeExitCode(p.items)).toBe(2);
  });

  it('--force-unknown-storage-class lets an unreadable storage class through, never a non-expandable one', () => {
    const p = plan(true);
    expect(actions(p.items)['pg-1-tbs-idx']).toBe('resize');
    expect(actions(p.items)['pg-1-wal']).toBe('refuse');
  });

  it('exit codes: resize/none 0, hold 1, refuse/failed 2, unknown 3, and after apply/wait', () => {
    const p = plan();
    const only = (...names: string[]) => p.items.filter((i) => names.includes(i.volume.pvcName));
    expect(resizeExitCode(only('pg-1', 'pg-1-tbs-arch'))).toBe(0);
    expect(resizeExitCode(only('pg-1', 'pg-2'))).toBe(1);
    expect(resizeExitCode(only('pg-1', 'pg-1-wal'))).toBe(2);
    expect(resizeExitCode(only('pg-2-wal'))).toBe(2);
    expect(resizeExitCode(only('pg-2-tbs-idx'))).toBe(3);
    expect(resizeExitCode(only('pg-2-tbs-idx', 'pg-2'))).toBe(1);
    const item = only('pg-1')[0]!;
    const withResult = (r: Partial<PlanItem>) => [{ ...item, ...r }];
    const res = { message: '', attempts: 1, conflicts: 0 };
    expect(resizeExitCode(withResult({ result: { status: 'applied', ...res } }))).toBe(0);
    expect(resizeExitCode(withResult({ result: { status: 'not-applied', ...res } }))).toBe(1);
    expect(resizeExitCode(withResult({ result: { status: 'declined', ...res } }))).toBe(1);
    expect(resizeExitCode(withResult({ result: { status: 'failed', ...res } }))).toBe(2);
    const wait = { phase: 'controller' as const, filesystemVerified: false, message: '', seconds: 1 };
    expect(
      resizeExitCode(withResult({ result: { status: 'applied', ...res }, wait: { status: 'timeout', ...wait } })),
    ).toBe(3);
    expect(
      resizeExitCode(withResult({ result: { status: 'applied', ...res }, wait: { status: 'failed', ...wait } })),
    ).toBe(2);
    expect(
      resizeExitCode(withResult({ result: { status: 'applied', ...res } }), [
        { role: 'data', field: 'spec.storage.size', toBytes: 1n, status: 'failed', message: '' },
      ]),
    ).toBe(2);
  });
});

describe('refusalFor (the guard in front of every write)', () => {
  const d = (newBytes: bigint | undefined): Decision =>
    ({ verdict: 'resize', newBytes, currentBytes: 10n * CORE_GIB }) as Decision;
  const facts = (o: Partial<PvcFacts> = {}): PvcFacts => ({
    conditions: [],
    requestBytes: 10n * CORE_GIB,
    capacityBytes: 10n * CORE_GIB,
    storageClass: 'sc',
    allowVolumeExpansion: true,
    phase: 'Bound',
    ...o,
  });
  const opts = { forceUnknownStorageClass: false };
  it('never shrinks or writes the same size (also when the capacity is the larger)', () => {
    expect(refusalFor('p', d(10n * CORE_GIB), facts(), undefined, opts)?.code).toBe('would-shrink');
    expect(refusalFor('p', d(9n * CORE_GIB), facts(), undefined, opts)?.code).toBe('would-shrink');
    expect(refusalFor('p', d(11n * CORE_GIB), facts({ capacityBytes: 12n * CORE_GIB }), undefined, opts)?.code).toBe(
      'would-shrink',
    );
    expect(refusalFor('p', d(undefined), facts(), undefined, opts)?.code).toBe('would-shrink');
    expect(refusalFor('p', d(11n * CORE_GIB), facts(), undefined, opts)).toBeUndefined();
  });
  it('never passes the limit', () => {
    const { cs, snap } = fixture();
    const policy = evaluateCluster(cs, snap.storageClasses, { now: NOW }).volumes[0]!.resolvedPolicy!;
    const limited = { ...policy, expansion: { ...policy.expansion, limitBytes: 11n * CORE_GIB } };
    expect(refusalFor('p', d(12n * CORE_GIB), facts(), limited, opts)?.code).toBe('over-limit');
    expect(refusalFor('p', d(11n * CORE_GIB), facts(), limited, opts)).toBeUndefined();
  });
  it('refuses non-expandable, unknown (unless forced) storage classes and unbound claims', () => {
    expect(refusalFor('p', d(11n * CORE_GIB), facts({ allowVolumeExpansion: false }), undefined, opts)?.code).toBe(
      'storage-class-not-expandable',
    );
    const unknown = facts({ allowVolumeExpansion: undefined });
    expect(refusalFor('p', d(11n * CORE_GIB), unknown, undefined, opts)?.code).toBe('storage-class-unknown');
    expect(
      refusalFor('p', d(11n * CORE_GIB), { ...unknown, storageClass: undefined }, undefined, opts)?.message,
    ).toMatch(/names no storage class/);
    expect(refusalFor('p', d(11n * CORE_GIB), unknown, undefined, { forceUnknownStorageClass: true })).toBeUndefined();
    expect(
      refusalFor('p', d(11n * CORE_GIB), { ...unknown, allowVolumeExpansion: false }, undefined, {
        forceUnknownStorageClass: true,
      })?.code,
    ).toBe('storage-class-not-expandable');
    expect(refusalFor('p', d(11n * CORE_GIB), facts({ phase: 'Pending' }), undefined, opts)?.code).toBe(
      'pvc-not-bound',
    );
  });
});

describe('expansion progress (--wait)', () => {
  const t = 12n * CORE_GIB;
  const f = (o: Partial<PvcFacts>): PvcFacts => ({
    conditions: [],
    requestBytes: t,
    capacityBytes: 10n * CORE_GIB,
    ...o,
  });
  it('reads the PVC status: controller, node, failed, capacity reached', () => {
    expect(expansionState(f({}), t).state).toBe('controller');
    expect(expansionState(f({ conditions: [{ type: 'Resizing', status: 'True' }] }), t).detail).toMatch(/Resizing/);
    expect(expansionState(f({ allocatedResourceStatus: 'ControllerResizeInProgress' }), t).state).toBe('controller');
    expect(expansionState(f({ conditions: [{ type: 'FileSystemResizePending', status: 'True' }] }), t).state).toBe(
      'node',
    );
    expect(expansionState(f({ allocatedResourceStatus: 'NodeResizePending' }), t).state).toBe('node');
    const failed = expansionState(
      f({ conditions: [{ type: 'ControllerResizeError', status: 'True', message: 'disk quota exceeded' }] }),
      t,
    );
    expect(failed).toEqual({ state: 'failed', detail: 'ControllerResizeError: disk quota exceeded' });
    expect(expansionState(f({ allocatedResourceStatus: 'NodeResizeInfeasible' }), t).state).toBe('failed');
    expect(expansionState(f({ capacityBytes: t }), t).state).toBe('capacity-reached');
    expect(expansionState(f({ capacityBytes: undefined }), t).state).toBe('controller');
    // A condition that is not True does not count.
    expect(expansionState(f({ capacityBytes: t, conditions: [{ type: 'Resizing', status: 'False' }] }), t).state).toBe(
      'capacity-reached',
    );
  });
  it('the filesystem has caught up unless it is clearly smaller (more than 10% and 64 MiB)', () => {
    const cap = 10n * CORE_GIB;
    expect(filesystemCaughtUp(cap, { totalBytes: cap })).toBe(true);
    expect(filesystemCaughtUp(cap, { totalBytes: (cap * 91n) / 100n })).toBe(true);
    expect(filesystemCaughtUp(cap, { totalBytes: (cap * 89n) / 100n })).toBe(false);
    // Small volumes: a 10% gap below 64 MiB is metadata, not a missing expansion.
    expect(filesystemCaughtUp(100n * MiB, { totalBytes: 50n * MiB })).toBe(true);
    expect(filesystemCaughtUp(2148n * MiB, { totalBytes: 100n * MiB })).toBe(false);
  });
});

describe('checkResizeOptions', () => {
  const code = (o: Partial<DiskResizeOptions>, tty = false) => {
    try {
      checkResizeOptions(options(o), { isStdinTTY: tty });
      return 0;
    } catch (e) {
      return (e as CliError).exitCode;
    }
  };
  it('refuses --apply on a bundle, and without --yes when stdin is not a terminal', () => {
    expect(code({ apply: true, yes: true })).toBe(64);
    expect(code({ apply: true, yes: false, fromBundle: undefined })).toBe(64);
    expect(code({ apply: true, yes: false, fromBundle: undefined }, true)).toBe(0);
    expect(code({ apply: true, yes: true, fromBundle: undefined })).toBe(0);
  });
  it('refuses apply-only flags in a preview and contradicting filters', () => {
    expect(code({ wait: true })).toBe(64);
    expect(code({ updateSpec: true })).toBe(64);
    expect(code({ events: true })).toBe(64);
    expect(code({ yes: true })).toBe(64);
    expect(code({ volume: 'data', tablespace: 'idx' })).toBe(64);
    expect(code({ volume: 'tablespace', tablespace: 'idx' })).toBe(0);
    expect(code({ volume: 'bogus' as never })).toBe(64);
  });
  it('says to pass --yes', () => {
    expect(() => checkResizeOptions(options({ apply: true, fromBundle: undefined }), { isStdinTTY: false })).toThrow(
      /stdin is not a terminal/,
    );
    try {
      checkResizeOptions(options({ apply: true, fromBundle: undefined }), { isStdinTTY: false });
    } catch (e) {
      expect((e as CliError).suggestions.join(' ')).toMatch(/--yes/);
    }
  });
});

describe('runDiskResize on a snapshot file (preview)', () => {
  it('prints the plan table with current, new and step, and exits with the worst action', async () => {
    const { io, deps: d } = deps();
    const code = await runDiskResize(options(), d);
    expect(code).toBe(2);
    const out = io.out.join('');
    expect(out).toMatch(/INSTANCE\s+VOLUME\s+CURRENT\s+NEW\s+STEP\s+VERDICT\s+REASON/);
    expect(out).toMatch(/pg-1\s+data\s+10Gi\s+12Gi\s+2Gi\s+resize\s+85% used is above 80%/);
    expect(out).toMatch(/pg-1\s+wal\s+2Gi\s+4Gi\s+2Gi\s+refused\s+storage class fixed/);
    expect(out).toMatch(/pg-2\s+data\s+10Gi\s+-\s+-\s+blocked\/rate-limit/);
    expect(out).toMatch(/pg-2\s+wal\s+2Gi\s+-\s+-\s+resize-failed\s+.*quota exceeded in zone a/);
    expect(io.err.join('')).toMatch(/source: bundle/);
    expect(io.err.join('')).toMatch(/preview only: add --apply to resize 1 volume\(s\): pg-1 10Gi → 12Gi/);
  });

  it('filters by instance, volume and tablespace; exit code follows the selection', async () => {
    const run = async (o: Partial<DiskResizeOptions>) => {
      const { io, deps: d } = deps();
      const code = await runDiskResize(options(o), d);
      return { code, out: io.out.join('') };
    };
    const data1 = await run({ instance: 'pg-1', volume: 'data' });
    expect(data1.code).toBe(0);
    expect(data1.out.trim().split('\n')).toHaveLength(2);
    expect((await run({ instance: 'pg-2', volume: 'data' })).code).toBe(1);
    expect((await run({ instance: 'pg-2', tablespace: 'idx' })).code).toBe(3);
    const arch = await run({ tablespace: 'arch' });
    expect(arch.code).toBe(0);
    expect(arch.out).toMatch(/pg-1\s+tbs:arch/);
    expect(arch.out).toMatch(/pg-2\s+tbs:arch/);
    expect(arch.out).toMatch(/none\s+no resize needed/);
  });

  it('a filter that names nothing, or an unknown cluster, is a usage error with what exists', async () => {
    const fail = async (o: Partial<DiskResizeOptions>) => {
      try {
        await runDiskResize(options(o), deps().deps);
        return undefined;
      } catch (e) {
        return e as CliError;
      }
    };
    const e1 = await fail({ instance: 'pg-9' });
    expect(e1?.exitCode).toBe(64);
    expect(e1?.suggestions.join()).toMatch(/pg-1, pg-2/);
    const e2 = await fail({ tablespace: 'nope' });
    expect(e2?.exitCode).toBe(64);
    expect(e2?.suggestions.join()).toMatch(/tbs:idx/);
    const e3 = await fail({ cluster: 'other' });
    expect(e3?.exitCode).toBe(64);
    expect(e3?.message).toMatch(/no CloudNativePG Cluster "other" in the bundle/);
  });

  it("judges the budget at the bundle's collectedAt, not at today's clock (one clock per snapshot)", async () => {
    // pg-2's three engine resizes 1-3 h before collectedAt use the whole budget
    // then; thirty days later they have left the window. A bundle is judged
    // as it was collected, so pg-2 stays held whatever today's date is.
    const io = bufferIO({ isStdinTTY: false });
    const later: Deps = {
      io,
      now: () => new Date(NOW + 30 * 24 * 3_600_000),
      kube: () => {
        throw new Error('this test must not reach an API server');
      },
    };
    await runDiskResize(options({ output: 'json', instance: 'pg-2', volume: 'data' }), later);
    const doc = JSON.parse(io.out.join('')) as DocAny;
    expect(doc.volumes[0].action).toBe('hold');
    expect(doc.volumes[0].decision).toMatchObject({ verdict: 'blocked', reason: 'rate-limit' });
  });

  it('-o json is a versioned ResizePlan with the full trace of every decision', async () => {
    const { io, deps: d } = deps();
    await runDiskResize(options({ output: 'json' }), d);
    const doc = JSON.parse(io.out.join('')) as DocAny;
    expect(doc.apiVersion).toBe('disk.cnpg-plugin.dev/v1alpha1');
    expect(doc.kind).toBe('ResizePlan');
    expect(doc.mode).toBe('preview');
    expect(doc.summary).toMatchObject({ volumes: 8, resize: 1, refused: 2, nothingToDo: 2, held: 1, failed: 1 });
    const v = doc.volumes.find((x: { pvc: string }) => x.pvc === 'pg-1');
    expect(v.action).toBe('resize');
    expect(v.decision.newBytes).toBe(String(12n * GiB));
    expect(v.decision.trace.map((t: { check: string }) => t.check)).toEqual([
      'enabled',
      'facts',
      'trigger',
      'in-progress',
      'budget',
      'limit',
      'wal-safety',
      'new-size',
    ]);
    const refused = doc.volumes.find((x: { pvc: string }) => x.pvc === 'pg-1-wal');
    expect(refused.refusal.code).toBe('storage-class-not-expandable');
    expect(io.err.join('')).toBe(''); // machine output: nothing on stderr but errors
  });

  it('-o wide adds the PVC, storage class, expandability, use, policy source and budget', async () => {
    const { io, deps: d } = deps();
    await runDiskResize(options({ output: 'wide', instance: 'pg-2', volume: 'data' }), d);
    const out = io.out.join('');
    expect(out).toMatch(/STEP\s+VERDICT\s+PVC\s+STORAGECLASS\s+EXPAND\s+USE%\s+POLICY\s+BUDGET\s+REASON/);
    expect(out).toMatch(
      /blocked\/rate-limit\s+pg-2\s+expandable\s+yes\s+85\.0%\s+on \(annotation\)\s+0\/3\s+rate limit/,
    );
  });

  it('-v prints each trace; --policy tries another policy', async () => {
    const { io, deps: d } = deps();
    await runDiskResize(options({ verbose: true, instance: 'pg-1', volume: 'data' }), d);
    expect(io.out.join('')).toMatch(/pass budget: 3 of 3 resizes left/);
    const { io: io2, deps: d2 } = deps();
    const code = await runDiskResize(
      options({
        instance: 'pg-1',
        volume: 'data',
        policyFile: { storage: { resize: { enabled: true, expansion: { step: '50%' } } } },
      }),
      d2,
    );
    expect(code).toBe(0);
    expect(io2.out.join('')).toMatch(/pg-1\s+data\s+10Gi\s+15Gi\s+5Gi\s+resize/);
  });

  it('refuses an invalid --policy for the volumes it governs', async () => {
    const { io, deps: d } = deps();
    const code = await runDiskResize(
      options({
        instance: 'pg-1',
        volume: 'data',
        policyFile: { storage: { resize: { enabled: true, expansion: { step: 10 } } } },
      }),
      d,
    );
    expect(code).toBe(2);
    expect(io.out.join('')).toMatch(
      /policy-invalid\s+the file policy for this volume has 1 error\(s\), e\.g\. storage\.resize\.expansion\.step/,
    );
  });

  it('--apply on a bundle is refused before anything is read', async () => {
    const { deps: d } = deps();
    await expect(runDiskResize(options({ apply: true, yes: true }), d)).rejects.toMatchObject({
      exitCode: 64,
      message: expect.stringMatching(/--apply cannot be used with --from-bundle/),
    });
  });
});
