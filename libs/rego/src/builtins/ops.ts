/** Operators: comparison, arithmetic, set algebra and membership (`in`). */
import type { Value } from '../value.js';
import { compare, equal, RObject, RSet } from '../value.js';
import { formatPrint } from '../format.js';
import { num, set } from './check.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

function arith(name: string, f: (x: number, y: number) => number): (a: Value[]) => Value {
  return (a) => {
    const x = a[0] as Value;
    const y = a[1] as Value;
    if (typeof x !== 'number' || typeof y !== 'number') {
      const got = typeof x !== 'number' ? x : y;
      throw new BuiltinError(`\`${name}\` expects numeric argument. Got \`${formatPrint(got, false)}\` instead`);
    }
    return f(x, y);
  };
}

function member(x: Value, c: Value): boolean {
  if (Array.isArray(c)) return c.some((e) => equal(e, x));
  if (c instanceof RSet) return c.has(x);
  if (c instanceof RObject) {
    for (const v of c.vals.values()) if (equal(v, x)) return true;
  }
  return false;
}

export const OPS: Table = {
  equal: b(2, (a) => equal(a[0] as Value, a[1] as Value)),
  neq: b(2, (a) => !equal(a[0] as Value, a[1] as Value)),
  lt: b(2, (a) => compare(a[0] as Value, a[1] as Value) < 0),
  lte: b(2, (a) => compare(a[0] as Value, a[1] as Value) <= 0),
  gt: b(2, (a) => compare(a[0] as Value, a[1] as Value) > 0),
  gte: b(2, (a) => compare(a[0] as Value, a[1] as Value) >= 0),
  plus: b(2, arith('add', (x, y) => x + y)),
  minus: b(2, (a) => {
    const x = a[0] as Value;
    const y = a[1] as Value;
    if (x instanceof RSet && y instanceof RSet) return RSet.of(x.sorted().filter((e) => !y.has(e)));
    return arith('sub', (p, q) => p - q)(a);
  }),
  mul: b(2, arith('mul', (x, y) => x * y)),
  div: b(2, (a) => {
    const y = a[1] as Value;
    if (y === 0) throw new BuiltinError('divide by zero');
    return arith('div', (p, q) => p / q)(a);
  }),
  rem: b(2, (a) => {
    const x = num(a, 0);
    const y = num(a, 1);
    if (!Number.isSafeInteger(x) || !Number.isSafeInteger(y)) throw new BuiltinError('modulo on floating-point number');
    if (y === 0) throw new BuiltinError('modulo by zero');
    const r = x % y;
    return Object.is(r, -0) ? 0 : r;
  }),
  and: b(2, (a) => {
    const x = set(a, 0);
    const y = set(a, 1);
    return RSet.of(x.sorted().filter((e) => y.has(e)));
  }),
  or: b(2, (a) => RSet.of([...set(a, 0).sorted(), ...set(a, 1).sorted()])),
  'internal.member_2': b(2, (a) => member(a[0] as Value, a[1] as Value)),
  'internal.member_3': b(3, (a) => {
    const k = a[0] as Value;
    const c = a[2] as Value;
    let v: Value | undefined;
    if (Array.isArray(c)) v = typeof k === 'number' ? c[k] : undefined;
    else if (c instanceof RObject) v = c.get(k);
    else if (c instanceof RSet) v = c.has(k) ? k : undefined;
    return v !== undefined && equal(v, a[1] as Value);
  }),
  print: b(-1, () => true),
  // Relation: evaluated by the evaluator (eval.ts walkBuiltin), never through fn.
  walk: b(1, () => undefined),
};
