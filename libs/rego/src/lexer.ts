/** Tokenizer for Rego source. Tokens remember whether a newline preceded them (bodies end literals at newlines). */
import { rgoError } from './errors.js';

export type TokKind = 'ident' | 'string' | 'rawstring' | 'number' | 'punct' | 'eof';

export interface Token {
  kind: TokKind;
  text: string;
  /** Decoded value of string literals. */
  value: string;
  line: number;
  col: number;
  nl: boolean;
}

const PUNCT2 = new Set([':=', '==', '!=', '<=', '>=']);
const PUNCT1 = new Set(['{', '}', '[', ']', '(', ')', ',', ';', '.', ':', '=', '<', '>', '+', '-', '*', '/', '%', '|', '&']);

function isIdStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function tokenize(src: string, file: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let nl = true;
  const n = src.length;
  const fail = (msg: string, at: number): never => {
    throw rgoError('RGO_PARSE', `${file}:${line}:${at - lineStart + 1}: ${msg}`, { file, line, col: at - lineStart + 1 });
  };
  while (i < n) {
    const c = src.charCodeAt(i);
    // A NUL ends the source (C-string style files, e.g. the kata corpus' large.rego).
    if (c === 0) break;
    if (c === 10) {
      i++;
      line++;
      lineStart = i;
      nl = true;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    if (c === 35) {
      while (i < n && src.charCodeAt(i) !== 10) i++;
      continue;
    }
    const start = i;
    const col = i - lineStart + 1;
    const push = (kind: TokKind, text: string, value = text): void => {
      toks.push({ kind, text, value, line, col, nl });
      nl = false;
    };
    if (isIdStart(c)) {
      while (i < n && (isIdStart(src.charCodeAt(i)) || isDigit(src.charCodeAt(i)))) i++;
      push('ident', src.slice(start, i));
      continue;
    }
    if (isDigit(c)) {
      while (i < n && isDigit(src.charCodeAt(i))) i++;
      if (src[i] === '.' && isDigit(src.charCodeAt(i + 1))) {
        i++;
        while (i < n && isDigit(src.charCodeAt(i))) i++;
      }
      if (src[i] === 'e' || src[i] === 'E') {
        let j = i + 1;
        if (src[j] === '+' || src[j] === '-') j++;
        if (isDigit(src.charCodeAt(j))) {
          i = j;
          while (i < n && isDigit(src.charCodeAt(i))) i++;
        }
      }
      if (i < n && isIdStart(src.charCodeAt(i))) fail(`invalid number literal`, start);
      push('number', src.slice(start, i));
      continue;
    }
    if (c === 34) {
      i++;
      let out = '';
      for (;;) {
        if (i >= n || src.charCodeAt(i) === 10) fail('unterminated string: expected closing "', start);
        const d = src[i] as string;
        if (d === '"') break;
        if (d === '\\') {
          const e = src[i + 1];
          const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
          if (e === 'u') {
            const hex = src.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape in string', i);
            out += String.fromCharCode(parseInt(hex, 16));
            i += 6;
            continue;
          }
          const m = e === undefined ? undefined : map[e];
          if (m === undefined) fail(`invalid escape sequence \\${e ?? ''} in string`, i);
          out += m;
          i += 2;
          continue;
        }
        out += d;
        i++;
      }
      i++;
      push('string', src.slice(start, i), out);
      continue;
    }
    if (c === 96) {
      const end = src.indexOf('`', i + 1);
      if (end < 0) fail('unterminated raw string: expected closing `', start);
      const raw = src.slice(i + 1, end);
      push('rawstring', src.slice(start, end + 1), raw);
      for (let k = i; k < end; k++) {
        if (src.charCodeAt(k) === 10) {
          line++;
          lineStart = k + 1;
        }
      }
      i = end + 1;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (PUNCT2.has(two)) {
      i += 2;
      push('punct', two);
      continue;
    }
    const one = src[i] as string;
    if (PUNCT1.has(one)) {
      i++;
      push('punct', one);
      continue;
    }
    fail(`unexpected character ${JSON.stringify(one)}`, i);
  }
  toks.push({ kind: 'eof', text: '<eof>', value: '', line, col: i - lineStart + 1, nl: true });
  return toks;
}
