/**
 * The `probe` source, pure part: which Pods carry the plugin's sidecar, and
 * its status document (the probe's own report) turned into facts — checked by
 * core's decoder, refused when it names another pod, errors passed on as
 * sentences.
 */
import { describe, expect, it } from 'vitest';
import { bigintReplacer, type ProbeReport } from '@cnpg-disk/core';
import { FULL_REPORT } from '../../../packages/probe/test/helpers/fixtures.js';
import { PROBE_PORT, parseProbeStatus, probeSidecarOf } from '../../../src/sources/probe.js';

const text = (r: unknown) => JSON.stringify(r, bigintReplacer);

describe('probeSidecarOf', () => {
  const pod = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) => ({
    metadata: { name: 'pg-1' },
    spec,
    status,
  });

  it('a native sidecar, its port and whether it runs', () => {
    const p = pod(
      {
        initContainers: [
          { name: 'bootstrap-controller' },
          {
            name: 'cnpg-disk-probe',
            restartPolicy: 'Always',
            ports: [
              { name: 'other', containerPort: 1 },
              { name: 'disk-status', containerPort: 9999 },
            ],
          },
        ],
        containers: [{ name: 'postgres' }],
      },
      { initContainerStatuses: [{ name: 'cnpg-disk-probe', state: { running: { startedAt: 'x' } } }] },
    );
    expect(probeSidecarOf(p)).toEqual({ port: 9999, running: true });
  });

  it('an init container that is not a sidecar does not count; a plain container does; default port', () => {
    expect(
      probeSidecarOf(pod({ initContainers: [{ name: 'cnpg-disk-probe' }], containers: [{ name: 'postgres' }] })),
    ).toBeUndefined();
    expect(
      probeSidecarOf(
        pod(
          { containers: [{ name: 'cnpg-disk-probe', ports: [{ containerPort: 'x' }] }] },
          {
            containerStatuses: [{ name: 'cnpg-disk-probe', state: { waiting: {} } }],
          },
        ),
      ),
    ).toEqual({ port: PROBE_PORT, running: false });
    expect(probeSidecarOf(pod({ containers: [{ name: 'postgres' }] }))).toBeUndefined();
    expect(probeSidecarOf({})).toBeUndefined();
  });
});

describe('parseProbeStatus', () => {
  it('the measured volumes with source probe, the WAL facts, the probe’s own errors', () => {
    const r = parseProbeStatus(text(FULL_REPORT), 'pg-1');
    expect(r.volumes).toEqual([
      {
        type: 'data',
        facts: {
          totalBytes: 100n,
          usedBytes: 90n,
          availableBytes: 5n,
          inodesTotal: 10n,
          inodesUsed: 4n,
          inodesFree: 6n,
          source: 'probe',
          observedAt: FULL_REPORT.observedAt,
        },
      },
    ]);
    expect(r.wal).toMatchObject({ instance: 'pg-1', source: 'probe', readyFiles: 2, archivingConfigured: true });
    expect(r.errors).toEqual(
      FULL_REPORT.errors.map((e) => `the probe sidecar of pg-1 could not measure ${e.field}: ${e.message}`),
    );
  });

  it('caps the probe’s errors at five and counts the rest', () => {
    const many: ProbeReport = {
      ...FULL_REPORT,
      errors: Array.from({ length: 8 }, (_, i) => ({ field: `volumes.tablespace.t${i}`, message: 'gone' })),
    };
    const r = parseProbeStatus(text(many), 'pg-1');
    expect(r.errors).toHaveLength(6);
    expect(r.errors[5]).toBe('the probe sidecar of pg-1 reported 3 more problem(s)');
  });

  it('refuses what is not JSON, not a report, or another pod’s report — with one sentence, no facts', () => {
    expect(parseProbeStatus('<html>502</html>', 'pg-1')).toEqual({
      volumes: [],
      errors: ['the probe sidecar of pg-1 answered with something that is not JSON'],
    });
    const bad = parseProbeStatus(
      text({ ...FULL_REPORT, volumes: [{ type: 'data', mountPath: '/x', filesystem: { totalBytes: 'lots' } }] }),
      'pg-1',
    );
    expect(bad.volumes).toEqual([]);
    expect(bad.errors[0]).toMatch(/^the probe sidecar of pg-1 sent an invalid report: /);
    expect(parseProbeStatus(text(FULL_REPORT), 'pg-2')).toEqual({
      volumes: [],
      errors: ['the probe sidecar of pg-2 reports for instance "pg-1": not used'],
    });
  });
});
