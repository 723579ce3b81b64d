/**
 * The -o values and their parsing, apart from the printers: the flags of
 * every command need them, and importing them from printer.ts loaded the YAML
 * library (and the printers) for `--help` and `--version` too.
 */
import { usageError } from '../model/errors.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: string | undefined, json: boolean): OutputFormat {
  if (json) {
    // `--json` is `-o json`; asking for two different formats is a contradiction, not a preference.
    if (value !== undefined && value !== 'json') {
      throw usageError(`--json and -o ${value} ask for two different formats; use one of them`);
    }
    return 'json';
  }
  if (value === undefined) return 'table';
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw usageError(`unknown output format ${JSON.stringify(value)}; allowed: ${OUTPUT_FORMATS.join(', ')}`);
}
