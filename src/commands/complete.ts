import { Command } from '@oclif/core/command';

/**
 * `__complete WORDS…`: what kubectl's plugin completion asks for (see
 * src/cli/complete.ts and "Shell completion" in docs/distribution.md).
 * Hidden: people never type it; the `kubectl_complete-cnpg` and
 * `kubectl_complete-cnpg-disk` scripts do.
 */
export default class Complete extends Command {
  static override hidden = true;
  static override strict = false;
  static override summary = 'Shell completion candidates for kubectl (used by the kubectl_complete-* scripts).';

  async run(): Promise<void> {
    const [{ completions, completionText }, { isDiskBinary }] = await Promise.all([
      import('../cli/complete.js'),
      import('../cli/invocation.js'),
    ]);
    const commands = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({
        id: c.id,
        ...(c.summary || c.description ? { summary: c.summary ?? c.description?.split('\n')[0] } : {}),
        flags: Object.values(c.flags)
          .filter((f) => !f.hidden)
          .map((f) => ({
            name: f.name,
            ...(f.char ? { char: f.char } : {}),
            takesValue: f.type === 'option',
            ...(f.summary ? { summary: f.summary } : {}),
          })),
      }));
    const topics = this.config.topics.map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
    }));
    // Every word after `__complete`, as kubectl passed it (no flag parsing: they are the user's words).
    process.stdout.write(completionText(completions(this.argv, commands, topics, isDiskBinary(process.argv[1] ?? ''))));
  }
}
