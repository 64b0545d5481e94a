/** Numbers: rounding, ranges, conversion, random ints and bitwise operations. */
import type { Value } from '../value.js';
import { int, num, numeric, softInt, str } from './check.js';
import { normBig, numFromText } from '../numeric.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';
import { createHash } from 'node:crypto';

const MAX_RANGE = 1_000_000;

function range(from: number, to: number, step: number): Value[] {
  if (Math.abs(to - from) / step > MAX_RANGE) throw new BuiltinError('numbers.range: range too large', true);
  const out: Value[] = [];
  if (from <= to) for (let i = from; i <= to; i += step) out.push(i);
  else for (let i = from; i >= to; i -= step) out.push(i);
  return out;
}

function toBig(a: Value[], i: number): bigint {
  const v = a[i];
  return typeof v === 'bigint' ? v : BigInt(int(a, i));
}

/** numbers.range over big integers (both ends exact). */
function bigRange(from: bigint, to: bigint, step: bigint): Value[] {
  const span = from <= to ? to - from : from - to;
  if (span / step > BigInt(MAX_RANGE)) throw new BuiltinError('numbers.range: range too large', true);
  const out: Value[] = [];
  if (from <= to) for (let i = from; i <= to; i += step) out.push(normBig(i));
  else for (let i = from; i >= to; i -= step) out.push(normBig(i));
  return out;
}

const anyBig = (a: Value[]): boolean => a.some((v) => typeof v === 'bigint');

export const NUMBERS: Table = {
  abs: b(1, (a) => {
    const n = numeric(a, 0);
    return typeof n === 'bigint' ? (n < 0n ? -n : n) : Math.abs(n);
  }),
  ceil: b(1, (a) => (typeof a[0] === 'bigint' ? a[0] : Math.ceil(num(a, 0)))),
  floor: b(1, (a) => (typeof a[0] === 'bigint' ? a[0] : Math.floor(num(a, 0)))),
  round: b(1, (a) => {
    if (typeof a[0] === 'bigint') return a[0];
    const n = num(a, 0);
    return n < 0 ? -Math.round(-n) : Math.round(n);
  }),
  'numbers.range': b(2, (a) => (anyBig(a) ? bigRange(toBig(a, 0), toBig(a, 1), 1n) : range(int(a, 0), int(a, 1), 1))),
  'numbers.range_step': b(3, (a) => {
    const step = int(a, 2);
    if (step <= 0) throw new BuiltinError('numbers.range_step: step must be a positive number above zero');
    return anyBig(a) ? bigRange(toBig(a, 0), toBig(a, 1), toBig(a, 2)) : range(int(a, 0), int(a, 1), step);
  }),
  to_number: b(1, (a) => {
    const v = a[0] as Value;
    if (v === null) return 0;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number' || typeof v === 'bigint') return v;
    if (typeof v === 'string') {
      if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) throw new BuiltinError(`could not parse string as number: ${JSON.stringify(v)}`);
      return numFromText(v.trim().replace(/^\+/, ''));
    }
    throw new BuiltinError('operand 1 must be one of {null, boolean, number, string}');
  }),
  'rand.intn': b(2, (a, ctx) => {
    const n = softInt(a, 1);
    if (n === 0) return 0;
    // Deterministic per (seed string, n) within one evaluation, as OPA caches it.
    const h = createHash('sha256').update(`${str(a, 0)}/${n}/${ctx.nowNs}`).digest();
    return h.readUInt32BE(0) % Math.abs(n);
  }),
  'bits.and': b(2, (a) => normBig(toBig(a, 0) & toBig(a, 1))),
  'bits.or': b(2, (a) => normBig(toBig(a, 0) | toBig(a, 1))),
  'bits.xor': b(2, (a) => normBig(toBig(a, 0) ^ toBig(a, 1))),
  'bits.negate': b(1, (a) => normBig(~toBig(a, 0))),
  'bits.lsh': b(2, (a) => {
    const s = int(a, 1);
    if (s < 0) throw new BuiltinError('bits.lsh: shift must be non-negative');
    return normBig(toBig(a, 0) << BigInt(s));
  }),
  'bits.rsh': b(2, (a) => {
    const s = int(a, 1);
    if (s < 0) throw new BuiltinError('bits.rsh: shift must be non-negative');
    return normBig(toBig(a, 0) >> BigInt(s));
  }),
};
