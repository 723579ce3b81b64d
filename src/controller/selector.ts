/**
 * Kubernetes label selectors in their string form (`-l`, the default
 * policy's `selector`): equality (`a=b`, `a==b`, `a!=b`), existence (`a`,
 * `!a`) and sets (`a in (x,y)`, `a notin (x,y)`), requirements joined by
 * commas. Written here because @kubernetes/client-node only passes selectors
 * to the API server; the controller matches Clusters it already holds in its
 * cache. Malformed input is an error with one sentence, never "matches all".
 */

export type Requirement =
  | { key: string; op: 'eq' | 'ne'; value: string }
  | { key: string; op: 'exists' | 'absent' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

export class SelectorError extends Error {
  override name = 'SelectorError';
}

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(k: string, text: string): string {
  if (!KEY.test(k) || k.length > 316)
    throw new SelectorError(`label selector ${JSON.stringify(text)}: ${JSON.stringify(k)} is not a label key`);
  return k;
}
function checkValue(v: string, text: string): string {
  if (!VALUE.test(v) || v.length > 63)
    throw new SelectorError(`label selector ${JSON.stringify(text)}: ${JSON.stringify(v)} is not a label value`);
  return v;
}

/** Splits on commas outside parentheses. */
function split(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (depth < 0) throw new SelectorError(`label selector ${JSON.stringify(text)}: unbalanced parentheses`);
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (depth !== 0) throw new SelectorError(`label selector ${JSON.stringify(text)}: unbalanced parentheses`);
  parts.push(cur);
  return parts.map((p) => p.trim());
}

export function parseSelector(text: string): Requirement[] {
  if (text.trim() === '') return [];
  return split(text).map((p): Requirement => {
    if (p === '') throw new SelectorError(`label selector ${JSON.stringify(text)}: empty requirement`);
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(p);
    if (m) {
      const values = m[3]!.split(',').map((v) => checkValue(v.trim(), text));
      return { key: checkKey(m[1]!, text), op: m[2] as 'in' | 'notin', values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(p);
    if (m) return { key: checkKey(m[1]!, text), op: m[2] === '!=' ? 'ne' : 'eq', value: checkValue(m[3]!, text) };
    if (p.startsWith('!')) return { key: checkKey(p.slice(1).trim(), text), op: 'absent' };
    return { key: checkKey(p, text), op: 'exists' };
  });
}

export function matches(reqs: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'ne':
        return !has || v !== r.value;
      case 'exists':
        return has;
      case 'absent':
        return !has;
      case 'in':
        return has && r.values.includes(v as string);
      case 'notin':
        return !has || !r.values.includes(v as string);
    }
  });
}
