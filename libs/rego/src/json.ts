/**
 * JSON text <-> JS values that keep integers beyond 2^53 exact (as `bigint`), for input and
 * data files (`kbs-cli policy eval`), json.unmarshal and the results of `bigints: true`.
 * Text without a run of 16+ digits cannot hold such an integer and takes JSON.parse.
 */
import { randomBytes } from 'node:crypto';

const BIG_DIGITS = /\d{16,}/;

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

export class JsonSyntaxError extends SyntaxError {}

/** Parses JSON; integers beyond the safe range become `bigint`, everything else as JSON.parse. */
export function parseJson(text: string): unknown {
  if (!BIG_DIGITS.test(text)) return JSON.parse(text) as unknown;
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (p.i !== text.length) p.fail('unexpected trailing text');
  return v;
}

class Parser {
  i = 0;
  private readonly s: string;
  constructor(s: string) {
    this.s = s;
  }

  fail(msg: string): never {
    throw new JsonSyntaxError(`${msg} in JSON at position ${this.i}`);
  }
  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i] as string)) this.i++;
  }
  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    return this.fail('unexpected token');
  }
  object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const k = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') this.fail('expected `:`');
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected `,` or `}`');
    }
  }
  array(): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected `,` or `]`');
    }
  }
  string(): string {
    STRING.lastIndex = this.i;
    const m = STRING.exec(this.s);
    if (!m) return this.fail('bad string');
    this.i += m[0].length;
    return JSON.parse(m[0]) as string;
  }
  number(): number | bigint {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) return this.fail('bad number');
    this.i += m[0].length;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return BigInt(m[0]);
    return n;
  }
}

/** JSON text of a JS value that may hold `bigint`s (printed exactly, as digits). */
export function toJsonText(value: unknown, indent?: number): string {
  const marks: string[] = [];
  // A per-call nonce, so no string value can pose as a placeholder.
  const nonce = randomBytes(8).toString('hex');
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${nonce}:${marks.push(String(v)) - 1}` : v), indent);
  if (marks.length === 0) return text;
  return text.replace(new RegExp(`"${nonce}:(\\d+)"`, 'g'), (_m, i: string) => marks[Number(i)] as string);
}
