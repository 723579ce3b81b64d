// The label-selector grammar of the API server (selector.ts): examples for
// every rule and error, and properties over generated selectors. The same
// selectors are checked against a real kube-apiserver in test/api/selector.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  labelKeyProblem,
  labelValueProblem,
  matchesLabelSelector,
  parseLabelSelector,
  type LabelSelector,
  type SelectorRequirement,
} from '../src/selector.js';

function parsed(text: string): LabelSelector {
  const p = parseLabelSelector(text);
  if (!p.ok) throw new Error(p.error);
  return p.selector;
}
const reqs = (text: string) => parsed(text).requirements;
const error = (text: string) => {
  const p = parseLabelSelector(text);
  return p.ok ? undefined : p.error;
};
const match = (text: string, labels: Record<string, string>) => matchesLabelSelector(parsed(text), labels);

describe('parseLabelSelector: the grammar', () => {
  it('empty and blank select everything', () => {
    expect(reqs('')).toEqual([]);
    expect(reqs('  \t\n')).toEqual([]);
    expect(match('', {})).toBe(true);
  });

  it('every operator, with and without whitespace', () => {
    expect(reqs('a')).toEqual([{ key: 'a', operator: 'exists', values: [] }]);
    expect(reqs('!a')).toEqual([{ key: 'a', operator: 'notexists', values: [] }]);
    expect(reqs(' ! a ')).toEqual([{ key: 'a', operator: 'notexists', values: [] }]);
    expect(reqs('a=b')).toEqual([{ key: 'a', operator: '=', values: ['b'] }]);
    expect(reqs('a == b')).toEqual([{ key: 'a', operator: '=', values: ['b'] }]);
    expect(reqs('a!=b')).toEqual([{ key: 'a', operator: '!=', values: ['b'] }]);
    expect(reqs('a=')).toEqual([{ key: 'a', operator: '=', values: [''] }]);
    expect(reqs('a!=,b')).toEqual([
      { key: 'a', operator: '!=', values: [''] },
      { key: 'b', operator: 'exists', values: [] },
    ]);
    expect(reqs('a in (y, x,x)')).toEqual([{ key: 'a', operator: 'in', values: ['x', 'y'] }]);
    expect(reqs('a notin(x)')).toEqual([{ key: 'a', operator: 'notin', values: ['x'] }]);
    expect(reqs('a>5,b<3')).toEqual([
      { key: 'a', operator: '>', values: ['5'] },
      { key: 'b', operator: '<', values: ['3'] },
    ]);
    expect(error('b<-3')).toMatch(/label value "-3"/);
    expect(reqs('example.com/team=pay,in=notin')).toEqual([
      { key: 'example.com/team', operator: '=', values: ['pay'] },
      { key: 'in', operator: '=', values: ['notin'] },
    ]);
    expect(reqs('in in (in)')).toEqual([{ key: 'in', operator: 'in', values: ['in'] }]);
  });

  it('value sets with empty members, as the API server reads them', () => {
    expect(reqs('a in ()')[0]!.values).toEqual(['']);
    expect(reqs('a in (,)')[0]!.values).toEqual(['']);
    expect(reqs('a in (x,)')[0]!.values).toEqual(['', 'x']);
    expect(reqs('a in (,x)')[0]!.values).toEqual(['', 'x']);
    expect(reqs('a in (x,,y)')[0]!.values).toEqual(['', 'x', 'y']);
    expect(reqs('a in (x,,,)')[0]!.values).toEqual(['', 'x']);
    expect(error('a in (x,,)')).toMatch(/found '\)' in a value list/);
    expect(error('a in (,,)')).toMatch(/found '\)' in a value list/);
  });

  it('errors name what was found', () => {
    expect(error(',a')).toMatch(/found ',' where a label key was expected/);
    expect(error('a,')).toMatch(/found the end after ','/);
    expect(error('a,,b')).toMatch(/found ',' after ','/);
    expect(error('!')).toMatch(/found the end where a label key was expected/);
    expect(error('!a=b')).toMatch(/found '=' where ',' or the end was expected/);
    expect(error('a b')).toMatch(/found 'b' after the key "a"/);
    expect(error('a (b)')).toMatch(/found '\(' after the key/);
    expect(error('a=b=c')).toMatch(/found '=' where ',' or the end/);
    expect(error('a=(b)')).toMatch(/found '\(' where the value of "a" was expected/);
    expect(error('a in b')).toMatch(/found 'b' where '\(' was expected/);
    expect(error('a in (b c)')).toMatch(/found 'c' in a value list; expected ',' or '\)'/);
    expect(error('a in (b')).toMatch(/found the end in a value list/);
    expect(error('a in (=)')).toMatch(/found '=' in a value list; expected a value or ','/);
    expect(error('a===b')).toMatch(/found '=' where the value of "a" was expected/);
    expect(error('a>')).toMatch(/must be an integer, not ""/);
    expect(error('a>x')).toMatch(/must be an integer/);
    expect(error('a>99999999999999999999')).toMatch(/must be an integer/);
    expect(error('a>+5')).toMatch(/label value "\+5"/);
    expect(error('a=-b')).toMatch(/label value "-b"/);
    expect(error('a=' + 'x'.repeat(64))).toMatch(/at most 63/);
    expect(error('-a')).toMatch(/label key "-a"/);
    expect(error('a/b/c')).toMatch(/more than one '\/'/);
    expect(error('/a')).toMatch(/empty prefix/);
    expect(error('A.com/a')).toMatch(/prefix must be a DNS subdomain/);
    expect(error(`${'a'.repeat(254)}/a`)).toMatch(/prefix must be a DNS subdomain/);
    expect(error('a.com/')).toMatch(/empty name/);
    expect(error('x'.repeat(64))).toMatch(/at most 63 characters/);
    expect(error('a=b')).toBeUndefined();
    expect(error('team=pay\u001b[2J')).toMatch(/^invalid label selector "team=pay\\u001b\[2J": label value/);
  });

  it('labelKeyProblem and labelValueProblem', () => {
    expect(labelKeyProblem('cnpg.io/cluster')).toBeUndefined();
    expect(labelKeyProblem('a_b.c-d')).toBeUndefined();
    expect(labelValueProblem('')).toBeUndefined();
    expect(labelValueProblem('a_b')).toBeUndefined();
    expect(labelValueProblem('a_')).toMatch(/alphanumeric at both ends/);
  });
});

