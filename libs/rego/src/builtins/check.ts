/** Argument checks shared by builtins: they throw BuiltinError with regorus-like messages. */
import { formatPrint } from '../format.js';
import type { Value } from '../value.js';
import { RObject, RSet } from '../value.js';
import { BuiltinError } from './types-api.js';

/** Name of the builtin being called (set by the evaluator; builtins are synchronous). */
let current = '';
export function setCurrent(name: string): void {
  current = name;
}
export function fail(msg: string): never {
  throw new BuiltinError(`\`${current}\` ${msg}`);
}
function bad(want: string, got: Value): never {
  return fail(`expects ${want} argument. Got \`${formatPrint(got, false)}\` instead`);
}
export function str(args: Value[], i: number): string {
  const v = args[i] as Value;
  return typeof v === 'string' ? v : bad('string', v);
}
export function num(args: Value[], i: number): number {
  const v = args[i] as Value;
  // Big integers reach number-only builtins (indices, bases, widths) as the nearest double.
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : bad('numeric', v);
}
/** A number argument kept exact (bigint for big integers). */
export function numeric(args: Value[], i: number): number | bigint {
  const v = args[i] as Value;
  return typeof v === 'number' || typeof v === 'bigint' ? v : bad('numeric', v);
}
export function int(args: Value[], i: number): number {
  const n = num(args, i);
  if (!Number.isInteger(n)) fail(`expects integer argument. Got \`${formatPrint(n, false)}\`: must be integer`);
  return n;
}
/** Like int(), but a fractional number just makes the call undefined. */
export function softInt(args: Value[], i: number): number {
  const n = num(args, i);
  if (!Number.isInteger(n)) throw new BuiltinError(`\`${current}\` expects integer argument: must be integer`, false, true);
  return n;
}
export function arr(args: Value[], i: number): Value[] {
  const v = args[i] as Value;
  return Array.isArray(v) ? v : bad('array', v);
}
export function obj(args: Value[], i: number): RObject {
  const v = args[i] as Value;
  return v instanceof RObject ? v : bad('object', v);
}
export function set(args: Value[], i: number): RSet {
  const v = args[i] as Value;
  return v instanceof RSet ? v : bad('set', v);
}
export function bool(args: Value[], i: number): boolean {
  const v = args[i] as Value;
  return typeof v === 'boolean' ? v : bad('boolean', v);
}
/** Elements of an array or set. */
export function coll(args: Value[], i: number): Value[] {
  const v = args[i] as Value;
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.sorted();
  return fail(`requires array/set argument. Got \`${formatPrint(v, false)}\` instead`);
}
