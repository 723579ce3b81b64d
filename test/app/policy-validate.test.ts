// disk policy validate without an API server: policy files (shape-free and
// with a stated shape), Cluster manifests, a Cluster from a snapshot file
// (--from-bundle), output formats and exit codes, and one case per
// validation code, checked against docs/policy.md. The live --cluster path
// runs against a real kube-apiserver in policy-validate-apiserver.test.ts.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { toPlain } from '@cnpg-disk/core';
import {
  parseSizeFlags,
  runPolicyValidate,
  statedShape,
  validatePolicy,
  type PolicyValidateOptions,
  type StatedShape,
} from '../../src/app/policy-validate.js';
import type { Deps } from '../../src/cli/deps.js';
import type { CliError } from '../../src/model/errors.js';
import { bufferIO } from '../../src/cli/io.js';
import { cluster, clusterSnapshot, pod, pvc, snapshot } from '../helpers/fixtures.js';

const DIR = mkdtempSync(join(tmpdir(), 'policy-validate-test-'));
const DOCS = fileURLToPath(new URL('../../docs/policy.md', import.meta.url));
let n = 0;
function file(content: unknown, ext = 'yaml'): string {
  const p = join(DIR, `f${++n}.${ext}`);
  writeFileSync(
    p,
    typeof content === 'string' ? content : ext === 'json' ? JSON.stringify(content) : YAML.stringify(content),
  );
  return p;
}

function deps() {
  const io = bufferIO();
  const d: Deps = {
    io,
    now: () => new Date('2026-11-26T00:00:00Z'),
    kube: () => {
      throw new Error('this test must not reach an API server');
    },
  };
  return { io, deps: d };
}

async function run(o: Partial<PolicyValidateOptions>) {
  const { io, deps: d } = deps();
  const code = await runPolicyValidate({ output: 'table', verbose: false, ...o }, d);
  return { code, out: io.out.join(''), err: io.err.join('') };
}

async function usage(o: Partial<PolicyValidateOptions>): Promise<CliError> {
  try {
    await runPolicyValidate({ output: 'table', verbose: false, ...o }, deps().deps);
  } catch (e) {
    return e as CliError;
  }
  throw new Error('expected a usage error');
}

const GOOD = {
  apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
  kind: 'ResizePolicy',
  storage: { resize: { enabled: true, triggers: { usageThreshold: 85 }, expansion: { step: '25%', limit: '1Ti' } } },
  walStorage: { resize: { enabled: true, strategy: { maxActionsPerDay: 2 } } },
};

