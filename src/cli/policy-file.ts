/** Reads a policy document file (YAML or JSON) for --policy and `disk policy validate`. */
import { readFile } from 'node:fs/promises';
import { usageError } from '../model/errors.js';

export async function readPolicyFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw usageError(`cannot read policy file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const { default: YAML } = await import('yaml'); // only when a policy file is given
    return YAML.parse(text) as unknown;
  } catch (e) {
    throw usageError(`policy file ${path} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}
