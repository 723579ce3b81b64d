/** CloudNativePG volume naming: labels, PVC names and mount paths (spec/engine.md "Vocabulary"). */
import { describe, expect, it } from 'vitest';
import {
  EMPTY_LEDGER,
  LEDGER_ANNOTATION,
  MOUNT_PATHS,
  POLICY_ANNOTATION,
  PVC_ROLES,
  PVC_ROLE_LABEL,
  mountPathFor,
  pvcNameFor,
  volumeTypeFromRole,
} from '@cnpg-disk/core';

describe('volume vocabulary', () => {
  it('maps cnpg.io/pvcRole both ways', () => {
    expect(PVC_ROLE_LABEL).toBe('cnpg.io/pvcRole');
    expect(PVC_ROLES).toEqual({ data: 'PG_DATA', wal: 'PG_WAL', tablespace: 'PG_TABLESPACE' });
    for (const [type, role] of Object.entries(PVC_ROLES)) expect(volumeTypeFromRole(role)).toBe(type);
    expect(volumeTypeFromRole('PG_OTHER')).toBeUndefined();
    expect(volumeTypeFromRole(undefined)).toBeUndefined();
  });

  it('names PVCs as CloudNativePG does', () => {
    expect(pvcNameFor('pg-1', 'data')).toBe('pg-1');
    expect(pvcNameFor('pg-1', 'wal')).toBe('pg-1-wal');
    expect(pvcNameFor('pg-1', 'tablespace', 'tbs1')).toBe('pg-1-tbs-tbs1');
    // A caller that forgets the tablespace name gets a visibly incomplete name, not a crash.
    expect(pvcNameFor('pg-1', 'tablespace')).toBe('pg-1-tbs-');
    expect(mountPathFor('tablespace')).toBe('/var/lib/postgresql/tablespaces/');
  });

  it('knows the mount paths', () => {
    expect(mountPathFor('data')).toBe('/var/lib/postgresql/data');
    expect(mountPathFor('wal')).toBe('/var/lib/postgresql/wal');
    expect(mountPathFor('tablespace', 'tbs1')).toBe('/var/lib/postgresql/tablespaces/tbs1');
    expect(MOUNT_PATHS.pgdata).toBe('/var/lib/postgresql/data/pgdata');
    expect(MOUNT_PATHS.pgWal).toBe('/var/lib/postgresql/wal/pg_wal');
  });

  it("uses this project's annotation prefix, never cnpg.io", () => {
    for (const a of [POLICY_ANNOTATION, LEDGER_ANNOTATION]) expect(a.startsWith('cnpg.io/')).toBe(false);
    expect(EMPTY_LEDGER).toEqual({ entries: [] });
  });
});
