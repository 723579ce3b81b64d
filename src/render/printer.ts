/**
 * One -o flag for every command; each format is a small printer. Machine
 * output is always a versioned document (apiVersion/kind) whose schema is
 * documented in docs/output-schema.md; the table is for people.
 */
import YAML from 'yaml';
import { bigintReplacer, toPlain } from '@cnpg-disk/core';
import { collectBeforeOutput, type IOStreams } from '../cli/io.js';
import type { OutputFormat } from './output-format.js';

/** The type of the -o value; the values and their parsing are in output-format.ts. */
export type { OutputFormat };

export const API_VERSION = 'disk.cnpg-plugin.dev/v1alpha1';

/**
 * A machine-readable document: versioned. Its byte counts are still BigInt
 * here; documentJson and documentYaml write them as decimal strings. (JSON is
 * written in one pass with a replacer: copying the tree to plain values first
 * cost a second stringify and a parse of the whole document, ~2× the time of
 * a 1,800-volume status.)
 */
export function document(kind: string, body: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind, ...body };
}

/** A document as JSON, BigInt as decimal strings; `indent` 0 gives one line (NDJSON). */
export function documentJson(doc: Record<string, unknown>, indent: 0 | 2 = 2): string {
  return JSON.stringify(doc, bigintReplacer, indent || undefined);
}

/** A document as YAML: the same values as documentJson (plain first, so BigInt is a string, not a YAML integer). */
export function documentYaml(doc: Record<string, unknown>): string {
  return YAML.stringify(toPlain(doc), { lineWidth: 0 });
}

export function printDocument(io: IOStreams, format: 'json' | 'yaml', doc: Record<string, unknown>): void {
  if (format === 'json') io.stdout(documentJson(doc) + '\n');
  else io.stdout(documentYaml(doc));
}

/** -o json and -o yaml: a document for machines, and nothing else on stdout. */
export function isMachineFormat(format: OutputFormat): format is 'json' | 'yaml' {
  return format === 'json' || format === 'yaml';
}

/** What a command prints, in both shapes; the printer picks one by -o. */
export interface Printable {
  /** The versioned document of -o json|yaml (built only when asked for). */
  document: () => Record<string, unknown>;
  /** The text for people, -o table or -o wide: data on stdout, status on stderr. */
  text: (wide: boolean) => void;
}

/**
 * The one printer of every command's result: the -o switch is written here
 * only. `stream` (disk status --watch) prints one document per refresh: JSON
 * on one line (NDJSON), YAML as a `---` separated stream.
 */
export function printResult(
  io: IOStreams,
  format: OutputFormat,
  result: Printable,
  opts: { stream?: boolean } = {},
): void {
  collectBeforeOutput();
  if (!isMachineFormat(format)) {
    result.text(format === 'wide');
  } else if (!opts.stream) {
    printDocument(io, format, result.document());
  } else if (format === 'json') {
    io.stdout(documentJson(result.document(), 0) + '\n');
  } else {
    io.stdout('---\n' + documentYaml(result.document()));
  }
}

/** Minimal ANSI colouring, only when the terminal allows it. */
export function paint(io: IOStreams, style: 'red' | 'yellow' | 'green' | 'dim' | 'bold', text: string): string {
  if (!io.color) return text;
  const codes = { red: [31, 39], yellow: [33, 39], green: [32, 39], dim: [2, 22], bold: [1, 22] } as const;
  const [open, close] = codes[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}
