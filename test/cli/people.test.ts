// Output for people, through the real CLI process (`node bin/run.js`):
//   - not a terminal (pipes, files, scripts): the text and the -o json
//     documents of the three examples/ bundles are byte-identical to the
//     golden files in test/cli/golden (written by GOLDEN_UPDATE=1; they were
//     the output before tables learned to fit a terminal, except the one
//     documented change: wal-archive-failing's archive failure is one finding,
//     not a critical plus a warning);
//   - a terminal of 80, 100, 120 and 200 columns (a real pseudo-terminal made
//     by util-linux `script`, its size set with `stty cols`): every line of
//     the default tables and findings fits, and `-o wide` still shows every
//     column.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, REPO, requireBuiltCli } from '../helpers/cli.js';

const run = promisify(execFile);
const EXAMPLES = ['healthy', 'instance-down-exit-code-4', 'wal-archive-failing'];
const COMMANDS: Record<string, string[]> = {
  status: ['disk', 'status'],
  'status-wide': ['disk', 'status', '-o', 'wide'],
  'status-json': ['disk', 'status', '-o', 'json'],
  wal: ['wal', 'health'],
  'wal-json': ['wal', 'health', '-o', 'json'],
  diagnose: ['diagnose'],
  'diagnose-json': ['diagnose', '-o', 'json'],
};
const GOLDEN = join(REPO, 'test', 'cli', 'golden');

beforeAll(() => requireBuiltCli());

describe('not a terminal: output stays byte-identical for scripts', () => {
  for (const example of EXAMPLES) {
    it(`${example}: every command's stdout and exit code match the golden file`, { timeout: 120_000 }, async () => {
      for (const [name, args] of Object.entries(COMMANDS)) {
        const r = await cli([...args, '--from-bundle', `examples/${example}.tar.gz`]);
        const got = `exit ${r.code}\n${r.stdout}`;
        const file = join(GOLDEN, `${example}.${name}.txt`);
        if (process.env['GOLDEN_UPDATE'] === '1') writeFileSync(file, got);
        expect(existsSync(file), `${file} is missing (GOLDEN_UPDATE=1 writes it)`).toBe(true);
        expect(got, `${example} ${args.join(' ')}`).toBe(readFileSync(file, 'utf8'));
      }
    });
  }
});

/** Runs the CLI on a pseudo-terminal `cols` wide; returns its stdout (stderr goes to /dev/null). */
async function onTerminal(cols: number, args: string[]): Promise<string> {
  const command = `stty cols ${cols} rows 60; exec ${process.execPath} bin/run.js ${args.join(' ')} 2>/dev/null`;
  const { stdout } = await run('script', ['-qec', command, '/dev/null'], {
    cwd: REPO,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent', TERM: 'xterm' },
  }).catch((e: { stdout?: string; code?: number }) => {
    // Findings exit non-zero (2 for critical): the output is still what we measure.
    if (typeof e.stdout === 'string' && typeof e.code === 'number') return { stdout: e.stdout };
    throw e;
  });
  return stdout.replace(/\r\n/g, '\n');
}

// eslint-disable-next-line no-control-regex -- the colour sequences a terminal gets
const visible = (line: string) => [...line.replace(/\u001b\[[0-9;]*m/g, '')].length;

describe('a terminal: tables and findings fit its width', () => {
  for (const example of EXAMPLES) {
    it(
      `${example}: disk status fits 80, 100, 120 and 200 columns; wal health and diagnose fit 80`,
      { timeout: 180_000 },
      async () => {
        const bundle = ['--from-bundle', `examples/${example}.tar.gz`];
        const runs: [number, string[]][] = [
          [80, ['disk', 'status']],
          [100, ['disk', 'status']],
          [120, ['disk', 'status']],
          [200, ['disk', 'status']],
          [80, ['wal', 'health']],
          [80, ['diagnose']],
        ];
        for (const [cols, args] of runs) {
          const out = await onTerminal(cols, [...args, ...bundle]);
          expect(out, `${args.join(' ')} at ${cols}`).toMatch(/INSTANCE|DIAGNOSIS/);
          for (const line of out.split('\n'))
            expect(visible(line), `${args.join(' ')} at ${cols}: ${line}`).toBeLessThanOrEqual(cols);
        }
        // 200 columns hold the whole default table: nothing was given up.
        const wide = await onTerminal(200, ['disk', 'status', ...bundle]);
        expect(wide).toMatch(/FS SIZE .*USED .*ROLE|ROLE .*FS SIZE .*USED/);
      },
    );
  }

  it('-o wide shows every column even on 80 columns', { timeout: 60_000 }, async () => {
    const out = await onTerminal(80, ['disk', 'status', '-o', 'wide', '--from-bundle', 'examples/healthy.tar.gz']);
    const head = out.split('\n').find((l) => l.startsWith('CLUSTER'))!;
    for (const col of ['ROLE', 'FS SIZE', 'USED', 'POLICY', 'STORAGECLASS', 'LAST RESIZE', 'SOURCE'])
      expect(head).toContain(col);
    expect(out).toContain('on (annotation)');
  });

  it(
    'at 80 columns the documented order gives up FS SIZE and USED first, keeps USE% and VERDICT',
    { timeout: 60_000 },
    async () => {
      const out = await onTerminal(80, ['disk', 'status', '--from-bundle', 'examples/wal-archive-failing.tar.gz']);
      // CLUSTER may go too (instance names start with it): the header is the line that names INSTANCE.
      const head = out.split('\n').find((l) => /^(CLUSTER +)?INSTANCE /.test(l))!;
      expect(head).not.toContain('FS SIZE');
      expect(head).not.toContain('USED');
      for (const col of ['INSTANCE', 'VOLUME', 'AVAIL', 'USE%', 'POLICY', 'VERDICT']) expect(head).toContain(col);
      // Wrapped findings keep a hanging indent.
      const lines = out.split('\n');
      const first = lines.findIndex((l) => visible(l) > 0 && /CRITICAL/.test(l));
      expect(lines[first + 1]).toMatch(/^ {4}\S/);
    },
  );
});
