/**
 * An unknown command: one error line that says what the person typed and
 * the closest command, written as they type it (`kubectl cnpg disk status`,
 * never the binary's name), then a hint where the list is; exit 127.
 *
 * It replaces @oclif/plugin-not-found, which names the binary
 * (`kubectl-cnpg`), gives no suggestion at all when stdin is not a terminal,
 * and on a terminal asks "Did you mean …?" and then runs the suggestion with
 * the rest of the typed arguments — for a mistyped `disk resize … --apply`
 * that would be a write the person never typed correctly. The distance
 * below is the textbook Levenshtein distance over a handful of command
 * names (a few dozen characters); a package for it would load more code than
 * it saves.
 */
import type { Hook } from '@oclif/core';
import { isDiskBinary, userCommandLine } from './invocation.js';
import { writeStderr } from './io.js';

/** The exit code of an unknown command (docs/cli.md), as before. */
export const UNKNOWN_COMMAND = 127;

/** Edit distance (insertions, deletions, substitutions) between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The command closest to what was typed, or undefined when nothing is close
 * (more than half the typed id would have to change).
 */
export function closestCommand(typed: string, ids: readonly string[]): string | undefined {
  let best: { id: string; d: number } | undefined;
  for (const id of ids) {
    const d = editDistance(typed, id);
    if (!best || d < best.d) best = { id, d };
  }
  return best && best.d <= Math.max(2, Math.ceil(typed.length / 2)) ? best.id : undefined;
}

/**
 * The message for an unknown command id (oclif's `a:b` form): the error line
 * and the hint line. `names` are the commands and topics a person can type.
 */
export function notFoundMessage(typedId: string, names: readonly string[], binaryPath: string): string {
  // What was typed after `kubectl cnpg`, as typed (the -disk binary's `disk` put back).
  const typed = userCommandLine(typedId, binaryPath).replace(/^kubectl cnpg /, '');
  // Beside the official plugin, `kubectl cnpg disk stauts` reaches us as `stauts`.
  const forms = isDiskBinary(binaryPath) && !typedId.startsWith('disk:') ? [typedId, `disk:${typedId}`] : [typedId];
  const suggestion = forms
    .map((form) => closestCommand(form, names))
    .filter((s): s is string => s !== undefined)
    .sort((a, b) => editDistance(typedId, a) - editDistance(typedId, b))[0];
  // A known topic (`disk stauts`): the list of that topic's commands.
  const topic = typedId.split(':')[0] ?? '';
  const inTopic = typedId.includes(':') && names.some((id) => id.startsWith(`${topic}:`));
  const list = userCommandLine(inTopic ? topic : '', binaryPath);
  return (
    `error: ${JSON.stringify(typed)} is not a command${suggestion ? `; did you mean ${userCommandLine(suggestion, binaryPath)}?` : ''}\n` +
    `  hint: ${list} --help lists the commands\n`
  );
}

const hook: Hook.CommandNotFound = async function (opts) {
  const names = [
    ...opts.config.commands.filter((c) => !c.hidden).map((c) => c.id),
    ...opts.config.topics.filter((t) => !t.hidden).map((t) => t.name),
  ];
  writeStderr(notFoundMessage(opts.id, names, process.argv[1] ?? ''));
  this.exit(UNKNOWN_COMMAND);
};

export default hook;