describe('disk policy validate FILE', () => {
  it('a clean policy exits 0 and says so', async () => {
    const r = await run({ file: file(GOOD) });
    expect(r.code).toBe(0);
    expect(r.out).toBe('valid: no errors, no warnings\n');
    expect(r.err).toMatch(/shape: shape-free/);
  });

  it('warnings only exit 1, errors exit 2; the table has SEVERITY, CODE, PATH, MESSAGE', async () => {
    const warn = await run({
      file: file({ storage: { resize: { enabled: true, strategy: { maxActionsPerDay: 0 } } } }),
    });
    expect(warn.code).toBe(1);
    expect(warn.out).toMatch(/^SEVERITY\s+CODE\s+PATH\s+MESSAGE\n/);
    expect(warn.out).toMatch(
      /WARNING\s+MAX_ACTIONS_ZERO\s+storage\.resize\.strategy\.maxActionsPerDay\s+maxActionsPerDay is 0/,
    );
    expect(warn.out).toMatch(/valid: 0 error\(s\), 1 warning\(s\)/);
    const bad = await run({ file: file({ storage: { resize: { triggers: { usageThreshold: 100 } } } }, 'json') });
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/ERROR\s+THRESHOLD_OUT_OF_RANGE\s+storage\.resize\.triggers\.usageThreshold/);
    expect(bad.out).toMatch(/invalid: 1 error\(s\), 0 warning\(s\)/);
  });

  it('an unreadable or unparsable file is a usage error (64), not a finding', async () => {
    expect((await usage({ file: join(DIR, 'missing.yaml') })).exitCode).toBe(64);
    const e = await usage({ file: file('storage: [unclosed') });
    expect(e.exitCode).toBe(64);
    expect(e.message).toMatch(/is not valid YAML\/JSON/);
    // Valid YAML that is not a mapping is a document error (exit 2), with its code.
    const r = await run({ file: file('- just\n- a list\n') });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/ERROR\s+DOCUMENT_INVALID\s+\(document\)/);
  });

  it('a stated shape turns on the shape rules; partial shapes and contradictions are usage errors', async () => {
    const single = { storage: { resize: { enabled: true } } };
    expect((await run({ file: file(single) })).code).toBe(0);
    const r = await run({ file: file(single), shape: { layout: 'single-volume' } });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/WAL_RISK_NOT_ACKNOWLEDGED/);
    expect(r.err).toMatch(/shape: single volume \(WAL on data\), archiving unknown, tablespaces: none/);
    expect((await run({ file: file(single), shape: { layout: 'wal-volume' } })).code).toBe(0);
    expect((await usage({ file: file(single), shape: { archiving: true } })).message).toMatch(
      /state its volume layout/,
    );
    expect((await usage({ file: file(single), shape: { tablespaces: ['x'] } })).exitCode).toBe(64);
    expect((await usage({})).message).toMatch(/give a policy FILE, --cluster NAME, or both/);
  });

  it('--size parses data, wal and tablespace sizes, and rejects nonsense', () => {
    expect(parseSizeFlags(['data=100Gi', 'wal=10Gi', 'tbs:idx=5Gi'])).toEqual({
      data: 100n * 1024n ** 3n,
      wal: 10n * 1024n ** 3n,
      tablespaces: { idx: 5n * 1024n ** 3n },
    });
    expect(() => parseSizeFlags(['data'])).toThrow(/ROLE=QUANTITY/);
    expect(() => parseSizeFlags(['log=1Gi'])).toThrow(/ROLE=QUANTITY/);
    expect(() => parseSizeFlags(['data=lots'])).toThrow(/--size "data=lots"/);
    expect(statedShape(undefined)).toBeUndefined();
    expect(statedShape({ layout: 'wal-volume', archiving: false, tablespaces: ['a'] })).toMatchObject({
      singleVolume: false,
      tablespaces: ['a'],
      archiving: { configured: false },
    });
  });

  it('-o json is a versioned PolicyValidation document', async () => {
    const { io, deps: d } = deps();
    const code = await runPolicyValidate(
      {
        file: file({ walStorage: { resize: { enabled: true, expansion: { limit: '5Gi' } } } }),
        shape: { layout: 'wal-volume', archiving: true, sizes: ['wal=10Gi'] },
        output: 'json',
        verbose: false,
      },
      d,
    );
    expect(code).toBe(1);
    const doc = JSON.parse(io.out.join('')) as Record<string, unknown>;
    expect(doc).toMatchObject({
      apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
      kind: 'PolicyValidation',
      input: { kind: 'policy-document' },
      shape: { singleVolume: false, tablespaces: [], archiving: { configured: true } },
      sizes: { wal: String(10n * 1024n ** 3n) },
      valid: true,
      summary: { errors: 0, warnings: 1 },
      issues: [
        {
          source: 'file',
          severity: 'warning',
          code: 'LIMIT_NOT_ABOVE_SIZE',
          path: 'walStorage.resize.expansion.limit',
          message: expect.stringMatching(/will not be resized/),
        },
      ],
    });
    expect(io.err.join('')).toBe('');
  });
});

