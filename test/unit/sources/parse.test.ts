import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { filesystemFacts, parseKubeletSummary, parseStatF, parseWalHealthJson } from '../../../src/sources/parse.js';

const T = '2026-11-26T00:00:00.000Z';

describe('filesystemFacts', () => {
  it('leaves out the inode counts a source did not have and keeps the order of the rest', () => {
    const f = filesystemFacts({
      totalBytes: 10n,
      usedBytes: 4n,
      availableBytes: 6n,
      inodesTotal: 100n,
      inodesFree: undefined,
      inodesUsed: 7n,
      source: 'prometheus',
      observedAt: T,
    });
    expect(Object.keys(f)).toEqual([
      'totalBytes',
      'usedBytes',
      'availableBytes',
      'inodesTotal',
      'inodesUsed',
      'source',
      'observedAt',
    ]);
    expect(f).toStrictEqual({
      totalBytes: 10n,
      usedBytes: 4n,
      availableBytes: 6n,
      inodesTotal: 100n,
      inodesUsed: 7n,
      source: 'prometheus',
      observedAt: T,
    });
  });
});

describe('parseStatF', () => {
  it('agrees with df on a real filesystem of this machine', () => {
    // Real: stat -f and df read the same statfs of / here.
    const out = execFileSync('stat', ['-f', '-c', 'fs %n %S %b %f %a %c %d', '/'], { encoding: 'utf8' });
    const { facts, problems } = parseStatF(out, 'exec', T);
    expect(problems).toEqual([]);
    const f = facts.get('/');
    expect(f).toBeDefined();
    const df = execFileSync('df', ['-B1', '--output=size,used,avail', '/'], { encoding: 'utf8' })
      .trim()
      .split('\n')[1]!;
    const [size, used, avail] = df
      .trim()
      .split(/\s+/)
      .map((n) => BigInt(n));
    expect(f!.totalBytes).toBe(size);
    // used/avail move while the machine works; allow 64 MiB of drift between the two reads.
    const drift = 64n * 1024n * 1024n;
    expect(f!.usedBytes - used! < drift && used! - f!.usedBytes < drift).toBe(true);
    expect(f!.availableBytes - avail! < drift && avail! - f!.availableBytes < drift).toBe(true);
  });

  it('computes df semantics exactly (used = blocks - bfree, available = bavail)', () => {
    const { facts } = parseStatF('fs /var/lib/postgresql/wal 4096 1000 300 250 65536 60000\n', 'exec', T);
    expect(facts.get('/var/lib/postgresql/wal')).toEqual({
      totalBytes: 4_096_000n,
      usedBytes: 700n * 4096n,
      availableBytes: 250n * 4096n,
      inodesTotal: 65536n,
      inodesFree: 60000n,
      inodesUsed: 5536n,
      source: 'exec',
      observedAt: T,
    });
  });

  it('handles volumes above 2^53 bytes exactly', () => {
    const blocks = 2n ** 44n; // 2^44 blocks of 4 KiB = 64 PiB
    const { facts } = parseStatF(`fs /d 4096 ${blocks} ${blocks / 2n} ${blocks / 2n} 10 5\n`, 'exec', T);
    expect(facts.get('/d')!.totalBytes).toBe(2n ** 56n);
  });

  it('reports malformed and inconsistent lines instead of numbers', () => {
    const { facts, problems } = parseStatF('fs /a 4096 x 1 1 1 1\nfs /b 4096 10 20 5 1 1\nnoise\n', 'exec', T);
    expect(facts.size).toBe(0);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/unexpected stat -f output/);
    expect(problems[1]).toMatch(/inconsistent/);
  });
});

