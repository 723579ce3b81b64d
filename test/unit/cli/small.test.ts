import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { argvForInvocation, userAgent } from '../../../src/cli/invocation.js';
import { parseDuration, parseSource } from '../../../src/cli/flags.js';
import { parseOutputFormat } from '../../../src/render/output-format.js';
import { colorWanted } from '../../../src/cli/io.js';
import type { CliError } from '../../../src/model/errors.js';
import { exitCodeForSeverities, ExitCode } from '../../../src/model/errors.js';
import { matchesSelector } from '../../../src/app/gather.js';
import { toKubeError } from '../../../src/kube/errors.js';
import { loadKubeConfig } from '../../../src/kube/client.js';

describe('userAgent (--version)', () => {
  it('names Bun and its own version under Bun, not the Node version Bun reports for compatibility', () => {
    const bun = { platform: 'linux', arch: 'x64', versions: { node: '26.3.0', bun: '1.4.5' } };
    expect(userAgent('kubectl-cnpg-disk', '0.1.0', bun)).toBe('kubectl-cnpg-disk 0.1.0 (bun 1.4.5, linux-x64)');
  });

  it('names Node with its v-prefixed version under Node', () => {
    const node = { platform: 'darwin', arch: 'arm64', versions: { node: '20.19.1' } };
    expect(userAgent('kubectl-cnpg-disk', '1.2.3', node)).toBe('kubectl-cnpg-disk 1.2.3 (node v20.19.1, darwin-arm64)');
  });
});

describe('invocation', () => {
  it('puts the implied disk topic back when called as kubectl-cnpg-disk', () => {
    expect(argvForInvocation(['node', '/usr/local/bin/kubectl-cnpg-disk', 'status', '-A'])).toEqual([
      'disk',
      'status',
      '-A',
    ]);
    expect(argvForInvocation(['node', 'C:\\bin\\kubectl-cnpg-disk.exe', 'resize', 'x'])).toEqual([
      'disk',
      'resize',
      'x',
    ]);
    expect(argvForInvocation(['node', '/x/kubectl-cnpg-disk', 'diagnose'])).toEqual(['diagnose']);
    for (const c of ['simulate', 'autoresize', 'install']) {
      expect(argvForInvocation(['node', '/x/kubectl-cnpg-disk', c, '-h'])).toEqual(['disk', c, '-h']);
    }
    expect(argvForInvocation(['node', '/x/kubectl-cnpg', 'disk', 'status'])).toEqual(['disk', 'status']);
    expect(argvForInvocation(['node', '/krew/bin/kubectl-cnpg_disk', 'status'])).toEqual(['disk', 'status']);
  });
});

describe('flags', () => {
  it('parses kubectl durations', () => {
    expect(parseDuration('0', 't')).toBe(0);
    expect(parseDuration('5', 't')).toBe(5000);
    expect(parseDuration('500ms', 't')).toBe(500);
    expect(parseDuration('2m', 't')).toBe(120_000);
    expect(parseDuration('1h', 't')).toBe(3_600_000);
    expect(() => parseDuration('soon', 't')).toThrow(/not a duration/);
  });
  it('validates sources and output formats with the allowed list', () => {
    expect(parseSource('kubelet-summary')).toBe('kubelet-summary');
    expect(parseSource('probe')).toBe('probe');
    expect(() => parseSource('ssh')).toThrow(/allowed: auto, probe, cluster-status/);
    expect(parseOutputFormat(undefined, false)).toBe('table');
    expect(parseOutputFormat('yaml', false)).toBe('yaml');
    expect(parseOutputFormat(undefined, true)).toBe('json');
    expect(parseOutputFormat('json', true)).toBe('json');
    for (const other of ['yaml', 'table', 'wide']) {
      try {
        parseOutputFormat(other, true);
        expect.unreachable();
      } catch (e) {
        expect((e as CliError).exitCode).toBe(ExitCode.USAGE);
        expect((e as Error).message).toBe(`--json and -o ${other} ask for two different formats; use one of them`);
      }
    }
    try {
      parseOutputFormat('xml', false);
      expect.unreachable();
    } catch (e) {
      expect((e as CliError).exitCode).toBe(ExitCode.USAGE);
      expect((e as Error).message).toMatch(/allowed: table, wide, json, yaml/);
    }
  });
});

