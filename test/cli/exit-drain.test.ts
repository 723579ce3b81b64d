// A non-zero exit ends the process with process.exit, which used to drop
// what stdout/stderr still held when they are pipes whose reader is slower
// than the CLI (a large `-o json` document with findings piped to jq on a
// loaded machine came out cut at the pipe's 64 KiB). Here the reader waits
// until the CLI has exited (at most 8 s) before reading anything: before the
// fix the CLI exited at once and the reader got about 64 KiB; now the CLI
// waits until its output is read, and all of it arrives.
// Real: the built CLI, a real pipe. The large output is an unknown-context
// usage error (exit 64) whose hint lists the kubeconfig's 8,000 contexts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO, requireBuiltCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cnpg-disk-drain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('output survives a non-zero exit into a slow pipe', { timeout: 60_000 }, () => {
  it('every byte of a large stderr arrives although the reader starts after the exit would have happened', async () => {
    requireBuiltCli();
    const n = 8000;
    const names = Array.from({ length: n }, (_, i) => `context-with-a-rather-long-name-${String(i).padStart(5, '0')}`);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: names.map((name) => ({ name, context: { cluster: 'c', user: 'u' } })),
        'current-context': names[0],
      }),
    );
    const child = spawn(process.execPath, [BIN, 'disk', 'status', '--context', 'nope', '--kubeconfig', kubeconfig], {
      cwd: REPO,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Nothing is read until the child has exited or 8 s have passed.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
    const chunks: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    const stderr = Buffer.concat(chunks).toString('utf8');
    expect(code).toBe(64);
    expect(stderr.length).toBeGreaterThan(n * 30);
    expect(stderr).toMatch(/^error: context "nope" is not in the kubeconfig\n/);
    expect(stderr.trimEnd().endsWith(names[n - 1]!)).toBe(true);
  });
});