describe('parseWalHealthJson', () => {
  const doc = {
    isPrimary: true,
    archiveMode: 'on',
    archiver: {
      archived_count: 12,
      last_archived_wal: '00000001000000000000000C',
      last_archived_time: '2026-11-26T00:00:00+00:00',
      failed_count: 3,
      last_failed_wal: '00000001000000000000000D',
      last_failed_time: '2026-11-26T00:05:00+00:00',
    },
    slots: [
      {
        slot_name: 'old',
        slot_type: 'physical',
        active: false,
        wal_status: 'extended',
        safe_wal_size: null,
        retained: '9007199254740993',
      },
      {
        slot_name: 'sub',
        slot_type: 'logical',
        active: true,
        wal_status: 'reserved',
        safe_wal_size: '-1024',
        retained: '-5',
      },
    ],
    ready: 7,
    done: 2,
    walDirBytes: '167772160',
  };

  it('reads archiver, slots (exact beyond 2^53), backlog and size', () => {
    const { health, problem } = parseWalHealthJson(JSON.stringify(doc), 'pg-1', 'exec', T);
    expect(problem).toBeUndefined();
    expect(health).toMatchObject({
      instance: 'pg-1',
      isPrimary: true,
      archivingConfigured: true,
      readyFiles: 7,
      doneFiles: 2,
      walDirBytes: 167772160n,
      archiver: {
        archivedCount: 12,
        failedCount: 3,
        lastArchivedTime: '2026-11-26T00:00:00.000Z',
        lastFailedTime: '2026-11-26T00:05:00.000Z',
      },
    });
    expect(health!.slots![0]).toEqual({
      name: 'old',
      type: 'physical',
      active: false,
      retainedBytes: 9007199254740993n,
      walStatus: 'extended',
    });
    // A negative retention (slot ahead of replay) is clamped to 0; a negative safe size is kept.
    expect(health!.slots![1]).toMatchObject({ retainedBytes: 0n, safeWalSizeBytes: -1024n, type: 'logical' });
  });

  it('reports unreadable output', () => {
    expect(parseWalHealthJson('psql: error', 'p', 'exec', T).problem).toMatch(/unreadable/);
    expect(parseWalHealthJson('[1]', 'p', 'exec', T).problem).toMatch(/no object/);
  });

  it('a never-used archiver has no times', () => {
    const { health } = parseWalHealthJson(
      JSON.stringify({ archiveMode: 'off', archiver: { archived_count: 0, failed_count: 0 }, slots: [] }),
      'p',
      'exec',
      T,
    );
    expect(health!.archivingConfigured).toBe(false);
    expect(health!.archiver).toEqual({ archivedCount: 0, failedCount: 0 });
  });
});

describe('parseKubeletSummary', () => {
  it('maps pvcRef volumes to facts and skips non-PVC volumes', () => {
    const summary = {
      node: { nodeName: 'n1' },
      pods: [
        {
          podRef: { name: 'pg-1', namespace: 'db' },
          volume: [
            { name: 'scratch', capacityBytes: 1, usedBytes: 1, availableBytes: 0 },
            {
              name: 'pgdata',
              pvcRef: { name: 'pg-1', namespace: 'db' },
              time: '2026-11-26T01:00:00Z',
              capacityBytes: 10737418240,
              usedBytes: 8589934592,
              availableBytes: 2147483648,
              inodes: 655360,
              inodesFree: 600000,
              inodesUsed: 55360,
            },
          ],
        },
      ],
    };
    const { volumes, problems } = parseKubeletSummary(summary, 'n1', T);
    expect(problems).toEqual([]);
    expect(volumes).toEqual([
      {
        namespace: 'db',
        pod: 'pg-1',
        pvcName: 'pg-1',
        facts: {
          totalBytes: 10737418240n,
          usedBytes: 8589934592n,
          availableBytes: 2147483648n,
          inodesTotal: 655360n,
          inodesFree: 600000n,
          inodesUsed: 55360n,
          source: 'kubelet-summary',
          observedAt: '2026-11-26T01:00:00.000Z',
        },
      },
    ]);
  });

  it('rejects malformed documents and volumes, never producing a number', () => {
    expect(parseKubeletSummary({ nope: 1 }, 'n1', T).problems[0]).toMatch(/not a summary/);
    const bad = parseKubeletSummary(
      {
        pods: [
          {
            podRef: { name: 'p', namespace: 'n' },
            volume: [{ pvcRef: { name: 'x' }, capacityBytes: -1, usedBytes: 1, availableBytes: 1 }],
          },
        ],
      },
      'n1',
      T,
    );
    expect(bad.volumes).toEqual([]);
    expect(bad.problems[0]).toMatch(/malformed byte counts/);
  });
});

describe('parseKubeletSummary: impossible figures', () => {
  const one = (vol: Record<string, unknown>) =>
    parseKubeletSummary(
      { pods: [{ podRef: { name: 'p', namespace: 'n' }, volume: [{ pvcRef: { name: 'x' }, ...vol }] }] },
      'n1',
      T,
    );

  it('refuses more used or available bytes than capacity', () => {
    const r = one({ capacityBytes: 100, usedBytes: 150, availableBytes: 0 });
    expect(r.volumes).toEqual([]);
    expect(r.problems[0]).toMatch(/more used or available bytes than capacity/);
  });

  it('keeps the bytes but drops inode counts that cannot be right', () => {
    for (const inodes of [
      { inodes: 10, inodesFree: -1, inodesUsed: 11 },
      { inodes: 10, inodesFree: 20, inodesUsed: 0 },
    ]) {
      const r = one({ capacityBytes: 100, usedBytes: 40, availableBytes: 60, ...inodes });
      expect(r.volumes[0]!.facts).toMatchObject({ totalBytes: 100n, usedBytes: 40n, availableBytes: 60n });
      expect(r.volumes[0]!.facts.inodesTotal).toBeUndefined();
      expect(r.problems[0]).toMatch(/inconsistent inode counts/);
    }
  });
});
