import { describe, expect, it } from 'vitest';
import { defaultPolicyFor, parseDefaultPolicy } from '../../src/controller/default-policy.js';

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
  it('first matching rule wins (core label selectors, set-based too); no rule → undefined', () => {
    const f = parseDefaultPolicy(doc, 'f.yaml');
    expect(defaultPolicyFor(f, { namespace: 'payments', labels: { tier: 'critical' } })?.rule).toBe(0);
    expect(defaultPolicyFor(f, { namespace: 'payments', labels: {} })?.rule).toBe(1);
    expect(defaultPolicyFor(f, { namespace: 'orders', labels: { tier: 'critical' } })).toEqual({
      policy: { walStorage: { resize: { enabled: true } } },
      rule: 1,
    });
    expect(defaultPolicyFor(f, { namespace: 'other', labels: {} })).toBeUndefined();
    const sets = parseDefaultPolicy(
      doc.replace('selector: tier=critical', 'selector: "tier in (critical, high),!legacy"'),
      'f',
    );
    expect(defaultPolicyFor(sets, { namespace: 'payments', labels: { tier: 'high' } })?.rule).toBe(0);
    expect(defaultPolicyFor(sets, { namespace: 'payments', labels: { tier: 'high', legacy: '' } })?.rule).toBe(1);
  });

  it.each([
    ['not: [yaml', /is not valid YAML/],
    ['- a', /is not a mapping/],
    ['kind: DefaultPolicy\nrules: []', /is not a disk.cnpg-plugin.dev\/v1alpha1 DefaultPolicy/],
    [doc + 'extra: 1\n', /unknown field "extra"/],
    [doc.replace('rules:\n', 'rules: {}\nx:\n'), /unknown field "x"/],
    [doc.replace('    selector: tier=critical', '    selector: "a in ("'), /rules\[0\]: label selector "a in \("/],
    [doc.replace('  - namespaces: [payments]\n', '  - namespaces: []\n'), /namespaces must be a non-empty list/],
    [doc.replace('    policy: { storage', '    policies: { storage'), /unknown field "policies"/],
  ])('refuses a bad file with one sentence (%#)', (text, msg) => {
    expect(() => parseDefaultPolicy(text, 'f.yaml')).toThrow(msg);
  });
});
