/**
 * Records which modules a child Node process loads: an ES module loader hook
 * (every ES module, and CommonJS entry points imported from them) plus a
 * CommonJS preload that lists `require`'s cache at exit. Used to check that a
 * command loads only what it needs (start-up tests, the read-only path).
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ModuleLog {
  /** Node options that load the hooks (before the script). */
  nodeArgs: string[];
  /** A fresh log file and the environment variable that points the hooks at it. */
  newLog(): { env: { LOADED_LOG: string }; read: () => string[] };
  /** Removes the hook files and logs. */
  remove(): void;
}

export function moduleLog(): ModuleLog {
  const dir = mkdtempSync(join(tmpdir(), 'cnpg-module-log-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function load(url, context, next) {\n' +
      "  appendFileSync(process.env.LOADED_LOG, url + '\\n');\n" +
      '  return next(url, context);\n' +
      '}\n',
  );
  const cjsHook = join(dir, 'cjs.cjs');
  writeFileSync(
    cjsHook,
    "process.on('exit', () => require('node:fs').appendFileSync(process.env.LOADED_LOG, " +
      "Object.keys(require('node:module')._cache).join('\\n') + '\\n'));\n",
  );
  const hook = join(dir, 'register.mjs');
  writeFileSync(hook, "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
  let n = 0;
  return {
    nodeArgs: ['--import', hook, '--require', cjsHook],
    newLog() {
      const file = join(dir, `loaded-${n++}.txt`);
      appendFileSync(file, '');
      return {
        env: { LOADED_LOG: file },
        read: () => readFileSync(file, 'utf8').split('\n').filter(Boolean),
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The npm packages among loaded module URLs and paths. */
export const packagesIn = (loaded: string[]): Set<string> =>
  new Set(loaded.flatMap((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1] ?? []));
