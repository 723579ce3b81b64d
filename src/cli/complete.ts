/**
 * Shell completion through kubectl (1.26 and later). For `kubectl cnpg disk
 * st<TAB>` kubectl runs the executable `kubectl_complete-cnpg` (or, beside
 * the official plugin, `kubectl_complete-cnpg-disk`) found on PATH with the
 * words after the plugin's name (`disk`, `st`; an empty last word when a new
 * word is begun) and reads one candidate per line, `word<TAB>description`,
 * then, as the last line, `:<directive>` (the shell-completion directive of
 * kubectl's command library: 0 lets the shell complete file names, 4 does
 * not). Our helper scripts run `kubectl-cnpg __complete …` /
 * `kubectl-cnpg-disk __complete …`, which print what `completions` returns.
 *
 * Written here rather than taken from @oclif/plugin-autocomplete: that
 * plugin writes bash/zsh/PowerShell scripts for the binary's own name
 * (`kubectl-cnpg …`), not this line protocol kubectl speaks to plugins.
 */
import { OUTPUT_FORMATS } from '../render/output-format.js';
import { SOURCE_NAMES } from '../model/snapshot.js';

/** What completion needs to know of a command (read from oclif's config, hence the manifest). */
export interface CompletionCommand {
  /** oclif id, words joined by ':' (`disk:status`). */
  id: string;
  summary?: string;
  flags: { name: string; char?: string; takesValue: boolean; summary?: string }[];
}

export interface CompletionTopic {
  name: string;
  description?: string;
}

/** The shell may complete file names (0), or must not (4). */
export const FILES = 0;
export const NO_FILES = 4;

/** Flags whose value is a file: the shell completes file names there. */
const FILE_FLAGS = new Set(['from-bundle', 'kubeconfig', 'policy', 'bundle']);
/** Commands whose argument is a file rather than a Cluster's name. */
const FILE_ARGUMENT = new Set(['disk:policy:validate']);
/** The values of flags that have a fixed set. */
const FLAG_VALUES: Record<string, readonly string[]> = {
  output: OUTPUT_FORMATS,
  source: ['auto', ...SOURCE_NAMES],
};

export interface Completions {
  /** `word` or `word\tdescription`. */
  items: string[];
  directive: number;
}

/** One line of description: ours, but never a tab or newline inside the protocol's line. */
function line(word: string, description: string | undefined): string {
  const d = description?.replace(/[\t\r\n]+/g, ' ').trim();
  return d ? `${word}\t${d}` : word;
}

/**
 * Candidates for the last of `words` (the words after the plugin's name).
 * `diskBinary`: invoked as `kubectl-cnpg-disk`, where `disk` is implied for
 * its own commands (status, resize, policy) and `wal`/`diagnose` sit beside
 * them.
 */
export function completions(
  words: readonly string[],
  commands: readonly CompletionCommand[],
  topics: readonly CompletionTopic[],
  diskBinary: boolean,
): Completions {
  const current = words.at(-1) ?? '';
  const prior = words.slice(0, -1);
  const visible = commands.filter((c) => !c.id.startsWith('_'));
  // The command words typed so far (flags and their values skipped).
  const path: string[] = [];
  let command: CompletionCommand | undefined;
  const at = (p: readonly string[]) => p.join(':');
  const childrenOf = (p: readonly string[]) => {
    const prefix = p.length ? `${at(p)}:` : '';
    const next = new Map<string, string | undefined>();
    for (const c of visible) {
      if (!c.id.startsWith(prefix)) continue;
      const rest = c.id.slice(prefix.length).split(':');
      const name = rest[0]!;
      const id = `${prefix}${name}`;
      const described = rest.length === 1 ? c.summary : topics.find((t) => t.name === id)?.description;
      if (!next.has(name) || next.get(name) === undefined) next.set(name, described);
    }
    return next;
  };
  const start = (first: string | undefined): string[] =>
    diskBinary && first !== undefined && childrenOf(['disk']).has(first) ? ['disk'] : [];
  for (let i = 0; i < prior.length; i++) {
    const w = prior[i]!;
    if (command) break;
    if (w.startsWith('-')) continue;
    if (path.length === 0) path.push(...start(w));
    path.push(w);
    command = visible.find((c) => c.id === at(path));
    if (!command && childrenOf(path).size === 0) return { items: [], directive: NO_FILES };
  }
  if (!command) {
    let next = childrenOf(path);
    if (diskBinary && path.length === 0) {
      // Beside the official plugin: disk's own commands at the top, with wal and diagnose.
      next = new Map([...childrenOf(['disk']), ...[...childrenOf([])].filter(([n]) => n !== 'disk')]);
    }
    const items = [...next]
      .filter(([name]) => name.startsWith(current))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, d]) => line(name, d));
    return { items, directive: NO_FILES };
  }
  const previous = prior.at(-1) ?? '';
  const flagOf = (w: string) =>
    w.startsWith('--')
      ? command!.flags.find((f) => f.name === w.slice(2))
      : /^-[^-]$/.test(w)
        ? command!.flags.find((f) => f.char === w.slice(1))
        : undefined;
  const pending = flagOf(previous);
  if (pending?.takesValue && !current.startsWith('-')) {
    const values = FLAG_VALUES[pending.name];
    if (values) return { items: values.filter((v) => v.startsWith(current)), directive: NO_FILES };
    return { items: [], directive: FILE_FLAGS.has(pending.name) ? FILES : NO_FILES };
  }
  if (current.startsWith('-')) {
    const items = command.flags
      .map((f) => [`--${f.name}`, f.summary] as const)
      .filter(([name]) => name.startsWith(current))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, d]) => line(name, d));
    return { items, directive: NO_FILES };
  }
  return { items: [], directive: FILE_ARGUMENT.has(command.id) ? FILES : NO_FILES };
}

/** The protocol's text: the candidates, one per line, then `:directive`. */
export function completionText(c: Completions): string {
  return [...c.items, `:${c.directive}`].join('\n') + '\n';
}
