/** Text forms of values: `print` output and sprintf's %v (strings quoted when nested). */
import type { Value } from './value.js';
import { RObject, RSet } from './value.js';

export function formatNumber(n: number | bigint): string {
  if (typeof n === 'bigint') return String(n);
  if (Object.is(n, -0)) return '0';
  return String(n);
}

/**
 * Text of composite values, memoized by identity: values are immutable once built and
 * policies print the same large objects (OCI specs, policy data) over and over.
 */
const memo = new WeakMap<object, string>();

/** `top`: a top-level string prints raw; inside collections strings are JSON-quoted. */
export function formatPrint(v: Value, top: boolean): string {
  if (v !== null && typeof v === 'object') {
    let s = memo.get(v);
    if (s === undefined) {
      s = formatComposite(v);
      memo.set(v, s);
    }
    return s;
  }
  return formatScalar(v, top);
}

function formatScalar(v: null | boolean | number | bigint | string, top: boolean): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return top ? v : JSON.stringify(v);
    case 'number':
    case 'bigint':
      return formatNumber(v);
    case 'boolean':
      return String(v);
  }
}

function formatComposite(v: Value[] | RObject | RSet): string {
  if (Array.isArray(v)) return '[' + v.map((x) => formatPrint(x, false)).join(', ') + ']';
  if (v instanceof RSet) return '{' + v.sorted().map((x) => formatPrint(x, false)).join(', ') + '}';
  const o = v as RObject;
  return '{' + o.sortedKeys().map((k) => formatPrint(k, false) + ': ' + formatPrint(o.get(k) as Value, false)).join(', ') + '}';
}