describe('matchesLabelSelector', () => {
  const l = { team: 'pay', tier: 'db', n: '10', bad: 'x1', empty: '' };
  it('equality, sets, existence; != and notin match a missing key', () => {
    expect(match('team=pay,tier==db', l)).toBe(true);
    expect(match('team=pay,tier=web', l)).toBe(false);
    expect(match('team!=pay', l)).toBe(false);
    expect(match('zone!=a', l)).toBe(true);
    expect(match('zone=', l)).toBe(false);
    expect(match('empty=', l)).toBe(true);
    expect(match('empty in ()', l)).toBe(true);
    expect(match('team in (pay,web)', l)).toBe(true);
    expect(match('zone in (a)', l)).toBe(false);
    expect(match('team notin (pay)', l)).toBe(false);
    expect(match('zone notin (a)', l)).toBe(true);
    expect(match('tier,!zone', l)).toBe(true);
    expect(match('!tier', l)).toBe(false);
    expect(match('toString', l)).toBe(false);
  });
  it('> and < compare integers; missing or non-integer labels never match', () => {
    expect(match('n>9', l)).toBe(true);
    expect(match('n>10', l)).toBe(false);
    expect(match('n<11', l)).toBe(true);
    expect(match('n<10', l)).toBe(false);
    expect(match('bad>0', l)).toBe(false);
    expect(match('bad<0', l)).toBe(false);
    expect(match('zone>0', l)).toBe(false);
    expect(match('n<1', { n: '-0' })).toBe(true);
  });
});

// ---- properties ----------------------------------------------------------

const nameChars = fc.constantFrom(...'abcXYZ019-_.'.split(''));
const alnum = fc.constantFrom(...'abcXYZ019'.split(''));
const labelName = fc
  .tuple(alnum, fc.array(nameChars, { maxLength: 6 }), alnum)
  .map(([a, mid, b]) => a + mid.join('') + b)
  .filter((s) => s !== 'in' && s !== 'notin');
