// Parsers of the pod-proxy, Prometheus and cluster-status sources, on payloads
// in the shapes the real components produce (CloudNativePG 1.29 /pg/status and
// /metrics, the Prometheus HTTP API), plus malformed ones.
import { describe, expect, it } from 'vitest';
import {
  exactInteger,
  filesystemsFromSamples,
  kubeletVolumeStats,
  parsePrometheusText,
  parseQueryResponse,
  PrometheusError,
  prometheusQueries,
  walHealthFromSamples,
} from '../../../src/sources/prometheus.js';
import {
  mergeWal,
  parseLsn,
  parsePgStatus,
  parseStatusTime,
  statusSchemes,
  STATUS_ONLY_SOURCE,
} from '../../../src/sources/pod-proxy.js';
import { parseAutoResizeEvents, parseClusterDiskStatus } from '../../../src/sources/cluster-status.js';
import {
  metricsText,
  pgStatusJson,
  walArchiveFailingScenario,
  goFloat,
} from '../../../scripts/make-examples.scenarios.js';

const AT = '2026-11-26T10:00:00.000Z';
const NOW = Date.parse(AT);

describe('Prometheus text format', () => {
  it('reads labels with escapes, Go floats, NaN and timestamps', () => {
    const r = parsePrometheusText(
      [
        '# HELP cnpg_collector_pg_wal Total size',
        '# TYPE cnpg_collector_pg_wal gauge',
        'cnpg_collector_pg_wal{value="size"} 1.073741824e+09',
        'cnpg_collector_pg_wal{value="slots_max"} NaN',
        'weird{a="x\\"y",b="c\\nd",} 3 1700000000000',
        '',
        '# EOF',
      ].join('\n'),
    );
    expect(r.problems).toEqual([]);
    expect(r.samples).toHaveLength(3);
    expect(r.samples[2]).toEqual({ name: 'weird', labels: { a: 'x"y', b: 'c\nd' }, value: '3', timestampMs: 1.7e12 });
    expect(exactInteger(r.samples[0]?.value ?? '')).toBe(1073741824n);
  });

  it('reports every malformed line instead of dropping it silently', () => {
    const r = parsePrometheusText('ok 1\ngarbage line here\nm{a="b} 1\nx{a="1"} notanumber\nm 1 2 3\n');
    expect(r.samples).toHaveLength(1);
    expect(r.problems).toHaveLength(4);
    expect(r.problems[0]).toMatch(/^line 2: /);
    expect(r.problems.join(' ')).toContain('not a number');
  });

  it('turns Go floats into exact integers only when they are whole numbers', () => {
    expect(exactInteger('134217728')).toBe(134217728n);
    expect(exactInteger('1.34217728e+08')).toBe(134217728n);
    expect(exactInteger('2.5e+00')).toBeUndefined();
    expect(exactInteger('12.50')).toBeUndefined();
    expect(exactInteger('12.00')).toBe(12n);
    expect(exactInteger('-1')).toBe(-1n);
    expect(exactInteger('NaN')).toBeUndefined();
    expect(exactInteger('+Inf')).toBeUndefined();
    expect(exactInteger('9.007199254740993e+15')).toBe(9007199254740993n);
    expect(exactInteger('1e+99')).toBeUndefined();
    for (const v of [0, 5, 1e6, 134217728, 1.5e9, 123456789012]) expect(exactInteger(goFloat(v))).toBe(BigInt(v));
  });
});

