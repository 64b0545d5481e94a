/** Glob patterns (gobwas/glob syntax used by OPA): * ? ** [abc] [!a-z] {a,b} with delimiters. */
import { BuiltinError } from './types-api.js';

const cache = new Map<string, RegExp>();
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

export function globToRegExp(pattern: string, delims: string[]): RegExp {
  const key = delims.join('\u0000') + '\u0001' + pattern;
  const hit = cache.get(key);
  if (hit) return hit;
  const notDelim = delims.length ? `[^${delims.map(esc).join('')}]` : '[\\s\\S]';
  let out = '';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const n = pattern[++i];
      if (n === undefined) throw new BuiltinError('glob: trailing backslash');
      out += esc(n);
    } else if (c === '*') {
      if (pattern[i + 1] === '*') {
        out += '[\\s\\S]*';
        i++;
      } else out += `${notDelim}*`;
    } else if (c === '?') out += notDelim;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new BuiltinError('glob: unterminated [');
      let body = pattern.slice(i + 1, end);
      const neg = body.startsWith('!');
      if (neg) body = body.slice(1);
      out += `[${neg ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]')}]`;
      i = end;
    } else if (c === '{') {
      depth++;
      out += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      out += ')';
    } else if (c === ',' && depth > 0) out += '|';
    else out += esc(c);
  }
  if (depth !== 0) throw new BuiltinError('glob: unbalanced {');
  const re = new RegExp(`^${out}$`);
  if (cache.size > 1000) cache.clear();
  cache.set(key, re);
  return re;
}
