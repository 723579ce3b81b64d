/**
 * One binary, several names. kubectl runs a plugin by the longest file name
 * on PATH that matches the words typed, and hands it only the words left over:
 *
 *   file on PATH          typed                          the binary receives
 *   kubectl-cnpg          kubectl cnpg disk status       disk status
 *   kubectl-cnpg-disk     kubectl cnpg disk status       status
 *   kubectl-cnpg_disk     kubectl cnpg-disk status       status        (krew plugin "cnpg-disk")
 *
 * `kubectl-cnpg-disk` is how we live beside CloudNativePG's own `kubectl-cnpg`:
 * kubectl prefers the longer name for `kubectl cnpg disk …` and still sends
 * every other `kubectl cnpg …` to the official plugin.
 *
 * So the binary looks at the name it was started under and puts back the words
 * kubectl consumed, before oclif parses anything.
 */

/** File name of a path, either separator, without a Windows `.exe`. */
export function programName(argv0: string): string {
  const base = argv0.split(/[\\/]/).pop() ?? '';
  return base.replace(/\.exe$/i, '');
}

/**
 * The command words that the program name stands for:
 * `kubectl-cnpg` → [], `kubectl-cnpg-disk` and `kubectl-cnpg_disk` → ['disk'].
 * Any name that is not `kubectl-cnpg…` (node, run.js, a renamed file) → [].
 * kubectl maps `_` in a file name to `-` in the command, and krew writes a
 * plugin's `-` as `_`, so both separators split words here.
 */
export function invocationPrefix(argv0: string): string[] {
  const name = programName(argv0);
  if (!name.startsWith('kubectl-')) return [];
  const words = name
    .slice('kubectl-'.length)
    .split(/[-_]/)
    .filter((w) => w !== '');
  if (words[0] !== 'cnpg') return [];
  return words.slice(1);
}

/** Flags that belong to the whole CLI, never to the topic the name stands for. */
const ROOT_FLAGS = new Set(['--version']);

/**
 * Puts back the words kubectl consumed.
 *
 * With prefix ['disk']: `status -A` → `disk status -A`; `--help` or nothing →
 * the `disk` topic's help; a word that is not under `disk` but is one of our
 * own top-level commands or topics (`wal health`, `diagnose`) is left as it is,
 * so beside the official plugin every command stays reachable as
 * `kubectl cnpg disk <anything>`.
 *
 * @param exists tells whether an oclif id (words joined by ':') is a command or a topic.
 */
export function argvForInvocation(
  prefix: readonly string[],
  args: readonly string[],
  exists: (id: string) => boolean,
): string[] {
  if (prefix.length === 0) return [...args];
  const first = args[0];
  if (first === undefined) return [...prefix];
  if (first.startsWith('-')) return ROOT_FLAGS.has(first) ? [...args] : [...prefix, ...args];
  if (exists([...prefix, first].join(':'))) return [...prefix, ...args];
  if (exists(first)) return [...args];
  return [...prefix, ...args];
}
