// Help, typos and shell completion, through the real CLI process
// (`node bin/run.js`, under its two install names) and, for completion, the
// real kubectl (the pinned one built from its Go module; 1.26+ runs kubectl_complete-<plugin>).
import { execFile } from 'node:child_process';
import { binaryPath } from '../infra/paths.js';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, REPO, requireBuiltCli } from '../helpers/cli.js';

const run = promisify(execFile);

/** A PATH directory holding our binary under `names` and the completion helpers from bin/. */
function pathWith(names: string[], helpers: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-names-'));
  for (const n of names) symlinkSync(BIN, join(dir, n));
  for (const h of helpers) symlinkSync(join(REPO, 'bin', h), join(dir, h));
  return dir;
}

/** Runs a program found on `dir` + the system PATH; stdout, stderr and exit code whatever the code. */
async function runIn(
  dir: string,
  program: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: `${dir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, HOME: dir };
  try {
    const r = await run(program, args, { env, cwd: REPO });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof x.code !== 'number') throw e;
    return { code: x.code, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

beforeAll(() => requireBuiltCli());

describe('help: descriptions are flowing text that oclif wraps', () => {
  it('at 200 columns no description paragraph breaks early (no hard line breaks)', { timeout: 60_000 }, async () => {
    for (const cmd of [
      ['disk', 'status'],
      ['disk', 'resize'],
      ['disk', 'policy', 'validate'],
      ['wal', 'health'],
      ['diagnose'],
    ]) {
      const r = await cli([...cmd, '--help'], { env: { OCLIF_COLUMNS: '200' } });
      expect(r.code).toBe(0);
      const section = r.stdout.split('\nDESCRIPTION\n')[1]!.split('\nEXAMPLES\n')[0]!;
      const paragraphs = section.split('\n\n').map((p) =>
        p
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
      );
      for (const lines of paragraphs) {
        // Every line but a paragraph's last is filled close to the width (a hard break would leave it short).
        for (const l of lines.slice(0, -1)) expect(l.length, `${cmd.join(' ')}: "${l}"`).toBeGreaterThan(150);
      }
    }
  });
});

describe('typos suggest the command as typed through kubectl', () => {
  it('kubectl-cnpg: kubectl cnpg …, exit 127, also when not on a terminal', { timeout: 60_000 }, async () => {
    const cases: [string[], string][] = [
      [
        ['disk', 'stauts'],
        'error: "disk stauts" is not a command; did you mean kubectl cnpg disk status?\n  hint: kubectl cnpg disk --help lists the commands\n',
      ],
      [
        ['wal', 'helth'],
        'error: "wal helth" is not a command; did you mean kubectl cnpg wal health?\n  hint: kubectl cnpg wal --help lists the commands\n',
      ],
      [
        ['diagnos'],
        'error: "diagnos" is not a command; did you mean kubectl cnpg diagnose?\n  hint: kubectl cnpg --help lists the commands\n',
      ],
      [['zzzzzzzzzzzz'], 'error: "zzzzzzzzzzzz" is not a command\n  hint: kubectl cnpg --help lists the commands\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await cli(args);
      expect([r.code, r.stdout, r.stderr], args.join(' ')).toEqual([127, '', stderr]);
    }
  });

  it(
    'kubectl-cnpg-disk (beside the official plugin): every command is under kubectl cnpg disk',
    { timeout: 60_000 },
    async () => {
      const dir = pathWith(['kubectl-cnpg-disk'], []);
      const stauts = await runIn(dir, 'kubectl-cnpg-disk', ['stauts']);
      expect([stauts.code, stauts.stderr]).toEqual([
        127,
        'error: "disk stauts" is not a command; did you mean kubectl cnpg disk status?\n  hint: kubectl cnpg disk --help lists the commands\n',
      ]);
      const wal = await runIn(dir, 'kubectl-cnpg-disk', ['wal', 'helth']);
      expect(wal.stderr).toContain('did you mean kubectl cnpg disk wal health?');
    },
  );

  it('a control character typed in a command name is printed escaped', async () => {
    const r = await cli(['\u001b]0;owned\u0007']);
    expect(r.code).toBe(127);
    // eslint-disable-next-line no-control-regex -- control characters are what must not reach the terminal
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});

describe('shell completion through kubectl, for both install names', () => {
  const lines = (s: string) => s.split('\n').filter(Boolean);

  it(
    'kubectl_complete-cnpg (ours alone): commands, flags, values; the directive last',
    { timeout: 60_000 },
    async () => {
      const dir = pathWith(['kubectl-cnpg'], ['kubectl_complete-cnpg']);
      const top = await runIn(dir, 'kubectl_complete-cnpg', ['']);
      expect(lines(top.stdout).map((l) => l.split('\t')[0])).toEqual([
        'autocomplete',
        'diagnose',
        'disk',
        'help',
        'wal',
        ':4',
      ]);
      const st = await runIn(dir, 'kubectl_complete-cnpg', ['disk', 'st']);
      expect(lines(st.stdout)).toEqual([expect.stringMatching(/^status\tHow full/), ':4']);
      const out = await runIn(dir, 'kubectl_complete-cnpg', ['disk', 'status', '-o', '']);
      expect(lines(out.stdout)).toEqual(['table', 'wide', 'json', 'yaml', ':4']);
      const bundle = await runIn(dir, 'kubectl_complete-cnpg', ['diagnose', '--from-bundle', '']);
      expect(lines(bundle.stdout)).toEqual([':0']); // file names
      const flags = await runIn(dir, 'kubectl_complete-cnpg', ['wal', 'health', '--sou']);
      expect(lines(flags.stdout).map((l) => l.split('\t')[0])).toEqual(['--source', ':4']);
    },
  );

  it('kubectl_complete-cnpg-disk (beside the official plugin): disk is implied', { timeout: 60_000 }, async () => {
    const dir = pathWith(['kubectl-cnpg-disk'], ['kubectl_complete-cnpg-disk']);
    const top = await runIn(dir, 'kubectl_complete-cnpg-disk', ['']);
    expect(lines(top.stdout).map((l) => l.split('\t')[0])).toEqual([
      'autocomplete',
      'autoresize',
      'diagnose',
      'help',
      'install',
      'policy',
      'resize',
      'simulate',
      'status',
      'wal',
      ':4',
    ]);
    const flags = await runIn(dir, 'kubectl_complete-cnpg-disk', ['status', '--wa']);
    expect(lines(flags.stdout).map((l) => l.split('\t')[0])).toEqual(['--watch', ':4']);
  });

  it('the real kubectl finds the helpers and shows their candidates', { timeout: 60_000 }, async () => {
    // The pinned kubectl built from its Go module by test/infra/build-k8s.sh (.ci/run builds it),
    // not whatever kubectl the machine happens to have.
    const kubectl = binaryPath('kubectl');
    const alone = pathWith(['kubectl-cnpg'], ['kubectl_complete-cnpg']);
    const a = await runIn(alone, kubectl, ['__complete', 'cnpg', 'disk', 'st']);
    expect(lines(a.stdout)).toEqual([expect.stringMatching(/^status\t/), ':4']);
    // Beside an official plugin (a stand-in script named kubectl-cnpg): kubectl asks kubectl_complete-cnpg-disk.
    const beside = pathWith(['kubectl-cnpg-disk'], ['kubectl_complete-cnpg-disk']);
    symlinkSync('/bin/true', join(beside, 'kubectl-cnpg'));
    const b = await runIn(beside, kubectl, ['__complete', 'cnpg', 'disk', 'wal', 'he']);
    expect(lines(b.stdout)).toEqual([expect.stringMatching(/^health\t/), ':4']);
  });
});
