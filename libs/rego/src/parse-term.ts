/** Recursive-descent parser for Rego terms, expressions and body literals. */
import { normBig, numFromText } from './numeric.js';
import type { Expr, Literal, Loc, Term, VarTerm, WithMod } from './ast.js';
import type { Token } from './lexer.js';
import { tokenize } from './lexer.js';
import { rgoError } from './errors.js';

const RELATIONS: Record<string, string> = { '==': 'equal', '!=': 'neq', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' };
const KEYWORDS = new Set(['not', 'some', 'every', 'with', 'as', 'default', 'else', 'package', 'import', 'if', 'in']);

export abstract class TermParser {
  protected toks: Token[];
  protected pos = 0;
  /** > 0 inside (), [] and {} of terms, where newlines do not end a literal. */
  protected nest = 0;
  protected stopAtBar = false;
  /** Terms written in parentheses: `(x - y) | ...` may start a comprehension, `x - y | ...` not. */
  protected readonly parens = new WeakSet<Term>();
  private wildcard = 0;

  readonly file: string;

  constructor(src: string, file: string) {
    this.file = file;
    this.toks = tokenize(src, file);
  }

  protected get tok(): Token {
    return this.toks[this.pos] as Token;
  }
  protected peek(k = 1): Token {
    return (this.toks[this.pos + k] ?? this.toks[this.toks.length - 1]) as Token;
  }
  protected loc(t: Token = this.tok): Loc {
    return { file: this.file, line: t.line, col: t.col };
  }
  protected fail(expected: string, t: Token = this.tok): never {
    const found = t.kind === 'eof' ? 'end of file' : JSON.stringify(t.text);
    throw rgoError('RGO_PARSE', `${this.file}:${t.line}:${t.col}: expecting ${expected}, found ${found}`, {
      file: this.file,
      line: t.line,
      col: t.col,
    });
  }
  protected is(text: string, t: Token = this.tok): boolean {
    return (t.kind === 'punct' || t.kind === 'ident') && t.text === text;
  }
  protected eat(text: string): boolean {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }
  protected expect(text: string, what = '`' + text + '`'): Token {
    if (!this.is(text)) this.fail(what);
    return this.toks[this.pos++] as Token;
  }
  /** True when the current token starts a new line of a body (ends the current literal). */
  protected atLineBreak(): boolean {
    return this.nest === 0 && this.tok.nl;
  }

  // ---- body -------------------------------------------------------------------------

  /** Literals until `close` (exclusive), separated by `;` or newlines. */
  parseBody(close: string): Literal[] {
    const saved = this.nest;
    const savedBar = this.stopAtBar;
    this.nest = 0;
    this.stopAtBar = false;
    const lits: Literal[] = [];
    while (!this.is(close)) {
      if (this.tok.kind === 'eof') this.fail(close === '\u0000end' ? 'EOF' : '`' + close + '`');
      lits.push(this.parseLiteral());
      if (this.eat(';')) continue;
      if (!this.is(close) && !this.tok.nl) this.fail(close === '\u0000end' ? 'EOF' : '`;`, a newline or `' + close + '` after literal');
    }
    this.nest = saved;
    this.stopAtBar = savedBar;
    if (lits.length === 0) this.fail('at least one literal in body');
    return lits;
  }

  parseLiteral(): Literal {
    const start = this.tok;
    const loc = this.loc();
    if (this.is('some') && start.kind === 'ident') {
      this.pos++;
      const terms: Term[] = [this.parseRelation()];
      while (this.is(',') && !this.atLineBreak()) {
        this.pos++;
        terms.push(this.parseRelation());
      }
      if (this.eat('in')) {
        if (terms.length > 2) this.fail('at most two terms (key, value) before `in`');
        const coll = this.parseRelation();
        return { k: 'somein', key: terms.length === 2 ? terms[0] : undefined, value: terms[terms.length - 1] as Term, coll, loc };
      }
      const names: VarTerm[] = [];
      for (const t of terms) {
        if (t.t !== 'var') this.fail('variable name after `some`', start);
        names.push(t);
      }
      return { k: 'some', names, loc };
    }
    if (this.is('every')) {
      this.pos++;
      const first = this.parseRelation();
      let key: Term | undefined;
      let value = first;
      if (this.eat(',')) {
        key = first;
        value = this.parseRelation();
      }
      this.expect('in', '`in` after every variables');
      const coll = this.parseRelation();
      this.expect('{', '`{` to open every body');
      const body = this.parseBody('}');
      this.expect('}');
      return { k: 'every', key, value, coll, body, loc };
    }
    let negated = false;
    if (this.is('not') && this.tok.kind === 'ident') {
      this.pos++;
      negated = true;
    }
    const expr = this.parseExpr();
    const withs: WithMod[] = [];
    while (this.is('with') && this.tok.kind === 'ident') {
      this.pos++;
      const target = this.parsePostfix();
      this.expect('as', '`as` in with modifier');
      const value = this.parseIn();
      withs.push({ target, value });
    }
    return { k: 'expr', expr, negated, withs, loc };
  }

  parseExpr(): Expr {
    const lhs = this.parseIn();
    if (this.is(':=') && !this.atLineBreak()) {
      this.pos++;
      return { e: 'assign', lhs, rhs: this.parseIn() };
    }
    if (this.is('=') && !this.atLineBreak()) {
      this.pos++;
      return { e: 'unify', lhs, rhs: this.parseIn() };
    }
    return { e: 'term', term: lhs };
  }

  // ---- terms by precedence ----------------------------------------------------------

  private infixOk(): boolean {
    return !this.atLineBreak();
  }

  /** `x in xs` and `k, v in xs` (the latter only at literal level). */
  parseIn(): Term {
    const loc = this.loc();
    let lhs = this.parseRelation();
    if (this.nest === 0 && this.is(',') && !this.atLineBreak()) {
      // `k, v in xs` as a bare literal
      const save = this.pos;
      this.pos++;
      const mid = this.parseRelation();
      if (this.is('in')) {
        this.pos++;
        const coll = this.parseRelation();
        return { t: 'call', name: 'internal.member_3', args: [lhs, mid, coll], loc, op: true };
      }
      this.pos = save;
    }
    while (this.is('in') && this.tok.kind === 'ident' && this.infixOk()) {
      this.pos++;
      const rhs = this.parseRelation();
      lhs = { t: 'call', name: 'internal.member_2', args: [lhs, rhs], loc, op: true };
    }
    return lhs;
  }

  parseRelation(): Term {
    let lhs = this.parseOr();
    for (;;) {
      const op = this.tok.kind === 'punct' ? RELATIONS[this.tok.text] : undefined;
      if (op === undefined || !this.infixOk()) return lhs;
      const loc = this.loc();
      this.pos++;
      lhs = { t: 'call', name: op, args: [lhs, this.parseOr()], loc, op: true };
    }
  }
  private parseOr(): Term {
    let lhs = this.parseAnd();
    while (this.is('|') && !this.stopAtBar && this.infixOk()) {
      const loc = this.loc();
      this.pos++;
      lhs = { t: 'call', name: 'or', args: [lhs, this.parseAnd()], loc, op: true };
    }
    return lhs;
  }
  private parseAnd(): Term {
    let lhs = this.parseArith();
    while (this.is('&') && this.infixOk()) {
      const loc = this.loc();
      this.pos++;
      lhs = { t: 'call', name: 'and', args: [lhs, this.parseArith()], loc, op: true };
    }
    return lhs;
  }
  private parseArith(): Term {
    let lhs = this.parseFactor();
    while ((this.is('+') || this.is('-')) && this.infixOk()) {
      const loc = this.loc();
      const name = this.tok.text === '+' ? 'plus' : 'minus';
      this.pos++;
      lhs = { t: 'call', name, args: [lhs, this.parseFactor()], loc, op: true };
    }
    return lhs;
  }
  private parseFactor(): Term {
    let lhs = this.parseUnary();
    while ((this.is('*') || this.is('/') || this.is('%')) && this.infixOk()) {
      const loc = this.loc();
      const name = this.tok.text === '*' ? 'mul' : this.tok.text === '/' ? 'div' : 'rem';
      this.pos++;
      lhs = { t: 'call', name, args: [lhs, this.parseUnary()], loc, op: true };
    }
    return lhs;
  }
  private parseUnary(): Term {
    if (this.is('-') && this.tok.kind === 'punct') {
      const loc = this.loc();
      this.pos++;
      const numTok = this.peek(0).kind === 'number';
      const t = this.parseUnary();
      if (numTok && t.t === 'scalar' && (typeof t.v === 'number' || typeof t.v === 'bigint')) return { t: 'scalar', v: typeof t.v === 'bigint' ? normBig(-t.v) : -t.v, loc };
      return { t: 'call', name: 'minus', args: [{ t: 'scalar', v: 0, loc }, t], loc, op: true, unary: true };
    }
    return this.parsePostfix();
  }

  /** A primary followed by `.x`, `[t]` and `(args)` on the same line. */
  parsePostfix(): Term {
    const loc = this.loc();
    let term = this.parsePrimary();
    for (;;) {
      const t = this.tok;
      if (t.nl && this.nest === 0 && !this.is('.')) return term;
      if (this.is('.') && (this.peek().line !== t.line || this.peek().col !== t.col + 1)) {
        throw rgoError('RGO_PARSE', `${this.file}:${t.line}:${t.col}: invalid whitespace between . and identifier`, { file: this.file, line: t.line, col: t.col });
      }
      if (this.is('.') && this.peek().kind === 'ident' && !this.peek().nl) {
        this.pos++;
        const name = this.tok.text;
        this.pos++;
        term = this.extendRef(term, { t: 'scalar', v: name, loc: this.loc(t) }, loc);
      } else if (this.is('[') && !t.nl) {
        this.pos++;
        this.nest++;
        const saveBar = this.stopAtBar;
        this.stopAtBar = false;
        const key = this.parseIn();
        this.stopAtBar = saveBar;
        this.nest--;
        this.expect(']', '`]` to close ref');
        term = this.extendRef(term, key, loc);
      } else if (this.is('(') && !t.nl && (term.t === 'var' || term.t === 'ref')) {
        const name = this.callName(term);
        if (name === undefined) return term;
        this.pos++;
        const args = this.parseList(')');
        term = name === 'set' && args.length === 0 ? { t: 'set', items: [], loc } : { t: 'call', name, args, loc };
      } else {
        return term;
      }
    }
  }

  private extendRef(term: Term, key: Term, loc: Loc): Term {
    if (term.t === 'ref') return { t: 'ref', head: term.head, path: [...term.path, key], loc: term.loc };
    return { t: 'ref', head: term, path: [key], loc };
  }

  private callName(term: Term): string | undefined {
    if (term.t === 'var') return term.name;
    if (term.t !== 'ref' || term.head.t !== 'var') return undefined;
    const parts = [term.head.name];
    for (const p of term.path) {
      if (p.t !== 'scalar' || typeof p.v !== 'string') return undefined;
      parts.push(p.v);
    }
    return parts.join('.');
  }

  /** Comma separated terms until `close` (consumed); trailing comma allowed. */
  protected parseList(close: string): Term[] {
    this.nest++;
    const saveBar = this.stopAtBar;
    this.stopAtBar = false;
    const items: Term[] = [];
    while (!this.is(close)) {
      items.push(this.parseIn());
      if (!this.eat(',')) break;
    }
    this.expect(close, '`,` or `' + close + '`');
    this.stopAtBar = saveBar;
    this.nest--;
    return items;
  }

  private parsePrimary(): Term {
    const t = this.tok;
    const loc = this.loc();
    switch (t.kind) {
      case 'number':
        this.pos++;
        return { t: 'scalar', v: numFromText(t.text), loc };
      case 'string':
      case 'rawstring':
        this.pos++;
        return { t: 'scalar', v: t.value, loc };
      case 'ident': {
        if (t.text === 'true' || t.text === 'false') {
          this.pos++;
          return { t: 'scalar', v: t.text === 'true', loc };
        }
        if (t.text === 'null') {
          this.pos++;
          return { t: 'scalar', v: null, loc };
        }
        if (KEYWORDS.has(t.text) && t.text !== 'set') this.fail('a term');
        this.pos++;
        if (t.text === '_') return { t: 'var', name: `$_${this.wildcard++}`, loc };
        return { t: 'var', name: t.text, loc };
      }
      case 'punct':
        if (t.text === '(') {
          this.pos++;
          this.nest++;
          const saveBar = this.stopAtBar;
          this.stopAtBar = false;
          const inner = this.parseIn();
          this.stopAtBar = saveBar;
          this.nest--;
          this.expect(')', '`)`');
          this.parens.add(inner);
          return inner;
        }
        if (t.text === '[') return this.parseArray();
        if (t.text === '{') return this.parseBrace();
        break;
      default:
        break;
    }
    return this.fail('a term');
  }

  protected abstract parseArray(): Term;
  protected abstract parseBrace(): Term;
}
