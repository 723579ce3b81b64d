/**
 * Standard input is never an argument. oclif reads stdin for an argument
 * left out unless the argument says `ignoreStdin`: `echo x | kubectl cnpg
 * disk status` took "x" as the Cluster's name, a `while read` loop calling
 * the plugin lost its own input to it, and every run waited up to 10 ms for a
 * pipe that never closed. Runs the built CLI (`node bin/run.js`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/index.js';
import { cli, expectCleanError, requireBuiltCli } from '../helpers/cli.js';

describe('standard input is not read as an argument', () => {
  beforeAll(() => requireBuiltCli());

  it('every argument of every command ignores stdin', () => {
    const args = Object.entries(COMMANDS).flatMap(([id, c]) =>
      Object.entries((c as { args?: Record<string, { ignoreStdin?: boolean }> }).args ?? {}).map(
        ([name, a]) => [`${id} ${name}`, a.ignoreStdin] as const,
      ),
    );
    expect(args.length).toBeGreaterThanOrEqual(6);
    expect(args.filter(([, ignores]) => ignores !== true)).toEqual([]);
  });

  it('a name piped in does not choose the Cluster', async () => {
    const r = await cli(['disk', 'status', '--from-bundle', 'examples/healthy.tar.gz'], { stdin: 'pg-other\n' });
    expect(r.stderr).not.toContain('pg-other');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('shop/pg-shop');
  });

  it('a required argument left out is a usage error, whatever stdin holds', async () => {
    const r = await cli(['disk', 'resize', '-n', 'shop', '--kubeconfig', '/nonexistent'], { stdin: 'pg-shop\n' });
    expect(r.code).toBe(64);
    expect(expectCleanError(r.stderr)).toMatch(/cluster/i);
  });
});
