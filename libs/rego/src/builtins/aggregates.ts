/** Aggregates over arrays, sets (and objects for count). */
import type { Value } from '../value.js';
import { compare, RObject, RSet } from '../value.js';
import { coll, fail } from './check.js';
import { formatPrint } from '../format.js';
import { b } from './types-api.js';
import type { Table } from './types-api.js';
import type { Num } from '../numeric.js';
import { add, mul } from '../numeric.js';

function nums(a: Value[]): Num[] {
  return coll(a, 0).map((v) => {
    if (typeof v !== 'number' && typeof v !== 'bigint') fail(`expects array/set of numbers. Got \`${formatPrint(v, false)}\` instead`);
    return v;
  });
}

export const AGGREGATES: Table = {
  count: b(1, (a) => {
    const v = a[0] as Value;
    if (typeof v === 'string') return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (v instanceof RObject || v instanceof RSet) return v.size;
    return fail(`requires array/object/set/string argument. Got \`${formatPrint(v, false)}\` instead`);
  }),
  sum: b(1, (a, ctx) => nums(a).reduce<Num>((x, y) => add(x, y, ctx.ieee), 0)),
  product: b(1, (a, ctx) => nums(a).reduce<Num>((x, y) => mul(x, y, ctx.ieee), 1)),
  max: b(1, (a) => {
    const xs = coll(a, 0);
    return xs.length === 0 ? undefined : xs.reduce((m, x) => (compare(x, m) > 0 ? x : m));
  }),
  min: b(1, (a) => {
    const xs = coll(a, 0);
    return xs.length === 0 ? undefined : xs.reduce((m, x) => (compare(x, m) < 0 ? x : m));
  }),
  sort: b(1, (a) => [...coll(a, 0)].sort(compare)),
  all: b(1, (a) => coll(a, 0).every((v) => v === true)),
  any: b(1, (a) => coll(a, 0).some((v) => v === true)),
};
