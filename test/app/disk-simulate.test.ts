// disk simulate: the app function over short seeded scenarios and the real
// trace fixtures (a Prometheus 2.42 answer; NDJSON written by disk status
// --watch against a real kube-apiserver, see test/api/simulate-trace.test.ts),
// bad input → exit 64 with one sentence, and the chart writer's --force rule.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { POLICY_IDS } from '@cnpg-disk/core';
import { runDiskSimulate, runSimulation, type DiskSimulateOptions } from '../../src/app/disk-simulate.js';
import type { CliError } from '../../src/model/errors.js';
import { bufferIO } from '../../src/cli/io.js';
import { REPO, cli, expectCleanError, requireBuiltCli } from '../helpers/cli.js';

const DIR = mkdtempSync(join(tmpdir(), 'simulate-test-'));
const PROM = join(REPO, 'test/fixtures/traces/prometheus-used-bytes.json');
const NDJSON = join(REPO, 'test/fixtures/traces/status-watch.ndjson');

const base: DiskSimulateOptions = {
  seed: 1,
  days: 20,
  stepMs: 60_000,
  backend: 'ebs',
  force: false,
  output: 'table',
};

async function usage(opts: Partial<DiskSimulateOptions>): Promise<string> {
  try {
    await runDiskSimulate({ ...base, ...opts }, { io: bufferIO() });
  } catch (e) {
    expect((e as CliError).exitCode).toBe(64);
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('disk simulate', () => {
  it('seeded scenarios: every policy on every scenario, the same figures for the same seed', async () => {
    const a = await runSimulation({ ...base, scenarios: ['burst-10x', 'linear'] });
    const b = await runSimulation({ ...base, scenarios: ['burst-10x', 'linear'] });
    expect(a.runs.map((r) => r.result.series.name)).toEqual(['burst-10x', 'linear']);
    expect(a.runs[0]?.result.results.map((r) => r.policy)).toEqual([...POLICY_IDS]);
    expect(a.runs.map((r) => r.result.results.map((x) => x.provisionedGiBHours))).toEqual(
      b.runs.map((r) => r.result.results.map((x) => x.provisionedGiBHours)),
    );
    const all = await runSimulation({ ...base, days: 2, policies: ['ours', 'rds'] });
    expect(all.runs).toHaveLength(7);
    expect(all.runs[0]?.result.results.map((r) => r.policy)).toEqual(['ours', 'rds']);
  });

  it('table and -o wide, -o json and -o yaml (SimulationReport)', async () => {
    const io = bufferIO();
    await runDiskSimulate({ ...base, scenarios: ['weekly'], output: 'wide' }, { io });
    const table = io.out.join('');
    expect(table).toMatch(
      /^TRACE\s+POLICY\s+FULL MIN\s+RESIZES\s+REFUSED\s+PEAK\s+GiB·h\s+WASTED GiB·h\s+FINAL\s+GOAL/,
    );
    expect(table.split('\n').filter((l) => l.startsWith('weekly'))).toHaveLength(POLICY_IDS.length);
    expect(io.err.join('')).toMatch(/^backend: AWS EBS/);
    const j = bufferIO();
    await runDiskSimulate({ ...base, scenarios: ['weekly'], output: 'json' }, { io: j });
    const doc = JSON.parse(j.out.join(''));
    expect(doc).toMatchObject({ apiVersion: 'disk.cnpg-plugin.dev/v1alpha1', kind: 'SimulationReport', seed: 1 });
    expect(doc.runs[0].results).toHaveLength(POLICY_IDS.length);
    const y = bufferIO();
    await runDiskSimulate({ ...base, scenarios: ['weekly'], output: 'yaml' }, { io: y });
    expect(y.out.join('')).toMatch(/^apiVersion: disk.cnpg-plugin.dev\/v1alpha1\nkind: SimulationReport/);
  });

  it('replays the real Prometheus export (usage only: --initial-size) and the disk status --watch NDJSON', async () => {
    const prom = await runSimulation({ ...base, trace: PROM, volume: 'main-1', initialSize: '48Gi' });
    const run = prom.runs[0]!;
    expect(run.source).toMatchObject({ format: 'prometheus-matrix', volume: 'payments/main-1', samples: 180 });
    expect(run.result.series.steps).toBe(180);
    expect(run.result.series.initialBytes).toBe(48 * 1024 ** 3);
    // 40 GiB growing 1 GiB/h on 48 GiB: the thresholds of 80% and 75% are crossed within the 3 hours
    const pgo = run.result.results.find((r) => r.policy === 'pgo')!;
    expect(pgo.resizes).toBe(1);
    const nd = await runSimulation({ ...base, trace: NDJSON, stepMs: 1000 });
    expect(nd.runs[0]!.source).toMatchObject({ format: 'disk-status-ndjson' });
    expect(nd.runs[0]!.result.series.initialBytes).toBeGreaterThan(0);
  });

  it('bad input: one sentence each, exit 64', async () => {
    expect(await usage({ scenarios: ['linar'] })).toMatch(/--scenario "linar" is not one of linear, /);
    expect(await usage({ backend: 'aws' })).toMatch(/--backend "aws" is not one of ebs, ebs-legacy/);
    expect(await usage({ policies: ['rds', 'gke'] })).toMatch(/--policy "gke"/);
    expect(await usage({ seed: -1 })).toMatch(/--seed -1 is not a whole number/);
    expect(await usage({ stepMs: 10 })).toMatch(/--step must be between 1s and 24h/);
    expect(await usage({ days: 0 })).toMatch(/--days 0 is not in 1..3660/);
    expect(await usage({ limit: 'lots' })).toMatch(/--limit "lots"/);
    expect(await usage({ trace: PROM, scenarios: ['linear'] })).toMatch(/give one/);
    expect(await usage({ volume: 'x' })).toMatch(/apply to a --trace/);
    expect(await usage({ trace: PROM, volume: 'main-1' })).toMatch(/has usage only .* --initial-size/);
    expect(await usage({ trace: PROM })).toMatch(/holds 2 volumes .* --volume/);
    expect(await usage({ trace: join(DIR, 'missing.json') })).toMatch(/cannot read --trace .*missing.json: ENOENT/);
    expect(await usage({ trace: DIR })).toMatch(/is not a file/);
    const bad = join(DIR, 'bad.ndjson');
    writeFileSync(bad, '{"kind":"DiskStatus","apiVersion":"v","clusters":[]}\nnot json\n');
    expect(await usage({ trace: bad })).toMatch(/bad.ndjson: line 2 is not JSON/);
    expect(await usage({ scenarios: ['linear'], chart: join(DIR, 'c.png') })).toMatch(/name the file .svg/);
  });

  it('--chart refuses to replace a file unless --force', async () => {
    const chart = join(DIR, 'chart.svg');
    const io = bufferIO();
    await runDiskSimulate({ ...base, days: 3, scenarios: ['linear'], chart }, { io });
    expect(readFileSync(chart, 'utf8')).toMatch(/^<svg /);
    expect(io.err.join('')).toContain(`chart written to ${chart}`);
    writeFileSync(chart, 'keep me');
    expect(await usage({ days: 3, scenarios: ['linear'], chart })).toBe(
      `--chart ${chart} exists; pass --force to replace it`,
    );
    expect(readFileSync(chart, 'utf8')).toBe('keep me');
    await runDiskSimulate({ ...base, days: 3, scenarios: ['linear'], chart, force: true }, { io: bufferIO() });
    expect(readFileSync(chart, 'utf8')).toMatch(/^<svg /);
    expect(await usage({ days: 3, scenarios: ['linear'], chart: join(DIR, 'no/such/dir/c.svg') })).toMatch(
      /cannot write --chart .*: ENOENT/,
    );
    // nothing left behind beside the file
    expect(readdirSync(DIR).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--chart never follows a symbolic link: refused, and with --force the link itself is replaced', async () => {
    const target = join(DIR, 'precious.txt');
    writeFileSync(target, 'precious');
    const linkPath = join(DIR, 'link.svg');
    symlinkSync(target, linkPath);
    expect(await usage({ days: 3, scenarios: ['linear'], chart: linkPath })).toBe(
      `--chart ${linkPath} exists (a symbolic link, never followed); pass --force to replace it`,
    );
    await runDiskSimulate(
      { ...base, days: 3, scenarios: ['linear'], chart: linkPath, force: true },
      { io: bufferIO() },
    );
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(lstatSync(linkPath).isSymbolicLink()).toBe(false);
    expect(readFileSync(linkPath, 'utf8')).toMatch(/^<svg /);
    mkdirSync(join(DIR, 'dir.svg'));
    expect(await usage({ days: 3, scenarios: ['linear'], chart: join(DIR, 'dir.svg'), force: true })).toMatch(
      /is a directory/,
    );
  });

  it('the built CLI: a malformed trace is exit 64 with one error line, no stack', async () => {
    requireBuiltCli();
    const bad = join(DIR, 'bad.json');
    writeFileSync(bad, '{"status":"success","data":{"resultType":"vector","result":[]}}');
    const r = await cli(['disk', 'simulate', '--trace', bad]);
    expect(r.code).toBe(64);
    expect(expectCleanError(r.stderr)).toMatch(/range query/);
    const ok = await cli([
      'disk',
      'simulate',
      '--trace',
      PROM,
      '--volume',
      'main-1',
      '--initial-size',
      '48Gi',
      '-o',
      'json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).kind).toBe('SimulationReport');
    expect(existsSync(bad)).toBe(true);
  });
});
