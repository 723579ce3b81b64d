import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { toPlain } from '@cnpg-disk/core';
import { bufferIO } from '../../../src/cli/io.js';
import { document, documentJson, documentYaml, printResult } from '../../../src/render/printer.js';

// What -o json printed before it was written in one pass: the tree copied to
// plain values (stringify + parse), then stringified again.
const twoPass = (doc: Record<string, unknown>, indent?: number) => JSON.stringify(toPlain(doc), null, indent);

const body = fc.dictionary(
  fc.string(),
  fc.anything({
    withBigInt: true,
    withDate: true,
    withNullPrototype: true,
    withSparseArray: true,
    withObjectString: true,
    withBoxedValues: true,
  }),
);

describe('document output', () => {
  it('writes byte counts as exact decimal strings, beyond 2^53', () => {
    const doc = document('DiskStatus', { volume: { requestBytes: 2n ** 64n + 1n, used: 5n, list: [1n, 'x'] } });
    expect(JSON.parse(documentJson(doc))).toEqual({
      apiVersion: 'disk.cnpg-plugin.dev/v1alpha1',
      kind: 'DiskStatus',
      volume: { requestBytes: '18446744073709551617', used: '5', list: ['1', 'x'] },
    });
    expect(YAML.parse(documentYaml(doc))).toEqual(JSON.parse(documentJson(doc)));
    expect(documentYaml(doc)).toContain('requestBytes: "18446744073709551617"');
  });

  it('JSON in one pass is byte for byte what the two-pass copy printed', () => {
    fc.assert(
      fc.property(body, (b) => {
        const doc = document('Anything', b);
        expect(documentJson(doc)).toBe(twoPass(doc, 2));
        expect(documentJson(doc, 0)).toBe(twoPass(doc));
      }),
      { numRuns: 300 },
    );
  });

  it('YAML holds the same values as JSON', () => {
    fc.assert(
      fc.property(body, (b) => {
        const doc = document('Anything', b);
        expect(YAML.parse(documentYaml(doc)) ?? {}).toEqual(JSON.parse(documentJson(doc)));
      }),
      { numRuns: 200 },
    );
  });

  it('prints pretty JSON, NDJSON for a stream, and YAML documents', () => {
    const result = { document: () => document('T', { n: 3n }), text: () => undefined };
    for (const [format, stream, want] of [
      ['json', false, '{\n  "apiVersion": "disk.cnpg-plugin.dev/v1alpha1",\n  "kind": "T",\n  "n": "3"\n}\n'],
      ['json', true, '{"apiVersion":"disk.cnpg-plugin.dev/v1alpha1","kind":"T","n":"3"}\n'],
      ['yaml', false, 'apiVersion: disk.cnpg-plugin.dev/v1alpha1\nkind: T\nn: "3"\n'],
      ['yaml', true, '---\napiVersion: disk.cnpg-plugin.dev/v1alpha1\nkind: T\nn: "3"\n'],
    ] as const) {
      const io = bufferIO();
      printResult(io, format, result, { stream });
      expect(io.out.join('')).toBe(want);
    }
  });
});
