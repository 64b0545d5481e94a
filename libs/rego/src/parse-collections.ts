/** Array, set and object literals and comprehensions (with regorus' `|` disambiguation). */
import { isKccError } from '@kata-cc/errors';
import type { Literal, Term } from './ast.js';
import { TermParser } from './parse-term.js';
import { rgoError } from './errors.js';

export abstract class ExprParser extends TermParser {
  /**
   * After `[head |` or `{head |`: the comprehension body, or undefined when what follows is
   * not one (`[x | y, 5]` is an array holding the union `x | y`, as regorus reads it).
   */
  private tryComprBody(head: Term, close: string): Literal[] | undefined {
    const opHead = head.t === 'call' && head.op && !this.parens.has(head);
    const save = { pos: this.pos, nest: this.nest, bar: this.stopAtBar };
    try {
      this.pos++;
      const bodyStart = this.pos;
      const body = this.parseBody(close);
      this.expect(close);
      // An operator head (`[x + 1 | ...]`) is a comprehension when the body binds a variable
      // the head uses and is not a `,` list (OPA); otherwise it is regorus' array of a union
      // (`[q & {1} | {true}]`, `[x - {10} | y, 5 in {5}]`).
      if (opHead && (this.hasTopComma(bodyStart, this.pos) || !sharesVar(head, body))) throw rgoError('RGO_PARSE', 'not a comprehension');
      return body;
    } catch (e) {
      if (!isKccError(e) || e.code !== 'RGO_PARSE') throw e;
      this.pos = save.pos;
      this.nest = save.nest;
      this.stopAtBar = save.bar;
      return undefined;
    }
  }

  private hasTopComma(from: number, to: number): boolean {
    let depth = 0;
    for (let i = from; i < to - 1; i++) {
      const t = this.toks[i];
      if (!t || t.kind !== 'punct') continue;
      if ('([{'.includes(t.text)) depth++;
      else if (')]}'.includes(t.text)) depth--;
      else if (t.text === ',' && depth === 0) return true;
    }
    return false;
  }

  protected parseArray(): Term {
    const loc = this.loc();
    const start = this.pos;
    this.pos++;
    if (this.eat(']')) return { t: 'array', items: [], loc };
    this.nest++;
    const saveBar = this.stopAtBar;
    this.stopAtBar = true;
    const head = this.parseIn();
    this.stopAtBar = saveBar;
    if (this.is('|')) {
      const body = this.tryComprBody(head, ']');
      this.nest--;
      if (body) return { t: 'arraycompr', head, body, loc };
      this.pos = start + 1;
      return { t: 'array', items: this.parseList(']'), loc };
    }
    this.nest--;
    if (this.eat(']')) return { t: 'array', items: [head], loc };
    this.expect(',', '`,` or `]`');
    return { t: 'array', items: [head, ...this.parseList(']')], loc };
  }

  protected parseBrace(): Term {
    const loc = this.loc();
    const start = this.pos;
    this.pos++;
    if (this.eat('}')) return { t: 'object', entries: [], loc };
    this.nest++;
    const saveBar = this.stopAtBar;
    this.stopAtBar = true;
    const first = this.parseIn();
    if (this.eat(':')) {
      const value = this.parseIn();
      this.stopAtBar = saveBar;
      if (this.eat('|')) {
        const body = this.parseBody('}');
        this.nest--;
        this.expect('}');
        return { t: 'objcompr', key: first, value, body, loc };
      }
      this.stopAtBar = false;
      const entries: Array<[Term, Term]> = [[first, value]];
      while (this.eat(',')) {
        if (this.is('}')) break;
        const k = this.parseIn();
        this.expect(':', '`:` in object');
        entries.push([k, this.parseIn()]);
      }
      this.stopAtBar = saveBar;
      this.nest--;
      this.expect('}', '`,` or `}`');
      return { t: 'object', entries, loc };
    }
    this.stopAtBar = saveBar;
    if (this.is('|')) {
      const body = this.tryComprBody(first, '}');
      this.nest--;
      if (body) return { t: 'setcompr', head: first, body, loc };
      this.pos = start + 1;
      return { t: 'set', items: this.parseList('}'), loc };
    }
    this.nest--;
    if (this.eat('}')) return { t: 'set', items: [first], loc };
    this.expect(',', '`,` or `}`');
    return { t: 'set', items: [first, ...this.parseList('}')], loc };
  }
}

function varsOf(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const n of node) varsOf(n, out);
  else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o['t'] === 'var' && typeof o['name'] === 'string') out.add(o['name']);
    for (const k in o) if (k !== 'loc') varsOf(o[k], out);
  }
  return out;
}

function sharesVar(head: Term, body: Literal[]): boolean {
  const inBody = varsOf(body, new Set());
  for (const v of varsOf(head, new Set())) if (v !== '_' && inBody.has(v)) return true;
  return false;
}