describe('CloudNativePG /metrics → WAL health', () => {
  const c = walArchiveFailingScenario();
  const primary = c.instances[0]!;
  const replica = c.instances[1]!;

  it('reads the archiver, the .ready backlog, pg_wal size and slots of a primary', () => {
    const { samples, problems } = parsePrometheusText(metricsText(c, primary, NOW));
    expect(problems).toEqual([]);
    const w = walHealthFromSamples(samples, 'orders-db-1', 'pod-proxy', AT);
    expect(w.problems).toEqual([]);
    expect(w.archiverCounts).toBe(true);
    expect(w.health).toMatchObject({
      isPrimary: true,
      readyFiles: 212,
      doneFiles: 0,
      walDirBytes: 111n * 1024n * 1024n,
      archiver: {
        archivedCount: 2710,
        failedCount: 1534,
        lastFailedTime: new Date(NOW - 40_000).toISOString(),
      },
      slots: [{ name: '_cnpg_orders_db_2', type: 'physical', active: true, retainedBytes: 16384n }],
    });
  });

  it('knows a replica has no slots and no archiver (no pg_stat_archiver series)', () => {
    const { samples } = parsePrometheusText(metricsText(c, replica, NOW));
    const w = walHealthFromSamples(samples, 'orders-db-2', 'pod-proxy', AT);
    expect(w.health?.isPrimary).toBe(false);
    expect(w.health?.archiver).toBeUndefined();
    expect(w.health?.slots).toEqual([]);
    expect(w.archiverCounts).toBe(false);
  });

  it('never makes up a number from a malformed value', () => {
    const { samples } = parsePrometheusText(
      'cnpg_collector_pg_wal_archive_status{value="ready"} 2.5\ncnpg_collector_pg_wal{value="size"} -16\n',
    );
    const w = walHealthFromSamples(samples, 'p', 'pod-proxy', AT);
    expect(w.health?.readyFiles).toBeUndefined();
    expect(w.health?.walDirBytes).toBeUndefined();
    expect(w.problems).toHaveLength(2);
  });

  it('returns nothing for a page without WAL series', () => {
    const { samples } = parsePrometheusText('go_goroutines 12\n');
    expect(walHealthFromSamples(samples, 'p', 'pod-proxy', AT).health).toBeUndefined();
  });

  it('reads cnpg_disk_* filesystem series (disk-aware builds, this project’s probe)', () => {
    const { samples } = parsePrometheusText(
      [
        'cnpg_disk_total_bytes{pod="p",volume_type="wal",tablespace=""} 1.34217728e+08',
        'cnpg_disk_used_bytes{pod="p",volume_type="wal",tablespace=""} 116391936',
        'cnpg_disk_available_bytes{pod="p",volume_type="wal",tablespace=""} 17825792',
        'cnpg_disk_inodes_total{pod="p",volume_type="wal",tablespace=""} 1000',
        'cnpg_disk_total_bytes{pod="p",volume_type="tablespace",tablespace="idx"} 100',
        'cnpg_disk_used_bytes{pod="p",volume_type="tablespace",tablespace="idx"} 200',
        'cnpg_disk_available_bytes{pod="p",volume_type="tablespace",tablespace="idx"} 0',
      ].join('\n'),
    );
    const r = filesystemsFromSamples(samples, 'p', 'pod-proxy', AT);
    expect(r.volumes).toEqual([
      {
        type: 'wal',
        facts: {
          totalBytes: 134217728n,
          usedBytes: 116391936n,
          availableBytes: 17825792n,
          inodesTotal: 1000n,
          source: 'pod-proxy',
          observedAt: AT,
        },
      },
    ]);
    expect(r.problems).toEqual([expect.stringContaining('exceed the total')]);
  });
});

