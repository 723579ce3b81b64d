/**
 * How we were invoked. kubectl dispatches `kubectl cnpg disk status` to the
 * longest matching plugin binary: to `kubectl-cnpg-disk status` when that
 * exists (beside the official kubectl-cnpg), otherwise to our
 * `kubectl-cnpg disk status`. When the binary's name ends in `-disk`, the
 * `disk` topic is implied, so put it back. `wal` and `diagnose` are reached
 * as `kubectl cnpg disk wal health` / `kubectl cnpg disk diagnose` in that
 * layout too (see docs/distribution.md).
 */
import { basename } from 'node:path';

// Every command of the disk topic: `kubectl cnpg disk simulate` reaches kubectl-cnpg-disk as `simulate`.
const DISK_COMMANDS = new Set(['status', 'resize', 'policy', 'simulate', 'autoresize', 'install']);

export function argvForInvocation(argv: string[], binaryPath = argv[1] ?? ''): string[] {
  const args = argv.slice(2);
  const name = basename(binaryPath).replace(/\.(exe|js|cmd)$/i, '');
  // krew installs the plugin as kubectl-cnpg_disk (it turns - into _).
  if (!/[-_]disk$/.test(name)) return args;
  const first = args[0];
  if (first !== undefined && DISK_COMMANDS.has(first)) return ['disk', ...args];
  return args;
}

/**
 * What `--version` (and the VERSION line of `--help`) prints: our name and
 * version, then the runtime that really runs us and the platform, e.g.
 * `kubectl-cnpg-disk 0.1.0 (node v20.20.2, linux-x64)` or, for the single
 * binary, `kubectl-cnpg-disk 0.1.0 (bun 1.4.5, linux-x64)`. oclif's default
 * names `node-<process.version>`, which under Bun is only Bun's
 * Node-compatibility version.
 */
export function userAgent(
  name: string,
  version: string,
  runtime: { platform: string; arch: string; versions: Partial<Record<string, string>> } = process,
): string {
  const bun = runtime.versions['bun'];
  const engine = bun ? `bun ${bun}` : `node v${runtime.versions['node'] ?? '?'}`;
  return `${name} ${version} (${engine}, ${runtime.platform}-${runtime.arch})`;
}

/** The binary was installed as `kubectl-cnpg-disk` (or krew's `kubectl-cnpg_disk`): the `disk` word is implied. */
export function isDiskBinary(binaryPath: string): boolean {
  return /[-_]disk$/.test(basename(binaryPath).replace(/\.(exe|js|cmd)$/i, ''));
}

/**
 * A command as the person types it: `kubectl cnpg …`, never the binary's
 * name. Beside the official plugin (the `-disk` binary) every command sits
 * under `kubectl cnpg disk`, `wal health` and `diagnose` included; under
 * krew's name under `kubectl cnpg-disk`.
 */
export function userCommandLine(id: string, binaryPath: string): string {
  const words = id.split(/[: ]/).filter((w) => w !== '');
  // krew's name (kubectl-cnpg_disk) is typed `kubectl cnpg-disk …`, disk's own commands without `disk`.
  if (/_disk$/.test(basename(binaryPath).replace(/\.(exe|js|cmd)$/i, ''))) {
    return ['kubectl', 'cnpg-disk', ...(words[0] === 'disk' ? words.slice(1) : words)].join(' ');
  }
  const underDisk = isDiskBinary(binaryPath) && words[0] !== 'disk';
  return ['kubectl', 'cnpg', ...(underDisk ? ['disk'] : []), ...words].join(' ');
}
