import { describe, expect, it } from 'vitest';
import { evaluateCluster } from '../../../src/analysis/evaluate.js';
import { cluster, clusterSnapshot, fs, pod, pvc, storageClasses, wal, GiB } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-26T00:00:00Z');
const POLICY = 'disk.cnpg-plugin.dev/resize-policy';

const enabledEverywhere = `
storage:
  resize: { enabled: true }
walStorage:
  resize: { enabled: true, strategy: { walSafetyPolicy: { maxSlotRetentionBytes: 1Gi } } }
tablespaces:
  idx:
    resize: { enabled: true, expansion: { step: 1Gi } }
`;

describe('evaluateCluster', () => {
  const c = cluster({
    walStorage: true,
    tablespaces: ['idx'],
    archiving: true,
    annotations: { [POLICY]: enabledEverywhere },
  });
  const pvcs = [
    pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' }),
    pvc({ instance: 'pg-1', role: 'PG_WAL', request: '2Gi' }),
    pvc({ instance: 'pg-1', role: 'PG_TABLESPACE', tablespace: 'idx', request: '5Gi', storageClass: 'fixed' }),
  ];
  const measurements = [
    {
      pod: 'pg-1',
      filesystems: { 'pg-1': fs(10, 50), 'pg-1-wal': fs(2, 85), 'pg-1-tbs-idx': fs(5, 95) },
      wal: wal('pg-1', {
        slots: [{ name: 'forgotten', type: 'physical' as const, active: false, retainedBytes: 3n * GiB }],
      }),
      errors: [],
    },
  ];
  const report = evaluateCluster(clusterSnapshot(c, [pod({ name: 'pg-1' })], pvcs, measurements), storageClasses, {
    now: NOW,
  });

  it('reads the shape, roles and the annotation policy', () => {
    expect(report.shape).toMatchObject({
      singleVolume: false,
      tablespaces: ['idx'],
      archiving: { configured: true, method: 'barmanObjectStore' },
    });
    expect(report.instances).toMatchObject([{ pod: 'pg-1', role: 'primary', ready: true }]);
    expect(report.volumes.map((v) => [v.pvcName, v.type, v.policy.source, v.policy.enabled])).toEqual([
      ['pg-1', 'data', 'annotation', true],
      ['pg-1-wal', 'wal', 'annotation', true],
      ['pg-1-tbs-idx', 'tablespace', 'annotation', true],
    ]);
  });

  it('decides per volume: none below the threshold, WAL blocked by the forgotten slot, tablespace grows by its step', () => {
    const [data, walVol, tbs] = report.volumes;
    expect(data!.decision!.verdict).toBe('none');
    expect(walVol!.decision).toMatchObject({ verdict: 'blocked', reason: 'slot-retention' });
    expect(tbs!.decision).toMatchObject({ verdict: 'resize', newBytes: 6n * GiB });
  });

  it('ranks findings with a command each', () => {
    const codes = report.findings.map((f) => `${f.severity}:${f.code}`);
    expect(codes).toEqual([
      'critical:VOLUME_NEAR_FULL', // tablespace at 95%
      // then warnings by subject: the instance (db/pg/pg-1) before its volumes
      'warning:INACTIVE_SLOT',
      'warning:RESIZE_RECOMMENDED',
      'warning:STORAGE_CLASS_NOT_EXPANDABLE',
      // no RESIZE_BLOCKED for the WAL volume: the forgotten slot is one fault, one finding
      'warning:VOLUME_NEAR_FULL', // wal at 85%
    ]);
    expect(report.findings.find((f) => f.code === 'INACTIVE_SLOT')?.message).toMatch(
      /it blocks the resize of pg-1-wal$/,
    );
    expect(report.findings.every((f) => f.command)).toBe(true);
  });

  it('flags exit code 4, a failed expansion and a shrunken filesystem', () => {
    const c2 = cluster({ walStorage: true });
    const r = evaluateCluster(
      clusterSnapshot(
        c2,
        [pod({ name: 'pg-1', lastExitCode: 4, waiting: 'CrashLoopBackOff', ready: false, restarts: 7 })],
        [
          pvc({ instance: 'pg-1', role: 'PG_DATA', request: '20Gi', capacity: '20Gi' }),
          pvc({
            instance: 'pg-1',
            role: 'PG_WAL',
            request: '4Gi',
            capacity: '2Gi',
            conditions: [{ type: 'ControllerResizeError', status: 'True', message: 'quota exceeded' }],
          }),
        ],
        [{ pod: 'pg-1', filesystems: { 'pg-1': fs(10, 40) }, errors: [] }],
      ),
      storageClasses,
      { now: NOW },
    );
    const codes = r.findings.map((f) => f.code);
    expect(codes).toContain('WAL_DISK_FULL_EXIT');
    expect(codes).toContain('FILESYSTEM_SMALLER_THAN_PVC');
    expect(codes).toContain('RESIZE_IN_PROGRESS');
    expect(r.findings.find((f) => f.code === 'WAL_DISK_FULL_EXIT')!.command).toBe(
      'kubectl cnpg disk resize pg -n db --instance pg-1 --volume wal --rescue --apply',
    );
  });

  it('an unreadable policy annotation governs every volume: no silent fallback to defaults', () => {
    const r = evaluateCluster(
      clusterSnapshot(
        cluster({ annotations: { [POLICY]: 'storage: [unclosed' } }),
        [pod({ name: 'pg-1' })],
        [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
      ),
      storageClasses,
      { now: NOW },
    );
    expect(r.volumes[0]!.policy.source).toBe('annotation');
    expect(r.volumes[0]!.decision).toBeUndefined();
    expect(r.problems[0]).toMatch(/not valid YAML/);
  });

  it('a --policy file wins over the annotation', () => {
    const r = evaluateCluster(
      clusterSnapshot(
        cluster({ annotations: { [POLICY]: 'storage: { resize: { enabled: false } }' } }),
        [pod({ name: 'pg-1' })],
        [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
        [{ pod: 'pg-1', filesystems: { 'pg-1': fs(10, 90) }, errors: [] }],
      ),
      storageClasses,
      {
        now: NOW,
        policyFile: {
          storage: { resize: { enabled: true, strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } } } },
        },
      },
    );
    expect(r.volumes[0]!.policy.source).toBe('file');
    // single-volume data: WAL safety applies; no WAL facts → fail-open with a warning
    expect(r.volumes[0]!.decision).toMatchObject({ verdict: 'resize', newBytes: 12n * GiB });
    expect(r.volumes[0]!.decision!.warnings.map((w) => w.code)).toContain('wal-health-unavailable');
  });
});