describe('CloudNativePG /pg/status', () => {
  const c = walArchiveFailingScenario();

  it('reads archiver names and times, readyWalFiles and slots with retention from the LSNs', () => {
    const r = parsePgStatus(JSON.stringify(pgStatusJson(c, c.instances[0]!, NOW)), 'orders-db-1', AT);
    if ('problem' in r) throw new Error(r.problem);
    expect(r.instanceManagerVersion).toBe('1.29.1');
    expect(r.health).toMatchObject({
      isPrimary: true,
      readyFiles: 212,
      archiver: {
        lastArchivedWal: '00000001000000000000005C',
        lastFailedWal: '00000001000000000000005D',
        lastFailedTime: new Date(NOW - 40_000).toISOString(),
      },
      slots: [{ name: '_cnpg_orders_db_2', active: true, retainedBytes: 16384n, walStatus: 'reserved' }],
    });
  });

  it('treats an omitted readyWalFiles as 0 on a primary only (omitempty), and "-infinity" as never', () => {
    const body = JSON.stringify({ isPrimary: true, lastArchivedWALTime: '-infinity', lastFailedWALTime: '' });
    const r = parsePgStatus(body, 'p', AT);
    if ('problem' in r) throw new Error(r.problem);
    expect(r.health.readyFiles).toBe(0);
    expect(r.health.archiver?.lastArchivedTime).toBeUndefined();
    const replica = parsePgStatus(JSON.stringify({ isPrimary: false }), 'p', AT);
    if ('problem' in replica) throw new Error(replica.problem);
    expect(replica.health.readyFiles).toBeUndefined();
    expect(replica.health.slots).toBeUndefined();
  });

  it('says why a payload is not a status', () => {
    expect(parsePgStatus('<html>502</html>', 'p', AT)).toEqual({ problem: expect.stringContaining('not JSON') });
    // A WAL name without its time: archive health unknown, never "never archived".
    const noTime = parsePgStatus(
      JSON.stringify({ isPrimary: true, lastArchivedWAL: '000000010000000000000003' }),
      'p',
      AT,
    );
    expect('health' in noTime && noTime.health.archiver).toBe(undefined);
    expect('problems' in noTime && noTime.problems.join()).toMatch(/without a readable time/);
    expect(parsePgStatus('{"error":"x"}', 'p', AT)).toEqual({ problem: expect.stringContaining('no isPrimary') });
    const bad = parsePgStatus('{"isPrimary":true,"readyWalFiles":"many"}', 'p', AT);
    expect('problem' in bad ? [] : bad.problems).toEqual([expect.stringContaining('not a count')]);
  });

  it('parses LSNs and the time formats the instance manager writes', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('nope')).toBeUndefined();
    expect(parseStatusTime('2021-05-05 12:00:00+00')).toBe('2021-05-05T12:00:00.000Z');
    expect(parseStatusTime('2026-11-26T09:59:20.123456789Z')).toBe('2026-11-26T09:59:20.123Z');
    expect(parseStatusTime('-infinity')).toBeUndefined();
    expect(parseStatusTime('yesterday')).toBeUndefined();
  });

  it('merges status (names, times, slot details) with metrics (counters, sizes)', () => {
    const s = parsePgStatus(JSON.stringify(pgStatusJson(c, c.instances[0]!, NOW)), 'p', AT);
    if ('problem' in s) throw new Error(s.problem);
    const m = walHealthFromSamples(
      parsePrometheusText(metricsText(c, c.instances[0]!, NOW)).samples,
      'p',
      'pod-proxy',
      AT,
    );
    const w = mergeWal(s.health, m.health, m.archiverCounts);
    expect(w?.archiver).toMatchObject({
      archivedCount: 2710,
      failedCount: 1534,
      lastFailedWal: '00000001000000000000005D',
    });
    expect(w?.walDirBytes).toBe(111n * 1024n * 1024n);
    expect(w?.slots?.[0]?.walStatus).toBe('reserved');
    expect(STATUS_ONLY_SOURCE).toBe('pod-proxy:pg-status');
  });

  it('picks the status port scheme from the pod’s probes', () => {
    const pod = (scheme?: string) => ({
      spec: {
        containers: [{ name: 'postgres', ...(scheme ? { readinessProbe: { httpGet: { port: 8000, scheme } } } : {}) }],
      },
    });
    expect(statusSchemes(pod('HTTPS'))).toEqual(['https']);
    expect(statusSchemes(pod('HTTP'))).toEqual(['http']);
    expect(statusSchemes(pod())).toEqual(['https', 'http']);
  });
});

