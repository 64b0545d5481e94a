/** Module-level Rego parser: package, imports and rules (v0 and v1 syntax). */
import type { Import, Literal, Loc, Module, Rule, RuleKind, Term } from './ast.js';
import { rgoError } from './errors.js';
import { isKccError } from '@kata-cc/errors';
import type { Token } from './lexer.js';
import { ExprParser } from './parse-collections.js';

const TRUE = (loc: Loc): Term => ({ t: 'scalar', v: true, loc });

export function parseModule(src: string, file: string, defaultV1: boolean): Module {
  return new ModuleParser(src, file).parseModule(defaultV1);
}

class ModuleParser extends ExprParser {
  private v1 = true;

  parseModule(defaultV1: boolean): Module {
    if (!this.is('package')) this.fail('`package` declaration');
    this.pos++;
    const pkgTerm = this.parsePostfix();
    const pkg = this.refToPath(pkgTerm, 'package name');
    const imports: Import[] = [];
    let sawRegoV1 = false;
    let sawFuture = false;
    while (this.is('import') && this.tok.kind === 'ident') {
      const loc = this.loc();
      this.pos++;
      const path = this.refToPath(this.parsePostfix(), 'import path');
      let alias = path[path.length - 1] as string;
      if (this.is('as') && !this.tok.nl) {
        this.pos++;
        alias = this.tok.text;
        this.pos++;
      }
      const head = path[0];
      if (head === 'rego') {
        if (path.length !== 2 || path[1] !== 'v1') this.failAt(loc, 'invalid import, must be `rego.v1`');
        if (sawRegoV1 || sawFuture) this.failAt(loc, 'this import shadows previous import of `rego.v1`');
        sawRegoV1 = true;
        continue;
      }
      if (head === 'future') {
        if (path[1] !== 'keywords' || path.length > 3) this.failAt(loc, 'invalid import, must be `future.keywords`');
        if (sawRegoV1) this.failAt(loc, 'this import shadows previous import of `rego.v1`');
        sawFuture = true;
        continue;
      }
      if (head !== 'data' && head !== 'input') this.failAt(loc, 'import path must begin with one of: {data, input}');
      imports.push({ path, alias, loc });
    }
    this.v1 = sawRegoV1 || (!sawFuture && defaultV1);
    const rules: Rule[] = [];
    while (this.tok.kind !== 'eof') {
      if (this.is('import')) this.failAt(this.loc(), 'unexpected keyword `import`: imports must come before rules');
      rules.push(...this.parseRule());
    }
    return { file: this.file, pkg, imports, rules, v1: this.v1 };
  }

  private failAt(loc: Loc, msg: string): never {
    throw rgoError('RGO_PARSE', `${loc.file}:${loc.line}:${loc.col}: ${msg}`, { ...loc });
  }

  private refToPath(t: Term, what: string): string[] {
    if (t.t === 'var') return [t.name];
    if (t.t === 'ref' && t.head.t === 'var') {
      const out = [t.head.name];
      for (const p of t.path) {
        if (p.t !== 'scalar' || typeof p.v !== 'string') this.failAt(p.loc, `${what} must be a dotted path`);
        out.push(p.v);
      }
      return out;
    }
    return this.failAt(t.loc, `${what} must be a dotted path`);
  }

  private parseRule(): Rule[] {
    const loc = this.loc();
    const isDefault = this.is('default') && this.tok.kind === 'ident';
    if (isDefault) this.pos++;
    if (this.tok.kind !== 'ident') this.fail('rule name');
    const headRef = this.parsePostfix();
    let args: Term[] | undefined;
    let target = headRef;
    if (headRef.t === 'call') {
      args = headRef.args;
      target = this.nameTerm(headRef.name, headRef.loc);
    }
    // Split the head ref into a static path and the keys after its first non-string part.
    const path: string[] = [];
    const dyn: Term[] = [];
    if (target.t === 'var') path.push(target.name);
    else if (target.t === 'ref' && target.head.t === 'var') {
      path.push(target.head.name);
      for (const p of target.path) {
        if (dyn.length === 0 && p.t === 'scalar' && typeof p.v === 'string') path.push(p.v);
        else dyn.push(p);
      }
    } else this.fail('rule name');
    let kind: RuleKind = args ? 'func' : 'complete';
    let key: Term | undefined;
    let objKeys: Term[] = [];
    let leafSet = false;
    let value: Term | undefined;
    let assign = false;
    if (this.is('contains') && !this.tok.nl) {
      this.pos++;
      key = this.parseIn();
      kind = dyn.length > 0 ? 'object' : 'set';
      objKeys = dyn;
      leafSet = dyn.length > 0;
    } else if ((this.is(':=') || this.is('=')) && !this.tok.nl) {
      assign = this.tok.text === ':=';
      this.pos++;
      value = this.parseIn();
      if (dyn.length > 0) {
        kind = 'object';
        objKeys = dyn;
      }
    } else if (dyn.length === 1 && !this.v1) {
      key = dyn[0]; // v0 `p[x] { ... }`: a partial set
      kind = 'set';
    } else if (dyn.length > 0) {
      kind = 'object'; // v1 `p[x] if { ... }`: an object whose values are true
      objKeys = dyn;
    }
    if (isDefault) {
      if (value === undefined) this.failAt(loc, 'default rule must have a value (`:=` or `=`)');
      this.checkDefaultValue(value);
      if (kind === 'set' || kind === 'object') this.failAt(loc, 'default rule must be a complete rule or function');
      return [{ ...this.mk(kind, path, key, value, args, [], true, loc, assign), objKeys, leafSet }];
    }
    if (!this.v1 && kind === 'complete' && value === undefined && key === undefined && path.length === 2) {
      // v0 `p.a { ... }` is the old spelling of `p["a"]`: a set rule containing "a".
      key = { t: 'scalar', v: path.pop() as string, loc };
      kind = 'set';
    }
    const body = this.parseRuleBody(loc, value === undefined && kind === 'complete');
    if (this.v1 && body === undefined && value === undefined && kind !== 'set') {
      if (path.length === 2 && args === undefined) this.failAt(loc, '`contains` keyword is required for partial set rules');
      this.failAt(loc, 'rule must have a body or assignment');
    }
    const rule = { ...this.mk(kind, path, key, value ?? TRUE(loc), args, body ?? [], false, loc, assign), objKeys, leafSet };
    if (body === undefined && kind === 'complete' && value === undefined && !this.v1) {
      this.failAt(loc, 'rule must have a value or a body');
    }
    while (this.is('else') && this.tok.kind === 'ident') {
      const eloc = this.loc();
      if (kind !== 'complete' && kind !== 'func') this.failAt(eloc, 'else keyword cannot be used on multi-value rules');
      this.pos++;
      let ev: Term = TRUE(eloc);
      if (this.is('=') || this.is(':=')) {
        this.pos++;
        ev = this.parseIn();
      }
      const ebody = this.parseRuleBody(eloc, false);
      rule.elses.push({ value: ev, body: ebody ?? [], loc: eloc });
    }
    return [rule];
  }

