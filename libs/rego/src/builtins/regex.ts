/** regex.* and glob.* (Go RE2 syntax mapped to JS RegExp; compiled patterns are cached). */
import type { Value } from '../value.js';
import { arr, int, str } from './check.js';
import { globToRegExp } from './glob.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

const cache = new Map<string, RegExp>();

/** Translates the RE2 features JS lacks: leading inline flags and \A, \z. */
export function compileRe(pattern: string, global = false): RegExp {
  const key = (global ? 'g' : '-') + pattern;
  const hit = cache.get(key);
  if (hit) return hit;
  let src = pattern;
  let flags = global ? 'gu' : 'u';
  const m = /^\(\?([imsU]+)\)/.exec(src);
  if (m) {
    for (const f of m[1] as string) if (f !== 'U' && !flags.includes(f)) flags += f;
    src = src.slice(m[0].length);
  }
  src = src.replace(/\\A/g, '^').replace(/\\z/g, '$').replace(/\(\?P</g, '(?<');
  let re: RegExp;
  try {
    re = new RegExp(src, flags);
  } catch {
    try {
      re = new RegExp(src, flags.replace('u', ''));
    } catch (e) {
      throw new BuiltinError(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`);
    }
  }
  if (cache.size > 1000) cache.clear();
  cache.set(key, re);
  return re;
}

function findN(re: RegExp, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(s); m && (n < 0 || out.length < n); m = re.exec(s)) {
    out.push(m);
    if (m[0] === '') re.lastIndex++;
  }
  return out;
}

const match = b(2, (a) => compileRe(str(a, 0)).test(str(a, 1)));

export const REGEX: Table = {
  'regex.match': match,
  re_match: match,
  'regex.is_valid': b(1, (a) => {
    if (typeof a[0] !== 'string') return false;
    try {
      compileRe(a[0]);
      return true;
    } catch {
      return false;
    }
  }),
  'regex.find_n': b(3, (a) => findN(compileRe(str(a, 0), true), str(a, 1), int(a, 2)).map((m) => m[0])),
  'regex.find_all_string_submatch_n': b(3, (a) =>
    findN(compileRe(str(a, 0), true), str(a, 1), int(a, 2)).map((m) => [...m].map((g) => g ?? '')),
  ),
  'regex.replace': b(3, (a) => {
    const repl = str(a, 2).replace(/\$\{(\w+)\}|\$(\d+)/g, (_m, n: string | undefined, d: string | undefined) => `$${n ?? d}`);
    return str(a, 0).replace(compileRe(str(a, 1), true), repl);
  }),
  'regex.split': b(2, (a) => str(a, 1).split(compileRe(str(a, 0), true))),
  'glob.match': b(3, (a) => {
    const d = a[1] as Value;
    let delims: string[];
    if (d === null) delims = []; // null: `*` may cross anything; [] means the default "." 
    else {
      delims = arr(a, 1).map((x) => {
        if (typeof x !== 'string') throw new BuiltinError('glob.match: delimiters must be strings');
        return x;
      });
      if (delims.length === 0) delims = ['.'];
    }
    return globToRegExp(str(a, 0), delims).test(str(a, 2));
  }),
  'glob.quote_meta': b(1, (a) => str(a, 0).replace(/[*?\\[\]{}]/g, (c) => '\\' + c)),
};
