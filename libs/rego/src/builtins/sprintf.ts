/** Go-style fmt for sprintf: %v %s %d %f %e %g %x %X %o %b %q %t %c %%, widths and precision. */
import type { Value } from '../value.js';
import { formatNumber, formatPrint } from '../format.js';
import { typeName } from '../value.js';
import { BuiltinError } from './types-api.js';

function pad(s: string, width: number | undefined, left: boolean, zero: boolean): string {
  if (width === undefined || s.length >= width) return s;
  if (left) return s + ' '.repeat(width - s.length);
  if (zero) {
    const neg = s.startsWith('-');
    const body = neg ? s.slice(1) : s;
    return (neg ? '-' : '') + '0'.repeat(width - s.length) + body;
  }
  return ' '.repeat(width - s.length) + s;
}

function bad(verb: string, v: Value): string {
  return `%!${verb}(${typeName(v)}=${formatPrint(v, true)})`;
}

function one(verb: string, arg: Value, prec: number | undefined, plus: boolean): string {
  // Float verbs print big integers as doubles (Go would too after float64 conversion).
  const v = typeof arg === 'bigint' && 'fFeg'.includes(verb) ? Number(arg) : arg;
  switch (verb) {
    case 'v':
    case 's':
      return formatPrint(v, true);
    case 'd':
      if (typeof v === 'bigint') return (plus && v >= 0n ? '+' : '') + String(v);
      if (typeof v !== 'number' || !Number.isInteger(v)) return bad(verb, v);
      return (plus && v >= 0 ? '+' : '') + formatNumber(v);
    case 'f':
    case 'F':
      if (typeof v !== 'number') return bad(verb, v);
      // Without a precision regorus prints the shortest form (3.14, not 3.140000).
      return (plus && v >= 0 ? '+' : '') + (prec === undefined ? formatNumber(v) : v.toFixed(prec));
    case 'e':
      if (typeof v !== 'number') return bad(verb, v);
      return v.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
    case 'g':
      if (typeof v !== 'number') return bad(verb, v);
      return prec === undefined ? formatNumber(v) : String(Number(v.toPrecision(prec)));
    case 'x':
    case 'X': {
      let s: string;
      if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) s = v.toString(16);
      else if (typeof v === 'string') s = Buffer.from(v, 'utf8').toString('hex');
      else return bad(verb, v);
      return verb === 'X' ? s.toUpperCase() : s;
    }
    case 'o':
      return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)) ? '0O' + v.toString(8) : bad(verb, v);
    case 'b':
      return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)) ? v.toString(2) : bad(verb, v);
    case 'q':
      return typeof v === 'string' ? JSON.stringify(v) : bad(verb, v);
    case 't':
      return typeof v === 'boolean' ? String(v) : bad(verb, v);
    case 'c':
      return typeof v === 'number' ? String.fromCodePoint(v) : bad(verb, v);
    default:
      return `%!${verb}(${typeName(v)}=${formatPrint(v, true)})`;
  }
}

export function sprintf(fmt: string, args: Value[]): string {
  let out = '';
  let ai = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i] as string;
    if (c !== '%') {
      out += c;
      continue;
    }
    let j = i + 1;
    let left = false;
    let zero = false;
    let plus = false;
    for (; j < fmt.length && '-+0 #'.includes(fmt[j] as string); j++) {
      if (fmt[j] === '-') left = true;
      else if (fmt[j] === '0') zero = true;
      else if (fmt[j] === '+') plus = true;
    }
    let width: number | undefined;
    const wm = /^\d+/.exec(fmt.slice(j));
    if (wm) {
      width = Number(wm[0]);
      j += wm[0].length;
    }
    let prec: number | undefined;
    if (fmt[j] === '.') {
      const pm = /^\d*/.exec(fmt.slice(j + 1)) as RegExpExecArray;
      prec = Number(pm[0] || '0');
      j += 1 + pm[0].length;
    }
    const verb = fmt[j];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    i = j;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (ai >= args.length) throw new BuiltinError(`no argument specified for format verb ${ai}`);
    out += pad(one(verb, args[ai++] as Value, prec, plus), width, left, zero);
  }
  if (ai < args.length) out += '%!(EXTRA ' + args.slice(ai).map((v) => `${typeName(v)}=${formatPrint(v, true)}`).join(', ') + ')';
  return out;
}
