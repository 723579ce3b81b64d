#!/usr/bin/env node
// kubectl-cnpg: entry point. `kubectl cnpg disk ...` reaches it either as
// kubectl-cnpg (standalone) or as kubectl-cnpg-disk beside the official plugin
// (kubectl then drops the "disk" word; see docs/distribution.md).
//
// Start-up (docs/cli.md): with oclif.manifest.json, which `npm run build`
// writes, oclif prints help and lists commands from the manifest without
// importing a command. A manifest older than the last compile
// (dist/.tsbuildinfo) or than package.json may describe commands, flags or a
// version that changed since (`tsc -b` alone does not rewrite it): it is then
// ignored, exactly as if it were absent — slower, never wrong.
//
// oclif is imported by its subpaths (execute, config): its main index also
// loads semver and every module of the package, ~60 files no run needs.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config, Plugin } from '@oclif/core/config';
import { execute } from '@oclif/core/execute';
import { argvForInvocation } from '../dist/cli/invocation.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = argvForInvocation(process.argv);

// No user or linked plugins: this CLI offers no `plugins` command, and oclif
// would otherwise load (and run the hooks of) any plugin a package.json in
// its data directory (~/.local/share/kubectl-cnpg-disk, or under
// $XDG_DATA_HOME) declares. The single binary never looks there either.
const NO_PLUGIN_DISCOVERY = { userPlugins: false, devPlugins: false };

await execute({
  args,
  loadOptions: manifestIsStale() ? await configWithoutManifest() : { root, ...NO_PLUGIN_DISCOVERY },
});

function mtime(file) {
  try {
    return statSync(`${root}/${file}`).mtimeMs;
  } catch {
    return undefined;
  }
}

function manifestIsStale() {
  const manifest = mtime('oclif.manifest.json');
  if (manifest === undefined) return false; // absent: oclif loads the commands itself
  return [mtime('dist/.tsbuildinfo'), mtime('package.json')].some((t) => t !== undefined && t > manifest);
}

// What oclif does when there is no manifest, with the manifest ignored: the
// root plugin built from the commands themselves, then the plugins it
// declares (help, autocomplete, not-found) loaded as usual.
async function configWithoutManifest() {
  const plugin = new Plugin({ isRoot: true, root, ignoreManifest: true });
  await plugin.load();
  const config = await Config.load({ root, plugins: new Map([[plugin.name, plugin]]), ...NO_PLUGIN_DISCOVERY });
  await config.loadPluginsAndCommands({ force: true });
  return config;
}
