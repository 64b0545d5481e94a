/** Operators: comparison, arithmetic, set algebra and membership (`in`). */
import type { Value } from '../value.js';
import { compare, equal, RObject, RSet } from '../value.js';
import { formatPrint } from '../format.js';
import { numeric, set } from './check.js';
import type { Num } from '../numeric.js';
import { add, div, mul, rem, sub } from '../numeric.js';
import { b, BuiltinError } from './types-api.js';
import type { BuiltinCtx, Table } from './types-api.js';

const isNum = (v: Value): v is Num => typeof v === 'number' || typeof v === 'bigint';

function arith(name: string, f: (x: Num, y: Num, ieee: boolean) => Num): (a: Value[], ctx: BuiltinCtx) => Value {
  return (a, ctx) => {
    const x = a[0] as Value;
    const y = a[1] as Value;
    if (!isNum(x) || !isNum(y)) {
      const got = !isNum(x) ? x : y;
      throw new BuiltinError(`\`${name}\` expects numeric argument. Got \`${formatPrint(got, false)}\` instead`);
    }
    return f(x, y, ctx.ieee);
  };
}

/**
 * A big integer equals a double when the double is its nearest one (`1e21 ==
 * 1000000000000000000000`), so a value the caller already parsed into a JS number (rounded
 * beyond 2^53) still equals the exact literal it came from, as before exact numbers.
 */
function mixedEq(x: Value, y: Value): boolean {
  if (typeof x === 'bigint' && typeof y === 'number') return Number(x) === y;
  if (typeof x === 'number' && typeof y === 'bigint') return x === Number(y);
  return false;
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
  equal: b(2, (a) => equal(a[0] as Value, a[1] as Value) || mixedEq(a[0] as Value, a[1] as Value)),
  neq: b(2, (a) => !(equal(a[0] as Value, a[1] as Value) || mixedEq(a[0] as Value, a[1] as Value))),
  lt: b(2, (a) => compare(a[0] as Value, a[1] as Value) < 0),
  lte: b(2, (a) => compare(a[0] as Value, a[1] as Value) <= 0),
  gt: b(2, (a) => compare(a[0] as Value, a[1] as Value) > 0),
  gte: b(2, (a) => compare(a[0] as Value, a[1] as Value) >= 0),
  plus: b(2, arith('add', add)),
  minus: b(2, (a, ctx) => {
    const x = a[0] as Value;
    const y = a[1] as Value;
    if (x instanceof RSet && y instanceof RSet) return RSet.of(x.sorted().filter((e) => !y.has(e)));
    return arith('sub', sub)(a, ctx);
  }),
  mul: b(2, arith('mul', mul)),
  div: b(2, (a, ctx) => {
    const y = a[1] as Value;
    if (y === 0) throw new BuiltinError('divide by zero');
    return arith('div', div)(a, ctx);
  }),
  rem: b(2, (a) => {
    const x = numeric(a, 0);
    const y = numeric(a, 1);
    // An integral double beyond 2^53 (a literal like 1e16) is a float, as in regorus.
    if ((typeof x === 'number' && !Number.isSafeInteger(x)) || (typeof y === 'number' && !Number.isSafeInteger(y))) {
      throw new BuiltinError('modulo on floating-point number');
    }
    if (y === 0) throw new BuiltinError('modulo by zero');
    return rem(x, y);
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
