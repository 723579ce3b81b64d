import { describe, expect, it } from 'vitest';
import { evaluateSnapshot } from '../../src/analysis/evaluate.js';
import { requireSomeFacts } from '../../src/app/disk-status.js';
import type { CliError } from '../../src/model/errors.js';
import { cluster, clusterSnapshot, fs, pod, pvc, snapshot } from '../helpers/fixtures.js';

const NOW = Date.parse('2026-11-26T00:00:00Z');

function outcome(snap: ReturnType<typeof snapshot>): string {
  try {
    requireSomeFacts(snap, evaluateSnapshot(snap, { now: NOW }));
    return 'ok';
  } catch (e) {
    return `${(e as CliError).exitCode} ${(e as CliError).code}: ${(e as Error).message}`;
  }
}

describe('disk status refuses to call unmeasured volumes healthy', () => {
  const objs = [
    cluster(),
    [pod({ name: 'pg-1' })],
    [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
  ] as const;

  it('one measured volume is enough', () => {
    const s = snapshot([
      clusterSnapshot(
        objs[0],
        [...objs[1]],
        [...objs[2]],
        [{ pod: 'pg-1', filesystems: { 'pg-1': fs(10, 20) }, errors: [] }],
      ),
    ]);
    expect(outcome(s)).toBe('ok');
  });

  it('nothing permitted: exit 3 naming the rules', () => {
    const s = snapshot([clusterSnapshot(objs[0], [...objs[1]], [...objs[2]])]);
    s.sources = [{ source: 'kubelet-summary', fact: 'filesystem', outcome: 'denied', permission: 'get nodes/proxy' }];
    expect(outcome(s)).toBe(
      '3 NO_SOURCE_PERMITTED: no source of filesystem facts is permitted, so no volume could be measured',
    );
  });

  it('nothing permitted in many namespaces: one hint per rule, every namespace named', () => {
    const s = snapshot([clusterSnapshot(objs[0], [...objs[1]], [...objs[2]])]);
    s.sources = ['a', 'b', 'c', 'd', 'e'].map((ns) => ({
      source: 'pod-proxy',
      fact: 'filesystem',
      outcome: 'denied',
      permission: `get pods/proxy in namespace ${ns}`,
      scope: ns,
    }));
    let err: CliError | undefined;
    try {
      requireSomeFacts(s, evaluateSnapshot(s, { now: NOW }));
    } catch (e) {
      err = e as CliError;
    }
    expect(err?.suggestions).toEqual(['grant "get pods/proxy" in the 5 namespaces a, b, c, d, e (enables pod-proxy)']);
  });

  it('permitted sources that all failed: exit 3 too, never a silent 0', () => {
    const s = snapshot([clusterSnapshot(objs[0], [...objs[1]], [...objs[2]])]);
    s.sources = [{ source: 'kubelet-summary', fact: 'filesystem', outcome: 'unreachable', detail: '500' }];
    expect(outcome(s)).toBe('3 NOT_MEASURED: no volume could be measured: kubelet-summary failed (500)');
  });

  it('a bundle without measurements cannot be evaluated either', () => {
    const s = snapshot([clusterSnapshot(objs[0], [...objs[1]], [...objs[2]])]);
    s.origin = { kind: 'bundle', file: 'b.tar.gz' };
    expect(outcome(s)).toMatch(/^3 NOT_MEASURED: the bundle holds no filesystem measurement/);
  });
});

describe('a WAL volume CloudNativePG reported full counts as a fact', () => {
  it('exit code 4 with nothing measured: the command goes on (the engine decides on that fact)', () => {
    const s = snapshot([
      clusterSnapshot(
        cluster({ walStorage: true }),
        [pod({ name: 'pg-1', lastExitCode: 4, waiting: 'CrashLoopBackOff', ready: false })],
        [
          pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' }),
          pvc({ instance: 'pg-1', role: 'PG_WAL', request: '1Gi' }),
        ],
      ),
    ]);
    s.sources = [{ source: 'exec', fact: 'filesystem', outcome: 'unreachable', detail: 'container not running' }];
    expect(outcome(s)).toBe('ok');
  });
});

describe('a permitted source that failed is named with its failure, never called "not permitted"', () => {
  it('exec allowed but refused, the pod proxy denied: exit 3 with the exec failure and the proxy rule', () => {
    const s = snapshot([
      clusterSnapshot(
        cluster(),
        [pod({ name: 'pg-1' })],
        [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
      ),
    ]);
    s.sources = [
      { source: 'pod-proxy', fact: 'filesystem', outcome: 'denied', permission: 'get pods/proxy in namespace db' },
      { source: 'exec', fact: 'filesystem', outcome: 'unreachable', detail: '1 pod(s) failed; first: 403' },
    ];
    let err: CliError | undefined;
    try {
      requireSomeFacts(s, evaluateSnapshot(s, { now: NOW }));
    } catch (e) {
      err = e as CliError;
    }
    expect(err?.code).toBe('NOT_MEASURED');
    expect(err?.message).toBe('no volume could be measured: exec failed (1 pod(s) failed; first: 403)');
    expect(err?.suggestions).toEqual(['grant "get pods/proxy in namespace db" (enables pod-proxy)']);
  });

  it("the instances' own problems are shown (first three), and a source that gave other facts is said so", () => {
    const s = snapshot([
      clusterSnapshot(
        cluster(),
        [pod({ name: 'pg-1' })],
        [pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' })],
        [{ pod: 'pg-1', filesystems: {}, errors: ['stat -f in pg-1 exited 1: no such file'] }],
      ),
    ]);
    s.sources = [
      { source: 'pod-proxy', fact: 'wal', outcome: 'used', detail: '1 instance(s)' },
      { source: 'cluster-status', fact: 'filesystem', outcome: 'unavailable', detail: 'not published' },
    ];
    let err: CliError | undefined;
    try {
      requireSomeFacts(s, evaluateSnapshot(s, { now: NOW }));
    } catch (e) {
      err = e as CliError;
    }
    expect(err?.message).toBe(
      'no volume could be measured: cluster-status unavailable (not published); pod-proxy answered with wal facts only',
    );
    expect(err?.suggestions).toEqual(['problem: db/pg-1: stat -f in pg-1 exited 1: no such file']);
  });
});
