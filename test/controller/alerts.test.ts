/**
 * The controller's alert rules and dashboard: the checked-in deploy files are
 * exactly what src/install renders (and what `disk install` prints), the
 * rules are valid and each one fires on the series it is for (promtool test
 * rules, cases in alerts/), and every metric name they use is in core's
 * table. Queries are run against a real Prometheus in prometheus.test.ts.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '@cnpg-disk/core';
import { AUTORESIZER_ALERTS } from '../../src/controller/install/alerts.js';
import { renderDeployAssets, RULES_FILE } from '../../src/controller/install/assets.js';
import { DASHBOARD_PANELS } from '../../src/controller/install/dashboard.js';
import { generateManifests } from '../../src/controller/install/manifests.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const DEPLOY = join(REPO, 'deploy', 'autoresizer');
const TESTS = join(import.meta.dirname, 'alerts', 'autoresizer.rules.test.yaml');

async function sh(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args);
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

describe('autoresizer alert rules and dashboard', () => {
  it('deploy/autoresizer holds exactly what src/controller/install renders', () => {
    for (const [name, text] of Object.entries(renderDeployAssets())) {
      expect(readFileSync(join(DEPLOY, name), 'utf8'), `${name}: run npx tsx deploy/autoresizer/generate.ts`).toBe(
        text,
      );
    }
  });

  it('the rules are valid (promtool check rules)', async () => {
    const r = await sh('promtool', ['check', 'rules', join(DEPLOY, RULES_FILE)]);
    expect(r.out).toContain(`SUCCESS: ${AUTORESIZER_ALERTS.length} rules found`);
    expect(r.code).toBe(0);
  });

  it('every alert fires on its series and stays quiet otherwise (promtool test rules)', async () => {
    const r = await sh('promtool', ['test', 'rules', TESTS]);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
    const cases = readFileSync(TESTS, 'utf8');
    for (const a of AUTORESIZER_ALERTS) {
      expect(cases, a.alert).toMatch(new RegExp(`alertname: ${a.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
    }
  });

  it('rules and dashboard use only names of the metric table', () => {
    const known = new Set(METRIC_NAMES.flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
    const used = [...AUTORESIZER_ALERTS.map((a) => a.expr), ...DASHBOARD_PANELS.map((p) => p.expr)].flatMap(
      (e) => e.match(/\bcnpg_[a-z_]+\b/g) ?? [],
    );
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((n) => !known.has(n))).toEqual([]);
  });

  it('the PrometheusRule of disk install carries the same rules', () => {
    const rule = generateManifests({
      namespace: 'x',
      image: 'i',
      interval: '30s',
      sources: ['pod-proxy'],
      prometheusRule: true,
      dashboard: false,
    }).find((m) => m.kind === 'PrometheusRule') as { spec: { groups: { rules: unknown[] }[] } } | undefined;
    expect(rule?.spec.groups[0]?.rules).toEqual(AUTORESIZER_ALERTS);
  });
});