describe('Prometheus HTTP API', () => {
  it('parses an instant vector and builds two queries per set of namespaces', () => {
    const samples = parseQueryResponse({
      status: 'success',
      data: {
        resultType: 'vector',
        result: [
          {
            metric: { __name__: 'kubelet_volume_stats_capacity_bytes', namespace: 'db', persistentvolumeclaim: 'pg-1' },
            value: [1764151200.5, '1073741824'],
          },
          {
            metric: { __name__: 'kubelet_volume_stats_used_bytes', namespace: 'db', persistentvolumeclaim: 'pg-1' },
            value: [1764151200.5, '536870912'],
          },
          {
            metric: {
              __name__: 'kubelet_volume_stats_available_bytes',
              namespace: 'db',
              persistentvolumeclaim: 'pg-1',
            },
            value: [1764151200.5, '536870912'],
          },
        ],
      },
    });
    const kv = kubeletVolumeStats(samples, AT);
    expect(kv.volumes).toEqual([
      {
        namespace: 'db',
        pvcName: 'pg-1',
        facts: {
          totalBytes: 1073741824n,
          usedBytes: 536870912n,
          availableBytes: 536870912n,
          source: 'prometheus',
          observedAt: new Date(1764151200500).toISOString(),
        },
      },
    ]);
    expect(prometheusQueries(['db', 'a.b']).kubelet).toContain('namespace=~"db|a\\\\.b"');
  });

  it('rejects error answers and odd shapes with a sentence', () => {
    expect(() => parseQueryResponse({ status: 'error', error: 'parse error at char 3' })).toThrow(/parse error/);
    expect(() => parseQueryResponse({ status: 'success', data: { resultType: 'matrix', result: [] } })).toThrow(
      PrometheusError,
    );
    expect(() => parseQueryResponse('x')).toThrow(/not a JSON object/);
  });
});

describe('Cluster status.diskStatus (documented shape)', () => {
  const cluster = {
    metadata: { name: 'pg' },
    status: {
      diskStatus: {
        instances: [
          {
            podName: 'pg-1',
            lastUpdated: '2026-11-26T09:59:00Z',
            data: { totalBytes: 1073741824, usedBytes: 536870912, availableBytes: 483183820, percentUsed: 50 },
            walVolume: { totalBytes: '536870912', usedBytes: '500000000', availableBytes: '36870912' },
            tablespaces: { idx: { totalBytes: 10, usedBytes: 20, availableBytes: 0 } },
            walHealth: { archiveHealthy: false, pendingArchiveFiles: 40, inactiveReplicationSlots: ['old'] },
          },
          { data: {} },
        ],
      },
      autoResizeEvents: [
        {
          time: '2026-11-26T08:00:00Z',
          podName: 'pg-1',
          pvcName: 'pg-1-wal',
          volumeType: 'wal',
          oldSize: '512Mi',
          newSize: '1Gi',
          reason: 'usage 85%',
          result: 'failed',
        },
      ],
    },
  };

  it('reads exact byte counts (numbers or strings), WAL health, and says what it skipped', () => {
    const ds = parseClusterDiskStatus(cluster, AT);
    expect(ds.present).toBe(true);
    const i = ds.instances[0]!;
    expect(i.volumes.map((v) => [v.type, v.facts.usedBytes])).toEqual([
      ['data', 536870912n],
      ['wal', 500000000n],
    ]);
    expect(i.volumes[0]?.facts.observedAt).toBe('2026-11-26T09:59:00.000Z');
    expect(i.archiveHealthy).toBe(false);
    expect(i.inactiveSlots).toEqual(['old']);
    expect(i.wal).toMatchObject({ readyFiles: 40, source: 'cluster-status' });
    expect(ds.problems).toEqual([expect.stringContaining('exceed totalBytes'), expect.stringContaining('no podName')]);
    expect(parseClusterDiskStatus({ status: {} }, AT)).toEqual({ present: false, instances: [], problems: [] });
    expect(parseClusterDiskStatus({ status: { diskStatus: 'x' } }, AT).problems).toHaveLength(1);
  });

  it('reads autoResizeEvents', () => {
    expect(parseAutoResizeEvents(cluster).events).toEqual([
      {
        time: '2026-11-26T08:00:00.000Z',
        pod: 'pg-1',
        pvc: 'pg-1-wal',
        volumeType: 'wal',
        oldBytes: 512n * 1024n * 1024n,
        newBytes: 1024n * 1024n * 1024n,
        reason: 'usage 85%',
        result: 'failed',
      },
    ]);
  });
});