describe('colour', () => {
  it('NO_COLOR disables colour only when set to a non-empty value (no-color.org); --no-color, TERM=dumb and pipes too', () => {
    expect(colorWanted(true, false, {})).toBe(true);
    expect(colorWanted(true, false, { NO_COLOR: '' })).toBe(true);
    expect(colorWanted(true, false, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted(true, false, { NO_COLOR: '0' })).toBe(false);
    expect(colorWanted(true, true, {})).toBe(false);
    expect(colorWanted(true, false, { TERM: 'dumb' })).toBe(false);
    expect(colorWanted(false, false, {})).toBe(false);
  });
});

describe('exit codes', () => {
  it('the worst severity wins', () => {
    expect(exitCodeForSeverities([])).toBe(0);
    expect(exitCodeForSeverities(['info'])).toBe(0);
    expect(exitCodeForSeverities(['info', 'warning'])).toBe(1);
    expect(exitCodeForSeverities(['warning', 'critical', 'info'])).toBe(2);
    expect(exitCodeForSeverities(['unknown'])).toBe(3);
    expect(exitCodeForSeverities(['unknown', 'warning'])).toBe(1);
  });
});

describe('label selectors on bundles', () => {
  const l = { team: 'pay', tier: 'db' };
  it('matches equality, inequality and existence terms', () => {
    expect(matchesSelector(undefined, l)).toBe(true);
    expect(matchesSelector('team=pay', l)).toBe(true);
    expect(matchesSelector('team==pay,tier=db', l)).toBe(true);
    expect(matchesSelector('team!=pay', l)).toBe(false);
    expect(matchesSelector('tier', l)).toBe(true);
    expect(matchesSelector('!tier', l)).toBe(false);
    expect(matchesSelector('zone', l)).toBe(false);
  });
});

describe('Kubernetes errors', () => {
  it('parses a Status body into status, reason and message', () => {
    const e = toKubeError('list pods', {
      code: 403,
      body: JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'pods is forbidden: User "x" cannot list' }),
    });
    expect([e.status, e.reason, e.message, e.isForbidden]).toEqual([
      403,
      'Forbidden',
      'pods is forbidden: User "x" cannot list',
      true,
    ]);
    const c = toKubeError('patch pvc', {
      code: 409,
      body: { reason: 'Conflict', message: 'the object has been modified' },
    });
    expect(c.isConflict).toBe(true);
    const u = toKubeError('list', { code: 500, body: 'Unknown API Status Code!' });
    expect(u.message).toBe('Unknown API Status Code!');
  });
  it('recognises network failures and timeouts', () => {
    const refused = toKubeError(
      'list',
      new Error('request to https://127.0.0.1:1/x failed, reason: connect ECONNREFUSED 127.0.0.1:1'),
    );
    expect([refused.isUnreachable, refused.message]).toEqual([true, 'connection refused (ECONNREFUSED 127.0.0.1:1)']);
    expect(toKubeError('list', new Error('getaddrinfo ENOTFOUND api.example')).message).toBe(
      'host name not found (ENOTFOUND api.example)',
    );
    expect(toKubeError('list', new Error('unable to verify the first certificate')).message).toMatch(/not trusted/);
    const t = toKubeError('list', Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
    expect(t.reason).toBe('Timeout');
  });
});

describe('kubeconfig loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  const good = join(dir, 'good');
  writeFileSync(
    good,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: a, context: {cluster: c, user: u, namespace: team}}, {name: b, context: {cluster: c, user: u}}]
current-context: a
users: [{name: u, user: {token: t}}]
`,
  );
  it('selects --context and keeps its namespace', () => {
    expect(loadKubeConfig({ kubeconfig: good }).getCurrentContext()).toBe('a');
    expect(loadKubeConfig({ kubeconfig: good, context: 'b' }).getCurrentContext()).toBe('b');
  });
  it('unknown context, missing file and garbage are usage errors with a hint', () => {
    const codes = [
      () => loadKubeConfig({ kubeconfig: good, context: 'zz' }),
      () => loadKubeConfig({ kubeconfig: join(dir, 'missing') }),
      () => {
        const bad = join(dir, 'bad');
        writeFileSync(bad, '{{{ not yaml');
        return loadKubeConfig({ kubeconfig: bad });
      },
    ].map((f) => {
      try {
        f();
        return 'no error';
      } catch (e) {
        return `${(e as CliError).exitCode}:${(e as CliError).suggestions.length > 0}`;
      }
    });
    expect(codes).toEqual(['64:true', '64:true', '64:true']);
  });
});

describe('watch columns', () => {
  it('durationText: the two largest units, rounded down; now at or below zero', async () => {
    const { durationText } = await import('../../../src/render/common.js');
    expect(durationText(0)).toBe('now');
    expect(durationText(-5)).toBe('now');
    expect(durationText(999)).toBe('now');
    expect(durationText(45_000)).toBe('45s');
    expect(durationText(7 * 60_000 + 30_000)).toBe('7m30s');
    expect(durationText(2 * 3_600_000)).toBe('2h');
    expect(durationText(5 * 3_600_000 + 12 * 60_000 + 59_000)).toBe('5h12m');
    expect(durationText(2 * 86_400_000 + 3 * 3_600_000 + 59 * 60_000)).toBe('2d3h');
    expect(durationText(400 * 86_400_000)).toBe('400d');
  });

  it('forecastCells: "-" without a rate, signed human growth, never when not growing', async () => {
    const { forecastCells } = await import('../../../src/render/common.js');
    expect(forecastCells(undefined)).toEqual(['-', '-']);
    expect(forecastCells({ samples: 1, spanMs: 0 })).toEqual(['-', '-']);
    expect(forecastCells({ samples: 3, spanMs: 60_000, bytesPerHour: 0 })).toEqual(['0', 'never']);
    expect(forecastCells({ samples: 3, spanMs: 60_000, bytesPerHour: -40 * 1024 * 1024 })).toEqual([
      '-40 MiB',
      'never',
    ]);
    expect(
      forecastCells({ samples: 3, spanMs: 60_000, bytesPerHour: 1.5 * 1024 ** 3, msToFull: 3_600_000, fullAt: 1 }),
    ).toEqual(['+1.5 GiB', '1h']);
  });
});