const value = fc.oneof(fc.constant(''), alnum, labelName);
const prefix = fc.constantFrom('', 'example.com/', 'cnpg.io/', 'a-b.c/');
const key = fc.tuple(prefix, labelName).map(([p, n]) => p + n);
const int = fc.integer({ min: -1000, max: 1000 }).map(String);
const requirement: fc.Arbitrary<SelectorRequirement> = fc.oneof(
  key.map((k) => ({ key: k, operator: 'exists' as const, values: [] })),
  key.map((k) => ({ key: k, operator: 'notexists' as const, values: [] })),
  fc
    .tuple(key, fc.constantFrom('=' as const, '!=' as const), value)
    .map(([k, o, v]) => ({ key: k, operator: o, values: [v] })),
  fc
    .tuple(
      key,
      fc.constantFrom('in' as const, 'notin' as const),
      fc.uniqueArray(labelName, { minLength: 1, maxLength: 4 }),
    )
    .map(([k, o, vs]) => ({ key: k, operator: o, values: [...vs].sort() })),
  fc
    .tuple(
      key,
      fc.constantFrom('>' as const, '<' as const),
      int.filter((i) => !i.startsWith('-')),
    )
    .map(([k, o, v]) => ({ key: k, operator: o, values: [v] })),
);
const ws = fc.constantFrom('', ' ', '  ', '\t');

function render(r: SelectorRequirement, w: string, eq: '=' | '=='): string {
  switch (r.operator) {
    case 'exists':
      return `${w}${r.key}${w}`;
    case 'notexists':
      return `${w}!${w}${r.key}${w}`;
    case '=':
      return `${w}${r.key}${w}${eq}${w}${r.values[0]}${w}`;
    case 'in':
    case 'notin':
      return `${w}${r.key} ${r.operator}${w}(${w}${r.values.join(`${w},${w}`)}${w})${w}`;
    default:
      return `${w}${r.key}${w}${r.operator}${w}${r.values[0]}${w}`;
  }
}

/** The meaning of a requirement, written plainly, as the reference. */
function reference(r: SelectorRequirement, labels: Record<string, string>): boolean {
  const v = Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined;
  if (r.operator === 'exists') return v !== undefined;
  if (r.operator === 'notexists') return v === undefined;
  if (r.operator === '=' || r.operator === 'in') return v !== undefined && r.values.includes(v);
  if (r.operator === '!=' || r.operator === 'notin') return v === undefined || !r.values.includes(v);
  if (v === undefined || !/^-?\d+$/.test(v)) return false;
  return r.operator === '>' ? Number(v) > Number(r.values[0]) : Number(v) < Number(r.values[0]);
}

describe('properties', () => {
  it('a rendered selector parses back to its requirements, whatever the spacing', () => {
    fc.assert(
      fc.property(
        fc.array(requirement, { minLength: 1, maxLength: 5 }),
        ws,
        fc.constantFrom('=' as const, '==' as const),
        (rs, w, eq) => {
          const text = rs.map((r) => render(r, w, eq)).join(',');
          expect(reqs(text)).toEqual(rs);
        },
      ),
    );
  });

  it('matching is the AND of each requirement, as plainly defined', () => {
    const labels = fc.dictionary(key, fc.oneof(value, int), { maxKeys: 5 });
    fc.assert(
      fc.property(fc.array(requirement, { maxLength: 4 }), labels, (rs, l) => {
        const s: LabelSelector = { text: '', requirements: rs };
        expect(matchesLabelSelector(s, l)).toBe(rs.every((r) => reference(r, l)));
      }),
    );
  });

  it('opposite operators split every label set in two', () => {
    const labels = fc.dictionary(key, value, { maxKeys: 4 });
    fc.assert(
      fc.property(key, fc.uniqueArray(labelName, { minLength: 1, maxLength: 3 }), labels, (k, vs, l) => {
        const set = vs.join(',');
        expect(match(`${k} in (${set})`, l)).toBe(!match(`${k} notin (${set})`, l));
        expect(match(k, l)).toBe(!match(`!${k}`, l));
        expect(match(`${k}=${vs[0]}`, l)).toBe(!match(`${k}!=${vs[0]}`, l));
      }),
    );
  });

  it('any text either parses or gives one error sentence; it never throws', () => {
    const alphabet = fc.constantFrom(...'ab=!(),<> \tin/.-_1'.split(''), 'in', 'notin');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 20 }), (parts) => {
        const p = parseLabelSelector(parts.join(''));
        if (!p.ok) expect(p.error).toMatch(/^invalid label selector /);
      }),
      { numRuns: 2000 },
    );
  });
});
