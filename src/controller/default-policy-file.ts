/** Reads the default policy file (--default-policy) before a pass; never throws. */
import { readFile } from 'node:fs/promises';
import { DefaultPolicyError, parseDefaultPolicy, type DefaultPolicyFile } from './default-policy.js';

export async function readDefaultPolicy(path: string): Promise<{ file?: DefaultPolicyFile; error?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return {
      error: `cannot read the default policy file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    };
  }
  try {
    return { file: parseDefaultPolicy(text, `default policy file ${path}`) };
  } catch (e) {
    if (e instanceof DefaultPolicyError) return { error: e.message };
    throw e;
  }
}