describe('disk policy validate on a Cluster manifest', () => {
  const manifest = (annotation?: string, specExtra: Record<string, unknown> = {}) => ({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: {
      name: 'main',
      namespace: 'payments',
      ...(annotation ? { annotations: { 'disk.cnpg-plugin.dev/resize-policy': annotation } } : {}),
    },
    spec: {
      instances: 3,
      storage: { size: '100Gi', ...specExtra },
      walStorage: { size: '10Gi' },
      tablespaces: [{ name: 'idx', storage: { size: '50Gi' } }],
    },
  });

  it('checks the annotation against the shape and sizes the manifest declares', async () => {
    const ann = YAML.stringify({
      storage: {
        resize: {
          enabled: true,
          expansion: { limit: '80Gi' },
          strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } },
        },
      },
      tablespaces: { idx: { resize: { enabled: true } }, gone: { resize: { enabled: true } } },
    });
    const r = await run({ file: file(manifest(ann)) });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^SOURCE\s+SEVERITY\s+CODE\s+PATH\s+MESSAGE/);
    expect(r.out).toMatch(
      /annotation\s+WARNING\s+LIMIT_NOT_ABOVE_SIZE\s+storage\.resize\.expansion\.limit\s+limit 80Gi is not above the current size \(100Gi\)/,
    );
    expect(r.out).toMatch(/annotation\s+WARNING\s+WAL_RISK_ACK_UNNEEDED/);
    expect(r.out).toMatch(/annotation\s+WARNING\s+UNKNOWN_TABLESPACE\s+tablespaces\.gone/);
    expect(r.out).toMatch(
      /policy in force: data ← annotation \(enabled\), wal ← defaults \(disabled\), tbs:idx ← annotation \(enabled\)/,
    );
    expect(r.err).toMatch(
      /\(Cluster manifest\); shape: separate WAL volume, archiving not configured, tablespaces: idx/,
    );
  });

  it('checks the Cluster’s own resize fields (operator builds that have them), which win over the annotation', async () => {
    const r = await run({
      file: file(
        manifest('storage: { resize: { enabled: true } }', { resize: { enabled: true, expansion: { step: '150%' } } }),
      ),
    });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/cluster-spec\s+ERROR\s+STEP_PERCENT_OUT_OF_RANGE\s+spec\.storage\.resize\.expansion\.step/);
    expect(r.out).toMatch(/data ← cluster-spec \(invalid: not resized\)/);
  });

  it('a broken annotation is one DOCUMENT_INVALID error; shape flags and --cluster do not apply', async () => {
    const r = await run({ file: file(manifest('storage: [oops')) });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(
      /annotation\s+ERROR\s+DOCUMENT_INVALID\s+metadata\.annotations\[disk\.cnpg-plugin\.dev\/resize-policy\]/,
    );
    const f = file(manifest());
    expect((await usage({ file: f, shape: { layout: 'single-volume' } })).message).toMatch(/is a Cluster manifest/);
    expect((await run({ file: f })).code).toBe(0);
  });
});

describe('files that are not a policy (docs/cli.md: exit codes)', () => {
  it('a file that does not parse as YAML/JSON is a usage error (64); one that parses to no mapping is DOCUMENT_INVALID (2)', async () => {
    const broken = await usage({ file: file('a: [\n') });
    expect(broken.exitCode).toBe(64);
    expect(broken.message).toMatch(/is not valid YAML\/JSON/);
    for (const text of ['just a sentence, not a policy at all\n', '- a\n- list\n', '\u0001\u0002 binary \u00ff']) {
      const r = await run({ file: file(text) });
      expect(r.code, JSON.stringify(text)).toBe(2);
      expect(r.out).toMatch(/ERROR\s+DOCUMENT_INVALID\s+\(document\)\s+the policy document must be a mapping/);
    }
  });
});

describe('disk policy validate: the CNPG-I plugin parameters', () => {
  const withPlugin = (parameters: Record<string, string>, enabled = true) => ({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: {
      name: 'main',
      namespace: 'payments',
      annotations: { 'disk.cnpg-plugin.dev/resize-policy': 'storage: { resize: { enabled: false } }' },
    },
    spec: {
      instances: 3,
      storage: { size: '100Gi' },
      walStorage: { size: '10Gi' },
      plugins: [{ name: 'disk.cnpg-plugin.dev', enabled, parameters }],
    },
  });

  it('a manifest: the parameters are checked with the same codes, at their keys, and win over the annotation', async () => {
    const r = await run({
      file: file(withPlugin({ 'data.enabled': 'true', 'data.limit': '50Gi', 'wal.usageThreshold': '150' })),
    });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(
      /plugin\s+WARNING\s+LIMIT_NOT_ABOVE_SIZE\s+data\.limit\s+limit 50Gi is not above the current size \(100Gi\)/,
    );
    expect(r.out).toMatch(
      /plugin\s+ERROR\s+THRESHOLD_OUT_OF_RANGE\s+wal\.usageThreshold\s+usageThreshold 150 is outside 1\.\.99/,
    );
    expect(r.out).toMatch(/data ← plugin \(enabled\), wal ← plugin \(invalid: not resized\)/);
  });

  it('a disabled plugin entry is no source: the annotation governs', async () => {
    const r = await run({ file: file(withPlugin({ 'data.enabled': 'yes' }, false)) });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/data ← annotation \(disabled\)/);
  });

  it('--cluster from a bundle: the live Cluster’s parameters, against its PVC sizes', async () => {
    const c = cluster({
      name: 'pg',
      walStorage: true,
      specExtra: {
        plugins: [{ name: 'disk.cnpg-plugin.dev', parameters: { 'wal.enabled': 'true', 'wal.minAvailable': '3Gi' } }],
      },
    });
    const pvcs = [
      pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi' }),
      pvc({ instance: 'pg-1', role: 'PG_WAL', request: '2Gi' }),
    ];
    const bundle = file(
      JSON.stringify(toPlain({ kind: 'Snapshot', ...snapshot([clusterSnapshot(c, [pod({ name: 'pg-1' })], pvcs)]) })),
      'json',
    );
    const r = await run({ cluster: 'pg', fromBundle: bundle });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/plugin\s+WARNING\s+MIN_AVAILABLE_ABOVE_SIZE\s+wal\.minAvailable/);
    expect(r.out).toMatch(/wal ← plugin \(enabled\)/);
  });
});

