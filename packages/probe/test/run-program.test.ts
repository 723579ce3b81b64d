// The shared entry point of cnpg-disk-probe and cnpg-disk-plugin, run as the
// real built programs (node dist/bin.js): a usage error's exit code and line,
// a server closed by SIGTERM exits 0; and the one path a program cannot be
// made to take from outside, a main() that throws, with a stand-in process
// object (said here: it only records what runProgram writes and sets).
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runProgram } from '../src/run-program.js';

const PACKAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINS = {
  probe: join(PACKAGES, 'probe', 'dist', 'bin.js'),
  plugin: join(PACKAGES, 'plugin', 'dist', 'bin.js'),
};

function run(bin: string, args: string[], onStdout?: (text: string, kill: () => void) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, () => child.kill('SIGTERM'));
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStdout?.(stderr, () => child.kill('SIGTERM'));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, stdout: stdout + (signal ?? ''), stderr }));
  });
}

describe('runProgram', () => {
  it('both programs: a usage error is exit 2 and one line with the program name', async () => {
    const probe = await run(BINS.probe, ['--bogus']);
    expect(probe.code).toBe(2);
    expect(probe.stderr).toMatch(/^cnpg-disk-probe: Unknown option '--bogus'/);
    const plugin = await run(BINS.plugin, ['bogus']);
    expect(plugin.code).toBe(2);
    expect(plugin.stderr).toMatch(/^cnpg-disk-plugin: unknown command "bogus"/);
  });

  it('a server stays up until SIGTERM, then exits 0', async () => {
    let killed = false;
    const r = await run(BINS.probe, ['serve', '--listen', '127.0.0.1:0'], (text, kill) => {
      const port = /serving .* on 127\.0\.0\.1:(\d+)/.exec(text)?.[1];
      if (killed || !port) return;
      killed = true;
      // Once it has answered a request, main() has returned and the handlers are in place.
      void fetch(`http://127.0.0.1:${port}/no-such-page`).then(kill, kill);
    });
    expect(killed, r.stderr + r.stdout).toBe(true);
    expect(r.code, JSON.stringify(r)).toBe(0);
  }, 30_000);

  it('a SIGTERM while the server is still starting closes it gracefully once it exists', async () => {
    let closed = 0;
    const exits: number[] = [];
    const proc = Object.assign(new EventEmitter(), {
      argv: ['node', 'bin.js', 'serve'],
      env: {},
      stdout: { write: () => true },
      stderr: { write: () => true },
      exitCode: undefined as number | undefined,
      exit: (code: number) => exits.push(code),
    }) as unknown as NodeJS.Process;
    let started!: (r: { code: number; close: () => Promise<void> }) => void;
    const running = runProgram('cnpg-disk-test', () => new Promise((r) => (started = r)), { ok: 0, crashed: 3 }, proc);
    proc.emit('SIGTERM');
    expect(closed).toBe(0);
    started({ code: 0, close: () => Promise.resolve(void closed++) });
    await running;
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(1);
    expect(exits).toEqual([0]);
  });

  it('a main() that throws: "<name>: <message>" and the crashed code', async () => {
    const written: string[] = [];
    const proc = Object.assign(new EventEmitter(), {
      argv: ['node', 'bin.js', 'x'],
      env: {},
      stdout: { write: (s: string) => written.push(s) },
      stderr: { write: (s: string) => written.push(s) },
      exitCode: undefined as number | undefined,
    }) as unknown as NodeJS.Process;
    await runProgram('cnpg-disk-test', () => Promise.reject(new Error('boom')), { ok: 0, crashed: 3 }, proc);
    expect(written).toEqual(['cnpg-disk-test: boom\n']);
    expect(proc.exitCode).toBe(3);
  });
});
