/** String builtins (Go semantics: indices count code points, as OPA does). */
import type { Value } from '../value.js';
import { RSet } from '../value.js';
import { arr, coll, fail, int, numeric, str } from './check.js';
import { sprintf } from './sprintf.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

function trimSet(s: string, cut: string, left: boolean, right: boolean): string {
  const chars = new Set([...cut]);
  const cps = [...s];
  let i = 0;
  let j = cps.length;
  if (left) while (i < j && chars.has(cps[i] as string)) i++;
  if (right) while (j > i && chars.has(cps[j - 1] as string)) j--;
  return cps.slice(i, j).join('');
}

function cpIndex(s: string, needle: string, from = 0): number {
  const unit = s.indexOf(needle, from);
  return unit < 0 ? -1 : [...s.slice(0, unit)].length;
}

function strs(a: Value[], i: number): string[] {
  const v = a[i] as Value;
  if (!Array.isArray(v) && !(v instanceof RSet)) fail('expects array/set of strings.');
  return coll(a, i).map((x) => (typeof x === 'string' ? x : fail('expects array/set of strings.')));
}

export const STRINGS: Table = {
  concat: b(2, (a) => strs(a, 1).join(str(a, 0))),
  sprintf: b(2, (a) => sprintf(str(a, 0), arr(a, 1))),
  startswith: b(2, (a) => str(a, 0).startsWith(str(a, 1))),
  endswith: b(2, (a) => str(a, 0).endsWith(str(a, 1))),
  contains: b(2, (a) => str(a, 0).includes(str(a, 1))),
  split: b(2, (a) => str(a, 0).split(str(a, 1))),
  replace: b(3, (a) => str(a, 0).split(str(a, 1)).join(str(a, 2))),
  'strings.replace_n': b(2, (a) => {
    const o = a[0] as Value;
    let s = str(a, 1);
    if (!(o !== null && typeof o === 'object' && !Array.isArray(o) && !(o instanceof RSet))) throw new BuiltinError('operand 1 must be object');
    for (const [k, v] of o.entries()) {
      if (typeof k !== 'string' || typeof v !== 'string') throw new BuiltinError('operand 1 must be object of strings');
      s = s.split(k).join(v);
    }
    return s;
  }),
  'strings.reverse': b(1, (a) => [...str(a, 0)].reverse().join('')),
  'strings.any_prefix_match': b(2, (a) => {
    const xs = typeof a[0] === 'string' ? [a[0]] : strs(a, 0);
    const ps = typeof a[1] === 'string' ? [a[1]] : strs(a, 1);
    return xs.some((x) => ps.some((p) => x.startsWith(p)));
  }),
  'strings.any_suffix_match': b(2, (a) => {
    const xs = typeof a[0] === 'string' ? [a[0]] : strs(a, 0);
    const ps = typeof a[1] === 'string' ? [a[1]] : strs(a, 1);
    return xs.some((x) => ps.some((p) => x.endsWith(p)));
  }),
  'strings.count': b(2, (a) => {
    const s = str(a, 0);
    const sub = str(a, 1);
    if (sub === '') return [...s].length + 1;
    return s.split(sub).length - 1;
  }),
  trim: b(2, (a) => trimSet(str(a, 0), str(a, 1), true, true)),
  trim_left: b(2, (a) => trimSet(str(a, 0), str(a, 1), true, false)),
  trim_right: b(2, (a) => trimSet(str(a, 0), str(a, 1), false, true)),
  trim_prefix: b(2, (a) => {
    const s = str(a, 0);
    const p = str(a, 1);
    return s.startsWith(p) ? s.slice(p.length) : s;
  }),
  trim_suffix: b(2, (a) => {
    const s = str(a, 0);
    const p = str(a, 1);
    return p !== '' && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
  }),
  trim_space: b(1, (a) => str(a, 0).trim()),
  lower: b(1, (a) => str(a, 0).toLowerCase()),
  upper: b(1, (a) => str(a, 0).toUpperCase()),
  indexof: b(2, (a) => {
    const s = str(a, 0);
    const n = str(a, 1);
    return n === '' ? -1 : cpIndex(s, n);
  }),
  indexof_n: b(2, (a) => {
    const s = str(a, 0);
    const n = str(a, 1);
    const out: Value[] = [];
    if (n === '') return out;
    for (let i = s.indexOf(n); i >= 0; i = s.indexOf(n, i + 1)) out.push([...s.slice(0, i)].length);
    return out;
  }),
  substring: b(3, (a) => {
    const cps = [...str(a, 0)];
    const start = int(a, 1);
    const len = int(a, 2);
    if (start < 0) throw new BuiltinError('negative offset');
    if (start >= cps.length) return '';
    return (len < 0 ? cps.slice(start) : cps.slice(start, start + len)).join('');
  }),
  format_int: b(2, (a) => {
    const n = numeric(a, 0);
    const base = int(a, 1);
    if (![2, 8, 10, 16].includes(base)) fail('expects base to be one of 2, 8, 10, 16');
    // Exact digits for big integers and for doubles beyond 2^53 (toString would use an exponent).
    if (typeof n === 'bigint') return n.toString(base);
    const t = Math.trunc(n);
    return Number.isSafeInteger(t) || !Number.isFinite(t) ? t.toString(base) : BigInt(t).toString(base);
  }),
};
