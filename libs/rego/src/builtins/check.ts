/** Argument checks shared by builtins: they throw BuiltinError with OPA-like messages. */
import type { Value } from '../value.js';
import { RObject, RSet, typeName } from '../value.js';
import { BuiltinError } from './types-api.js';

function bad(pos: number, want: string, got: Value): never {
  throw new BuiltinError(`operand ${pos} must be ${want} but got ${typeName(got)}`);
}
export function str(args: Value[], i: number): string {
  const v = args[i] as Value;
  return typeof v === 'string' ? v : bad(i + 1, 'string', v);
}
export function num(args: Value[], i: number): number {
  const v = args[i] as Value;
  return typeof v === 'number' ? v : bad(i + 1, 'number', v);
}
export function int(args: Value[], i: number): number {
  const n = num(args, i);
  if (!Number.isInteger(n)) throw new BuiltinError(`operand ${i + 1} must be integer number but got floating-point number`);
  return n;
}
export function arr(args: Value[], i: number): Value[] {
  const v = args[i] as Value;
  return Array.isArray(v) ? v : bad(i + 1, 'array', v);
}
export function obj(args: Value[], i: number): RObject {
  const v = args[i] as Value;
  return v instanceof RObject ? v : bad(i + 1, 'object', v);
}
export function set(args: Value[], i: number): RSet {
  const v = args[i] as Value;
  return v instanceof RSet ? v : bad(i + 1, 'set', v);
}
export function bool(args: Value[], i: number): boolean {
  const v = args[i] as Value;
  return typeof v === 'boolean' ? v : bad(i + 1, 'boolean', v);
}
/** Elements of an array or set. */
export function coll(args: Value[], i: number): Value[] {
  const v = args[i] as Value;
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.sorted();
  return bad(i + 1, 'one of {array, set}', v);
}
