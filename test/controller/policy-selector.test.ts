import { describe, expect, it } from 'vitest';
import { defaultPolicyFor, parseDefaultPolicy } from '../../src/controller/default-policy.js';
import { matches, parseSelector } from '../../src/controller/selector.js';

describe('label selectors', () => {
  const labels = { tier: 'critical', 'team.example.com/owner': 'payments', env: 'prod' };
  it.each([
    ['', true],
    ['tier=critical', true],
    ['tier==critical', true],
    ['tier!=critical', false],
    ['tier!=low', true],
    ['missing!=x', true],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['env in (prod, staging)', true],
    ['env notin (prod)', false],
    ['missing notin (prod)', true],
    ['missing in (prod)', false],
    ['tier=critical,team.example.com/owner=payments', true],
    ['tier=critical, env in (dev)', false],
  ])('%j → %s', (sel, want) => {
    expect(matches(parseSelector(sel), labels)).toBe(want);
  });

  it.each(['a=b,', 'env in (prod', 'bad key!=x', 'a=b c', 'k=' + 'x'.repeat(64), ',', 'a in (x,y))'])(
    'refuses %j with one sentence',
    (sel) => {
      expect(() => parseSelector(sel)).toThrow(/^label selector /);
    },
  );
});

describe('default policy file', () => {
  const doc = `apiVersion: disk.cnpg-plugin.dev/v1alpha1
kind: DefaultPolicy
rules:
  - namespaces: [payments]
    selector: tier=critical
    policy: { storage: { resize: { enabled: true } } }
  - namespaces: [payments, orders]
    policy: { walStorage: { resize: { enabled: true } } }
`;
  it('first matching rule wins; no rule → undefined', () => {
    const f = parseDefaultPolicy(doc, 'f.yaml');
    expect(defaultPolicyFor(f, { namespace: 'payments', labels: { tier: 'critical' } })?.rule).toBe(0);
    expect(defaultPolicyFor(f, { namespace: 'payments', labels: {} })?.rule).toBe(1);
    expect(defaultPolicyFor(f, { namespace: 'orders', labels: { tier: 'critical' } })).toEqual({
      policy: { walStorage: { resize: { enabled: true } } },
      rule: 1,
    });
    expect(defaultPolicyFor(f, { namespace: 'other', labels: {} })).toBeUndefined();
  });

  it.each([
    ['not: [yaml', /is not valid YAML/],
    ['- a', /is not a mapping/],
    ['kind: DefaultPolicy\nrules: []', /is not a disk.cnpg-plugin.dev\/v1alpha1 DefaultPolicy/],
    [doc + 'extra: 1\n', /unknown field "extra"/],
    [doc.replace('rules:\n', 'rules: {}\nx:\n'), /unknown field "x"/],
    [doc.replace('    selector: tier=critical', '    selector: "a in ("'), /rules\[0\]: label selector/],
    [doc.replace('  - namespaces: [payments]\n', '  - namespaces: []\n'), /namespaces must be a non-empty list/],
    [doc.replace('    policy: { storage', '    policies: { storage'), /unknown field "policies"/],
  ])('refuses a bad file with one sentence (%#)', (text, msg) => {
    expect(() => parseDefaultPolicy(text, 'f.yaml')).toThrow(msg);
  });
});