describe('an instance down on exit code 4 (no WAL disk space)', () => {
  const walPolicy = { [POLICY]: 'walStorage: { resize: { enabled: true } }\nstorage: { resize: { enabled: true } }' };
  const pvcs = [
    pvc({ instance: 'pg-1', role: 'PG_DATA', request: '20Gi' }),
    pvc({ instance: 'pg-1', role: 'PG_WAL', request: '2Gi' }),
  ];
  const evaluate = (p: ReturnType<typeof pod>, c = cluster({ walStorage: true, annotations: walPolicy }), v = pvcs) =>
    evaluateCluster(clusterSnapshot(c, [p], v), storageClasses, { now: NOW });
  const crashLooping = pod({ name: 'pg-1', lastExitCode: 4, waiting: 'CrashLoopBackOff', ready: false, restarts: 7 });

  it('nothing can measure it, yet its WAL volume is decided as full; the data volume stays unknown', () => {
    const r = evaluate(crashLooping);
    const fact = { exitedAt: '2026-11-26T00:00:00Z', restarts: 7 };
    expect(r.instances[0]!.walSpaceExhausted).toEqual(fact);
    const [data, walVol] = r.volumes;
    expect(data!.walSpaceExhausted).toBeUndefined();
    expect(data!.decision!.verdict).toBe('unknown');
    expect(walVol!.walSpaceExhausted).toEqual(fact);
    expect(walVol!.filesystem).toBeUndefined();
    expect(walVol!.decision).toMatchObject({ verdict: 'resize', newBytes: 4n * GiB });
    expect(walVol!.decision!.warnings.map((w) => w.code)).toEqual(['filesystem-unmeasured', 'wal-health-unavailable']);
    expect(r.findings.map((f) => f.code)).toContain('WAL_DISK_FULL_EXIT');
  });

  it('on a single-volume cluster the fact belongs to the data volume, and the fix names it', () => {
    const r = evaluate(
      crashLooping,
      cluster({
        annotations: {
          [POLICY]:
            'storage: { resize: { enabled: true, strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } } } }',
        },
      }),
      [pvcs[0]!],
    );
    expect(r.volumes[0]!.decision).toMatchObject({ verdict: 'resize', newBytes: 24n * GiB });
    expect(r.findings.find((f) => f.code === 'WAL_DISK_FULL_EXIT')!.command).toMatch(/--volume data --rescue --apply$/);
  });

  it('started again after exit 4 but not ready yet: still a finding, but no longer the fact (a source may measure it)', () => {
    const r = evaluate(pod({ name: 'pg-1', lastExitCode: 4, ready: false, restarts: 8 }));
    expect(r.instances[0]!.walSpaceExhausted).toBeUndefined();
    expect(r.volumes[1]!.decision!.verdict).toBe('unknown');
    expect(r.findings.map((f) => f.code)).toContain('WAL_DISK_FULL_EXIT');
  });

  it('recovered (running and ready): an old exit 4 in lastState is history, not a finding', () => {
    const r = evaluate(pod({ name: 'pg-1', lastExitCode: 4, restarts: 8 }));
    expect(r.instances[0]!.walSpaceExhausted).toBeUndefined();
    expect(r.findings.map((f) => f.code)).not.toContain('WAL_DISK_FULL_EXIT');
  });

  it('the latest termination counts: terminated now with 1 after an earlier 4 is not the fact, nor exit 4', () => {
    const p = pod({ name: 'pg-1', lastExitCode: 4, ready: false, restarts: 9 });
    const st = (p.status as { containerStatuses: Record<string, unknown>[] }).containerStatuses[0]!;
    st['state'] = { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-11-26T00:05:00Z' } };
    const r = evaluate(p);
    expect(r.instances[0]).toMatchObject({ lastExitCode: 1, lastTerminationReason: 'Error' });
    expect(r.instances[0]!.walSpaceExhausted).toBeUndefined();
    expect(r.findings.map((f) => f.code)).not.toContain('WAL_DISK_FULL_EXIT');
    // and terminated now with 4 (before the kubelet restarts it) is the fact, with that time
    st['state'] = { terminated: { exitCode: 4, reason: 'Error', finishedAt: '2026-11-26T00:06:00Z' } };
    expect(evaluate(p).volumes[1]!.walSpaceExhausted).toEqual({ exitedAt: '2026-11-26T00:06:00Z', restarts: 9 });
  });

  it('grown after the exit (the pod has not started on it yet): the exit 4 no longer makes the volume full, no second grow', () => {
    // The autoresizer grew the WAL volume 2Gi → 4Gi 30 s after the exit; the
    // kubelet's back-off has not restarted the container, so its last state
    // is still that exit 4. The old code took the volume as full again and
    // grew it to 6Gi on the next pass.
    const grown = [
      pvcs[0]!,
      pvc({
        instance: 'pg-1',
        role: 'PG_WAL',
        request: '4Gi',
        ledger: [{ at: '2026-11-26T00:00:30Z', fromBytes: 2n * GiB, toBytes: 4n * GiB, by: 'engine' }],
      }),
    ];
    const r = evaluateCluster(
      clusterSnapshot(cluster({ walStorage: true, annotations: walPolicy }), [crashLooping], grown),
      storageClasses,
      {
        now: NOW + 60_000,
      },
    );
    const walVol = r.volumes[1]!;
    expect(walVol.walSpaceExhausted).toBeUndefined();
    expect(walVol.decision!.verdict).not.toBe('resize');
    expect(walVol.decision!.verdict).toBe('unknown');
    expect(walVol.unmeasuredReason).toBeUndefined();
    // the instance is still down: diagnose still says so
    expect(r.instances[0]!.walSpaceExhausted).toBeDefined();
    expect(r.findings.map((f) => f.code)).toContain('WAL_DISK_FULL_EXIT');
  });

  it('a resize before the exit does not answer it: the instance found the grown volume full again', () => {
    const grownBefore = [
      pvcs[0]!,
      pvc({
        instance: 'pg-1',
        role: 'PG_WAL',
        request: '4Gi',
        ledger: [{ at: '2026-11-25T23:50:00Z', fromBytes: 2n * GiB, toBytes: 4n * GiB, by: 'engine' }],
      }),
    ];
    const r = evaluateCluster(
      clusterSnapshot(cluster({ walStorage: true, annotations: walPolicy }), [crashLooping], grownBefore),
      storageClasses,
      { now: NOW + 60_000 },
    );
    expect(r.volumes[1]!.walSpaceExhausted).toEqual({ exitedAt: '2026-11-26T00:00:00Z', restarts: 7 });
    expect(r.volumes[1]!.decision).toMatchObject({ verdict: 'resize', newBytes: 6n * GiB });
  });

  it('a crash loop on another exit code is not the fact', () => {
    const r = evaluate(pod({ name: 'pg-1', lastExitCode: 1, waiting: 'CrashLoopBackOff', ready: false, restarts: 3 }));
    expect(r.instances[0]!.walSpaceExhausted).toBeUndefined();
    expect(r.volumes[1]!.decision!.verdict).toBe('unknown');
    expect(r.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['INSTANCE_CRASH_LOOP']));
  });
});
