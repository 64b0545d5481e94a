/** Array, set and object literals and comprehensions (with regorus' `|` disambiguation). */
import { isKccError } from '@kata-cc/errors';
import type { Literal, Term } from './ast.js';
import { TermParser } from './parse-term.js';

export abstract class ExprParser extends TermParser {
  /**
   * After `[head |` or `{head |`: the comprehension body, or undefined when what follows is
   * not one (`[x | y, 5]` is an array holding the union `x | y`, as regorus reads it).
   */
  private tryComprBody(head: Term, close: string): Literal[] | undefined {
    if (head.t === 'call' && head.op && !this.parens.has(head)) return undefined;
    const save = { pos: this.pos, nest: this.nest, bar: this.stopAtBar };
    try {
      this.pos++;
      const body = this.parseBody(close);
      this.expect(close);
      return body;
    } catch (e) {
      if (!isKccError(e) || e.code !== 'RGO_PARSE') throw e;
      this.pos = save.pos;
      this.nest = save.nest;
      this.stopAtBar = save.bar;
      return undefined;
    }
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
