/**
 * Start-up of the single-file binary (bundled by scripts/release/bundle.ts,
 * never run by Node from the repository).
 *
 * oclif finds commands, hooks and the help class by file path at run time.
 * Inside a single-file executable there are no such files, so:
 *  - every plugin gets a virtual root, its package.json is handed to oclif
 *    as data (no package.json is read from disk), and its commands are
 *    declared with the explicit strategy;
 *  - oclif's module loader is asked first for those virtual paths and answers
 *    with modules that were bundled statically (anything else falls through
 *    to the normal loader and fails as it would);
 *  - the arguments arrive already rewritten by the CLI's own
 *    argvForInvocation (src/cli/invocation.ts), which the generated entry
 *    calls with the name the binary was started under (invokedName).
 */
import { join } from 'node:path';

import { Config, ModuleLoader, Plugin, execute, settings } from '@oclif/core';
import type { Interfaces } from '@oclif/core';

/** What the generated entry knows about one plugin (the CLI itself first). */
export interface BundledPlugin {
  /** package.json as data, `oclif.commands` already rewritten to the explicit strategy. */
  readonly pjson: Interfaces.PJSON;
  /** Module for each path relative to the plugin root that oclif will load (commands index, hooks, help class). */
  readonly modules: Readonly<Record<string, unknown>>;
}

/** A directory that exists nowhere: oclif only joins paths onto it. */
const VIRTUAL_ROOT = '/$cnpg-disk-bundle';

/**
 * The path the executable was started under, as the CLI's argvForInvocation
 * expects it. In a Bun executable process.argv[1] is a virtual path
 * (/$bunfs/root/…); process.argv0 keeps what kubectl executed, symlink name
 * included. kubectl turns `_` in a plugin's file name into `-` (krew installs
 * the plugin "cnpg-disk" as kubectl-cnpg_disk, run as `kubectl cnpg-disk`), so
 * that name is handed on as kubectl-cnpg-disk.
 */
export function invokedName(argv0: string): string {
  const parts = argv0.split(/([\\/])/);
  const base = parts.pop() ?? '';
  return [...parts, base.startsWith('kubectl-') ? base.replaceAll('_', '-') : base].join('');
}

export async function boot(plugins: readonly BundledPlugin[], args: string[]): Promise<void> {
  // Paths must stay exactly as we registered them: no ts-node / tsx lookup.
  settings.enableAutoTranspile = false;

  const virtual = new Map<string, unknown>();
  const loaded = new Map<string, Plugin>();
  const roots = plugins.map((_, i) => join(VIRTUAL_ROOT, String(i)));
  plugins.forEach((p, i) => {
    for (const [rel, mod] of Object.entries(p.modules)) virtual.set(join(roots[i] as string, rel), mod);
  });

  const load = ModuleLoader.load;
  const loadWithData = ModuleLoader.loadWithData;
  const loader = ModuleLoader as { -readonly [K in keyof typeof ModuleLoader]: (typeof ModuleLoader)[K] };
  loader.load = (async (config, modulePath) =>
    virtual.has(modulePath) ? virtual.get(modulePath) : load(config, modulePath)) as typeof load;
  loader.loadWithData = (async (config, modulePath) =>
    virtual.has(modulePath)
      ? { filePath: modulePath, isESM: true, module: virtual.get(modulePath) }
      : loadWithData(config, modulePath)) as typeof loadWithData;

  for (const [i, p] of plugins.entries()) {
    // isRoot with a pjson: oclif takes root and package.json as given, without searching the disk.
    const plugin = new Plugin({ isRoot: true, pjson: structuredClone(p.pjson), root: roots[i] as string });
    await plugin.load();
    loaded.set(plugin.name, plugin);
  }

  const cli = plugins[0];
  if (!cli) throw new Error('boot: no plugin to run');
  const config = await Config.load({
    pjson: structuredClone(cli.pjson),
    plugins: loaded,
    root: join(VIRTUAL_ROOT, '0'),
  });
  await execute({ args, loadOptions: config });
}
