/**
 * The shipped alert rules: valid (promtool check rules), able to fire on the
 * series they are meant for (promtool test rules, cases in alerts/), and
 * written against metric names the probe really exports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../src/index.js';
import { FULL_REPORT } from './helpers/fixtures.js';
import { shAsync } from './helpers/sys.js';

const pkg = join(import.meta.dirname, '..');
const rules = join(pkg, 'alerts/cnpg-disk.rules.yaml');

describe('alert rules', () => {
  it('are valid rules', async () => {
    const r = await shAsync('promtool', ['check', 'rules', rules]);
    expect(r.stdout + r.stderr).toContain('SUCCESS: 11 rules found');
    expect(r.code).toBe(0);
  });

  it('fire on the series they are for and stay quiet otherwise (promtool test rules)', async () => {
    const r = await shAsync('promtool', ['test', 'rules', join(pkg, 'test/alerts/cnpg-disk.rules.test.yaml')]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('use only metric names the probe exports', () => {
    const text = readFileSync(rules, 'utf8');
    const used = new Set(text.match(/\bcnpg_[a-z_]+\b/g));
    const resize = new Map([['data', { budgetRemaining: 0, atLimit: true, blocked: 'rate-limit' as const }]]);
    const exported = new Set(
      renderMetrics(FULL_REPORT, { resize })
        .split('\n')
        .filter((l) => l.startsWith('cnpg_'))
        .map((l) => l.replace(/[{ ].*/, '')),
    );
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    // Every rule file alert is covered by a promtool test case.
    const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    const tests = readFileSync(join(pkg, 'test/alerts/cnpg-disk.rules.test.yaml'), 'utf8');
    for (const a of alerts) expect(tests).toContain(`alertname: ${a}`);
  });
});
