/**
 * Kubernetes label selectors: the grammar the API server accepts for
 * `labelSelector` (`-l`), parsed once and matched offline, so a bundle is
 * filtered exactly as the API server would filter the live objects.
 *
 *   selector    := '' | requirement (',' requirement)*
 *   requirement := '!' KEY                         does not exist
 *                | KEY                             exists
 *                | KEY ('=' | '==' | '!=') VALUE   VALUE may be empty
 *                | KEY ('in' | 'notin') '(' VALUES ')'
 *                | KEY ('>' | '<') INTEGER
 *
 * Tokens are separated by whitespace (space, tab, CR, LF) or by the symbols
 * `! = == != ( ) , > <`; anything else is part of an identifier. `in` and
 * `notin` are operators only right after a key. KEY is a qualified name
 * (optional DNS-1123 subdomain prefix of at most 253 characters and '/',
 * then a name of at most 63 characters: alphanumeric at both ends, `-_.`
 * inside); VALUE is empty or such a name. A set may hold empty values
 * (`in (a,)`, `in ()`). `!=` and `notin` match objects without the key.
 * `>`/`<` compare base-10 64-bit integers and never match a missing or
 * non-integer label.
 *
 * Written by hand: the grammar and its edge cases are small and fixed, this
 * package takes no dependencies, and no npm package implements the API
 * server's exact rules. Tested against a real kube-apiserver
 * (test/api/selector.test.ts).
 */

export type SelectorOperator = 'exists' | 'notexists' | '=' | '!=' | 'in' | 'notin' | '>' | '<';

export interface SelectorRequirement {
  key: string;
  operator: SelectorOperator;
  /** Values for `=`, `!=`, `in`, `notin` (one for `=`/`!=`), the integer for `>`/`<`. */
  values: string[];
}

export interface LabelSelector {
  /** The text as given. */
  text: string;
  /** All must hold (comma = AND); empty matches everything. */
  requirements: SelectorRequirement[];
}

export type SelectorParse = { ok: true; selector: LabelSelector } | { ok: false; error: string };

type Tok =
  { t: 'id'; v: string } | { t: 'sym'; v: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '>' | '<' } | { t: 'end'; v: '' };

const WS = new Set([' ', '\t', '\r', '\n']);
const SYM_START = new Set(['!', '=', '(', ')', ',', '>', '<']);

function lex(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (WS.has(c)) {
      i++;
    } else if (SYM_START.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        out.push({ t: 'sym', v: two });
        i += 2;
      } else {
        out.push({ t: 'sym', v: c as '!' });
        i++;
      }
    } else {
      let j = i;
      while (j < text.length && !WS.has(text[j]!) && !SYM_START.has(text[j]!)) j++;
      out.push({ t: 'id', v: text.slice(i, j) });
      i = j;
    }
  }
  out.push({ t: 'end', v: '' });
  return out;
}

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const INTEGER = /^[+-]?[0-9]+$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Why KEY is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `label key ${JSON.stringify(key)} has more than one '/'`;
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') return `label key ${JSON.stringify(key)} has an empty prefix before '/'`;
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      return `label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain (lower-case alphanumerics, '-' and '.', at most 253 characters)`;
    }
  }
  if (name === '') return `label key ${JSON.stringify(key)} has an empty name`;
  if (name.length > 63 || !NAME.test(name)) {
    return `label key ${JSON.stringify(key)}: the name must be at most 63 characters, alphanumeric at both ends, with '-', '_' or '.' inside`;
  }
  return undefined;
}

/** Why VALUE is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value)) {
    return `label value ${JSON.stringify(value)} must be empty or at most 63 characters, alphanumeric at both ends, with '-', '_' or '.' inside`;
  }
  return undefined;
}

function parseInt64(v: string): bigint | undefined {
  if (!INTEGER.test(v)) return undefined;
  const n = BigInt(v);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

class SelectorError extends Error {}

/** Parses a label selector with the API server's grammar and validation. */
export function parseLabelSelector(text: string): SelectorParse {
  try {
    return { ok: true, selector: { text, requirements: parseRequirements(text) } };
  } catch (e) {
    /* c8 ignore next -- only SelectorError is thrown by the parser */
    if (!(e instanceof SelectorError)) throw e;
    return { ok: false, error: `invalid label selector ${JSON.stringify(text)}: ${e.message}` };
  }
}

const shown = (t: Tok) => (t.t === 'end' ? 'the end' : `'${t.v}'`);