describe('disk policy validate --cluster with --from-bundle', () => {
  const c = cluster({
    name: 'pg',
    walStorage: true,
    annotations: {
      'disk.cnpg-plugin.dev/resize-policy': 'storage: { resize: { enabled: true, triggers: { minAvailable: 20Gi } } }',
    },
  });
  const pvcs = [
    pvc({ instance: 'pg-1', role: 'PG_DATA', request: '10Gi', capacity: '12Gi' }),
    pvc({ instance: 'pg-1', role: 'PG_WAL', request: '2Gi' }),
  ];
  const bundle = file(
    JSON.stringify(toPlain({ kind: 'Snapshot', ...snapshot([clusterSnapshot(c, [pod({ name: 'pg-1' })], pvcs)]) })),
    'json',
  );

  it('--cluster alone validates the Cluster’s annotation against its current PVC sizes', async () => {
    const r = await run({ cluster: 'pg', fromBundle: bundle });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /annotation\s+WARNING\s+MIN_AVAILABLE_ABOVE_SIZE\s+storage\.resize\.triggers\.minAvailable\s+minAvailable 20Gi is larger than the volume \(12Gi\)/,
    );
    expect(r.out).toMatch(/policy in force: data ← annotation \(enabled\), wal ← defaults \(disabled\)/);
    expect(r.err).toMatch(/validating Cluster db\/pg/);
  });

  it('FILE --cluster validates the file against that Cluster and shows which volumes it would govern', async () => {
    const v = await validatePolicy(
      {
        file: file({ walStorage: { resize: { enabled: true, expansion: { limit: '1Gi' } } } }),
        cluster: 'pg',
        fromBundle: bundle,
        output: 'table',
        verbose: false,
      },
      deps().deps,
    );
    expect(v.issues.map((i) => [i.source, i.code])).toEqual([['file', 'LIMIT_NOT_ABOVE_SIZE']]);
    expect(v.inForce).toEqual([
      { volume: 'data', source: 'annotation', enabled: true, errors: 0 },
      { volume: 'wal', source: 'file', enabled: true, errors: 0 },
    ]);
  });

  it('an unknown cluster, shape flags with --cluster, or --from-bundle without --cluster are usage errors', async () => {
    expect((await usage({ cluster: 'nope', fromBundle: bundle })).message).toMatch(
      /no CloudNativePG Cluster "nope" in the bundle/,
    );
    expect((await usage({ cluster: 'pg', fromBundle: bundle, shape: { layout: 'wal-volume' } })).exitCode).toBe(64);
    expect((await usage({ file: file(GOOD), fromBundle: bundle })).message).toMatch(/--from-bundle needs --cluster/);
  });
});

