/**
 * One -o flag for every command; each format is a small printer. Machine
 * output is always a versioned document (apiVersion/kind) whose schema is
 * documented in docs/output-schema.md; the table is for people.
 */
import YAML from 'yaml';
import { toPlain } from '@cnpg-disk/core';
import { collectBeforeOutput, type IOStreams } from '../cli/io.js';
import type { OutputFormat } from './output-format.js';

/** The type of the -o value; the values and their parsing are in output-format.ts. */
export type { OutputFormat };

export const API_VERSION = 'disk.cnpg-plugin.dev/v1alpha1';

/** A machine-readable document: versioned, with BigInt byte counts as decimal strings. */
export function document(kind: string, body: Record<string, unknown>): Record<string, unknown> {
  return toPlain({ apiVersion: API_VERSION, kind, ...body }) as Record<string, unknown>;
}

export function printDocument(io: IOStreams, format: 'json' | 'yaml', doc: Record<string, unknown>): void {
  if (format === 'json') io.stdout(JSON.stringify(doc, null, 2) + '\n');
  else io.stdout(YAML.stringify(doc, { lineWidth: 0 }));
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
    io.stdout(JSON.stringify(result.document()) + '\n');
  } else {
    io.stdout('---\n' + YAML.stringify(result.document(), { lineWidth: 0 }));
  }
}

/** Minimal ANSI colouring, only when the terminal allows it. */
export function paint(io: IOStreams, style: 'red' | 'yellow' | 'green' | 'dim' | 'bold', text: string): string {
  if (!io.color) return text;
  const codes = { red: [31, 39], yellow: [33, 39], green: [32, 39], dim: [2, 22], bold: [1, 22] } as const;
  const [open, close] = codes[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}