  /**
   * regorus reads `p if { x | body }` and `p if { k: v | body }` as a body made of one
   * comprehension term. Only tried when a top-level `|` sits inside the braces.
   */
  private comprehensionBody(): Literal[] | undefined {
    let depth = 0;
    let bar = false;
    for (let i = this.pos; i < this.toks.length; i++) {
      const t = this.toks[i] as Token;
      if (t.kind !== 'punct') continue;
      if (t.text === '{' || t.text === '[' || t.text === '(') depth++;
      else if (t.text === '}' || t.text === ']' || t.text === ')') {
        if (--depth === 0) break;
      } else if (t.text === '|' && depth === 1) bar = true;
    }
    if (!bar) return undefined;
    const save = { pos: this.pos, nest: this.nest, bar: this.stopAtBar };
    const loc = this.loc();
    try {
      const term = this.parseBrace();
      if ((term.t === 'setcompr' || term.t === 'objcompr') && (this.tok.nl || this.tok.kind === 'eof')) {
        return [{ k: 'expr', expr: { e: 'term', term }, negated: false, withs: [], loc }];
      }
    } catch (e) {
      if (!isKccError(e) || e.code !== 'RGO_PARSE') throw e;
    }
    this.pos = save.pos;
    this.nest = save.nest;
    this.stopAtBar = save.bar;
    return undefined;
  }

  /** Defaults are constants: regorus' wording names the offending kind of term. */
  private checkDefaultValue(t: Term): void {
    const bad = (kind: string): never => this.failAt(t.loc, `invalid \`${kind}\` in default value`);
    switch (t.t) {
      case 'scalar':
        return;
      case 'var':
        return bad('var');
      case 'ref':
        return bad('ref');
      case 'array':
      case 'set':
        return t.items.forEach((x) => this.checkDefaultValue(x));
      case 'object':
        return t.entries.forEach(([k, v]) => (this.checkDefaultValue(k), this.checkDefaultValue(v)));
      case 'call': {
        if (t.unary) return bad('unaryexpr');
        if (!t.op) return bad('call');
        if (t.name.startsWith('internal.member')) return this.failAt(t.loc, 'unexpected keyword `in` in default value');
        if (['equal', 'neq', 'lt', 'lte', 'gt', 'gte'].includes(t.name)) return bad('boolexpr');
        if (t.name === 'or' || t.name === 'and') return bad('binexpr');
        return bad('arithexpr');
      }
      default:
        return;
    }
  }

  private nameTerm(name: string, loc: Loc): Term {
    const parts = name.split('.');
    if (parts.length === 1) return { t: 'var', name, loc };
    return { t: 'ref', head: { t: 'var', name: parts[0] as string, loc }, path: parts.slice(1).map((v) => ({ t: 'scalar', v, loc })), loc };
  }

  /** `if { ... }`, `if literal`, `{ ... }` (v0) or nothing. Undefined when there is no body. */
  private parseRuleBody(loc: Loc, _bare: boolean): Literal[] | undefined {
    if (this.is('if') && this.tok.kind === 'ident') {
      this.pos++;
      const compr = this.is('{') ? this.comprehensionBody() : undefined;
      if (compr) return compr;
      if (this.is('{')) {
        this.pos++;
        const body = this.parseBody('}');
        this.expect('}');
        return body;
      }
      return [this.parseLiteral()];
    }
    if (this.is('{') && this.tok.kind === 'punct') {
      if (this.v1) this.failAt(loc, '`if` keyword is required before rule body');
      this.pos++;
      const body = this.parseBody('}');
      this.expect('}');
      return body;
    }
    return undefined;
  }

  private mk(
    kind: RuleKind,
    path: string[],
    key: Term | undefined,
    value: Term,
    args: Term[] | undefined,
    body: Literal[],
    isDefault: boolean,
    loc: Loc,
    assign: boolean,
  ): Rule {
    return { kind, path, key, value, args, body, isDefault, elses: [], loc, nslots: 0, assign, objKeys: [], leafSet: false };
  }
}
