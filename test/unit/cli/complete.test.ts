/**
 * The pure parts of completion and typo suggestions, on a hand-made command
 * list (the real one is exercised through the CLI in test/cli).
 */
import { describe, expect, it } from 'vitest';
import { completions, completionText, FILES, NO_FILES, type CompletionCommand } from '../../../src/cli/complete.js';
import { closestCommand, editDistance, notFoundMessage } from '../../../src/cli/not-found.js';
import { userCommandLine } from '../../../src/cli/invocation.js';

const flag = (name: string, takesValue: boolean, char?: string) => ({ name, takesValue, ...(char ? { char } : {}) });
const COMMANDS: CompletionCommand[] = [
  {
    id: 'disk:status',
    summary: 'How full.',
    flags: [
      flag('output', true, 'o'),
      flag('from-bundle', true),
      flag('watch', false, 'w'),
      flag('namespace', true, 'n'),
    ],
  },
  { id: 'disk:resize', summary: 'Resize.', flags: [flag('apply', false)] },
  { id: 'disk:policy:validate', summary: 'Validate.', flags: [] },
  { id: 'wal:health', summary: 'WAL.', flags: [flag('source', true)] },
  { id: 'diagnose', summary: 'Every check.', flags: [] },
];
const TOPICS = [
  { name: 'disk', description: 'Disk.' },
  { name: 'disk:policy', description: 'Policies.' },
  { name: 'wal', description: 'WAL\thealth.' },
];
const c = (words: string[], disk = false) => completions(words, COMMANDS, TOPICS, disk);

describe('completions', () => {
  it('commands and topics with their descriptions (tabs inside a description become spaces)', () => {
    expect(c([''])).toEqual({
      items: ['diagnose\tEvery check.', 'disk\tDisk.', 'wal\tWAL health.'],
      directive: NO_FILES,
    });
    expect(c(['disk', 'p']).items).toEqual(['policy\tPolicies.']);
    expect(c(['disk', 'policy', '']).items).toEqual(['validate\tValidate.']);
  });
  it('flags, flag values, files where a file goes, nothing for a Cluster name', () => {
    expect(c(['disk', 'status', '--w']).items).toEqual(['--watch']);
    expect(c(['disk', 'status', '-o', 'j'])).toEqual({ items: ['json'], directive: NO_FILES });
    expect(c(['wal', 'health', '--source', ''])).toMatchObject({ items: expect.arrayContaining(['auto', 'exec']) });
    expect(c(['disk', 'status', '--from-bundle', ''])).toEqual({ items: [], directive: FILES });
    expect(c(['disk', 'status', '-n', ''])).toEqual({ items: [], directive: NO_FILES });
    expect(c(['disk', 'status', '-w', ''])).toEqual({ items: [], directive: NO_FILES });
    expect(c(['disk', 'policy', 'validate', ''])).toEqual({ items: [], directive: FILES });
    expect(c(['nosuch', ''])).toEqual({ items: [], directive: NO_FILES });
  });
  it('under the -disk name, disk is implied and wal/diagnose sit beside its commands', () => {
    expect(c([''], true).items.map((i) => i.split('\t')[0])).toEqual(['diagnose', 'policy', 'resize', 'status', 'wal']);
    expect(c(['status', '--wa'], true).items).toEqual(['--watch']);
    expect(c(['wal', ''], true).items).toEqual(['health\tWAL.']);
  });
  it('the protocol text ends with the directive line', () => {
    expect(completionText({ items: ['a', 'b\tx'], directive: 4 })).toBe('a\nb\tx\n:4\n');
  });
});

describe('typos', () => {
  it('edit distance and the closest name, or none when nothing is close', () => {
    expect(editDistance('stauts', 'status')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closestCommand('disk:stauts', ['disk:status', 'wal:health'])).toBe('disk:status');
    expect(closestCommand('zzzzzzzzzz', ['disk:status', 'wal:health'])).toBeUndefined();
  });
  it('commands as typed through kubectl, for each install name', () => {
    expect(userCommandLine('wal:health', '/x/kubectl-cnpg')).toBe('kubectl cnpg wal health');
    expect(userCommandLine('wal:health', '/x/kubectl-cnpg-disk')).toBe('kubectl cnpg disk wal health');
    expect(userCommandLine('disk:status', '/x/kubectl-cnpg_disk')).toBe('kubectl cnpg-disk status');
    expect(userCommandLine('wal:health', '/x/kubectl-cnpg_disk')).toBe('kubectl cnpg-disk wal health');
    expect(notFoundMessage('stauts', ['disk:status', 'disk'], '/x/kubectl-cnpg-disk')).toBe(
      'error: "disk stauts" is not a command; did you mean kubectl cnpg disk status?\n  hint: kubectl cnpg disk --help lists the commands\n',
    );
  });
});