/** One document (and stated shape) per validation code: every code is reachable from the CLI and documented. */
const CASES: { code: string; doc: unknown; shape?: StatedShape }[] = [
  { code: 'DOCUMENT_INVALID', doc: 'not a mapping' },
  { code: 'UNKNOWN_FIELD', doc: { walStorge: { resize: { enabled: true } } } },
  { code: 'FIELD_TYPE', doc: { storage: { resize: { enabled: 'yes' } } } },
  { code: 'THRESHOLD_OUT_OF_RANGE', doc: { storage: { resize: { triggers: { usageThreshold: 0 } } } } },
  { code: 'QUANTITY_INVALID', doc: { storage: { resize: { expansion: { limit: 'two terabytes' } } } } },
  { code: 'STEP_INVALID', doc: { storage: { resize: { expansion: { step: 'a lot' } } } } },
  { code: 'STEP_BARE_INTEGER', doc: { storage: { resize: { expansion: { step: 10 } } } } },
  { code: 'STEP_ZERO', doc: { storage: { resize: { expansion: { step: '0Gi' } } } } },
  { code: 'STEP_PERCENT_OUT_OF_RANGE', doc: { storage: { resize: { expansion: { step: '101%' } } } } },
  { code: 'MIN_STEP_ABOVE_MAX_STEP', doc: { storage: { resize: { expansion: { minStep: '10Gi', maxStep: '5Gi' } } } } },
  { code: 'MAX_ACTIONS_OUT_OF_RANGE', doc: { storage: { resize: { strategy: { maxActionsPerDay: 11 } } } } },
  {
    code: 'WAL_THRESHOLD_NEGATIVE',
    doc: { walStorage: { resize: { strategy: { walSafetyPolicy: { maxPendingWALFiles: -1 } } } } },
  },
  {
    code: 'WAL_RISK_NOT_ACKNOWLEDGED',
    doc: { storage: { resize: { enabled: true } } },
    shape: { layout: 'single-volume' },
  },
  { code: 'MAX_ACTIONS_ZERO', doc: { storage: { resize: { enabled: true, strategy: { maxActionsPerDay: 0 } } } } },
  {
    code: 'MIN_AVAILABLE_ABOVE_SIZE',
    doc: { storage: { resize: { triggers: { minAvailable: '20Gi' } } } },
    shape: { sizes: ['data=10Gi'] },
  },
  {
    code: 'LIMIT_NOT_ABOVE_SIZE',
    doc: { storage: { resize: { expansion: { limit: '10Gi' } } } },
    shape: { sizes: ['data=10Gi'] },
  },
  { code: 'STEP_BOUNDS_IGNORED', doc: { storage: { resize: { expansion: { step: '5Gi', maxStep: '50Gi' } } } } },
  {
    code: 'STEP_ABOVE_SIZE',
    doc: { storage: { resize: { expansion: { step: '20Gi' } } } },
    shape: { sizes: ['data=10Gi'] },
  },
  {
    code: 'WAL_RISK_ACK_UNNEEDED',
    doc: { storage: { resize: { strategy: { walSafetyPolicy: { acknowledgeWALRisk: true } } } } },
    shape: { layout: 'wal-volume' },
  },
  {
    code: 'ARCHIVE_CHECK_WITHOUT_ARCHIVING',
    doc: { walStorage: { resize: { strategy: { walSafetyPolicy: { requireArchiveHealthy: true } } } } },
    shape: { layout: 'wal-volume', archiving: false },
  },
  {
    code: 'MIN_STEP_ABOVE_ROOM',
    doc: { storage: { resize: { expansion: { minStep: '5Gi', limit: '12Gi' } } } },
    shape: { sizes: ['data=10Gi'] },
  },
  {
    code: 'WAL_SAFETY_NOT_APPLICABLE',
    doc: { tablespaces: { idx: { resize: { strategy: { walSafetyPolicy: { alertOnResize: false } } } } } },
  },
  {
    code: 'UNKNOWN_TABLESPACE',
    doc: { tablespaces: { idx: { resize: { enabled: true } } } },
    shape: { layout: 'wal-volume', tablespaces: ['data2'] },
  },
  { code: 'NO_WAL_VOLUME', doc: { walStorage: { resize: { enabled: true } } }, shape: { layout: 'single-volume' } },
  {
    code: 'PREDICTIVE_DURATION_INVALID',
    doc: { storage: { resize: { triggers: { predictive: { horizon: '1w' } } } } },
  },
  {
    code: 'PREDICTIVE_MIN_SAMPLES_OUT_OF_RANGE',
    doc: { storage: { resize: { triggers: { predictive: { minSamples: 1 } } } } },
  },
  {
    code: 'PREDICTIVE_HORIZON_FAR',
    doc: { storage: { resize: { triggers: { predictive: { horizon: '7d', window: '6h' } } } } },
  },
];

describe('every validation code', () => {
  it.each(CASES)('$code is reported from the command line', async ({ code, doc, shape }) => {
    const v = await validatePolicy(
      { file: file(typeof doc === 'string' ? JSON.stringify(doc) : doc), shape, output: 'json', verbose: false },
      deps().deps,
    );
    expect(v.issues.map((i) => i.code)).toContain(code);
  });

  it('docs/policy.md documents exactly these codes', () => {
    const text = readFileSync(DOCS, 'utf8').split('### Every code')[1] ?? '';
    const documented = [...text.matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(CASES.map((c) => c.code).sort());
  });
});