function parseRequirements(text: string): SelectorRequirement[] {
  const toks = lex(text);
  let p = 0;
  const next = () => toks[p++]!;
  const peek = () => toks[p]!;
  const fail = (m: string): never => {
    throw new SelectorError(m);
  };
  const reqs: SelectorRequirement[] = [];
  if (peek().t === 'end') return reqs;
  for (;;) {
    // key, with '!' for "does not exist"
    let t = next();
    let negated = false;
    if (t.t === 'sym' && t.v === '!') {
      negated = true;
      t = next();
    }
    if (t.t !== 'id') fail(`found ${shown(t)} where a label key was expected`);
    const key = t.v;
    const kp = labelKeyProblem(key);
    if (kp) fail(kp);
    const after = peek();
    if (negated || after.t === 'end' || (after.t === 'sym' && after.v === ',')) {
      reqs.push({ key, operator: negated ? 'notexists' : 'exists', values: [] });
    } else {
      const op = next();
      let operator: SelectorOperator;
      if (op.t === 'id' && (op.v === 'in' || op.v === 'notin')) operator = op.v;
      else if (op.t === 'sym' && (op.v === '=' || op.v === '==')) operator = '=';
      else if (op.t === 'sym' && (op.v === '!=' || op.v === '>' || op.v === '<')) operator = op.v;
      else
        return fail(`found ${shown(op)} after the key ${JSON.stringify(key)}; expected =, ==, !=, in, notin, > or <`);
      let values: string[];
      if (operator === 'in' || operator === 'notin') values = parseSet();
      else {
        const v = peek();
        if (v.t === 'end' || (v.t === 'sym' && v.v === ',')) values = [''];
        else if (v.t === 'id') values = [next().v];
        else return fail(`found ${shown(v)} where the value of ${JSON.stringify(key)} was expected`);
      }
      if (operator === '>' || operator === '<') {
        if (parseInt64(values[0]!) === undefined) {
          fail(`the value of ${JSON.stringify(key)} ${operator} must be an integer, not ${JSON.stringify(values[0])}`);
        }
      }
      for (const v of values) {
        const vp = labelValueProblem(v);
        if (vp) fail(vp);
      }
      reqs.push({ key, operator, values });
    }
    const sep = next();
    if (sep.t === 'end') return reqs;
    if (!(sep.t === 'sym' && sep.v === ',')) fail(`found ${shown(sep)} where ',' or the end was expected`);
    const n = peek();
    if (!(n.t === 'id' || (n.t === 'sym' && n.v === '!'))) fail(`found ${shown(n)} after ','; expected a requirement`);
  }

  /**
   * '(' VALUES ')'. Empty members count as "" — `()`, `(a,)`, `(,a)`,
   * `(a,,b)` — except that the API server refuses `,,` right before `)`
   * (`(a,,)`, `(,,)`), and so do we: the same state machine.
   */
  function parseSet(): string[] {
    const open = next();
    if (!(open.t === 'sym' && open.v === '(')) fail(`found ${shown(open)} where '(' was expected`);
    const set = new Set<string>();
    const isSym = (t: Tok, v: string) => t.t === 'sym' && t.v === v;
    if (isSym(peek(), ')')) {
      next();
      return [''];
    }
    for (;;) {
      const t = next();
      if (t.t === 'id') {
        set.add(t.v);
        if (isSym(peek(), ',')) continue;
        if (isSym(peek(), ')')) break;
        fail(`found ${shown(peek())} in a value list; expected ',' or ')'`);
      } else if (isSym(t, ',')) {
        if (set.size === 0) set.add('');
        if (isSym(peek(), ')')) {
          set.add('');
          break;
        }
        if (isSym(peek(), ',')) {
          next();
          set.add('');
        }
      } else {
        fail(`found ${shown(t)} in a value list; expected a value or ','`);
      }
    }
    next(); // ')'
    return [...set].sort();
  }
}

/** Whether LABELS satisfy every requirement of the selector. */
export function matchesLabelSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = has ? labels[r.key]! : undefined;
    switch (r.operator) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case '=':
      case 'in':
        return has && r.values.includes(value!);
      case '!=':
      case 'notin':
        return !has || !r.values.includes(value!);
      case '>':
      case '<': {
        const n = has ? parseInt64(value!) : undefined;
        if (n === undefined) return false;
        const bound = parseInt64(r.values[0]!)!;
        return r.operator === '>' ? n > bound : n < bound;
      }
    }
  });
}
