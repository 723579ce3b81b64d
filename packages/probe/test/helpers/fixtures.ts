import { PROBE_REPORT_API_VERSION, PROBE_REPORT_KIND, type ProbeReport } from '@cnpg-disk/core';

/** A report with every kind of series, to compare names with. */
export const FULL_REPORT: ProbeReport = {
  apiVersion: PROBE_REPORT_API_VERSION,
  kind: PROBE_REPORT_KIND,
  instance: 'pg-1',
  namespace: 'db',
  cluster: 'pg',
  observedAt: '2026-11-26T04:00:00.000Z',
  volumes: [
    {
      type: 'data',
      mountPath: '/var/lib/postgresql/data',
      filesystem: {
        totalBytes: 100n,
        usedBytes: 90n,
        availableBytes: 5n,
        inodesTotal: 10n,
        inodesUsed: 4n,
        inodesFree: 6n,
      },
    },
    { type: 'tablespace', tablespace: 'idx', mountPath: '/var/lib/postgresql/tablespaces/idx' },
  ],
  wal: {
    instance: 'pg-1',
    archivingConfigured: true,
    archiver: { archivedCount: 1, failedCount: 0, lastArchivedTime: '2026-11-26T03:00:00.000Z' },
    readyFiles: 2,
    walDirBytes: 3n,
    slots: [{ name: 's', type: 'physical', active: false, retainedBytes: 7n }],
  },
  errors: [{ field: 'volumes.tablespace.idx', message: 'x' }],
};
