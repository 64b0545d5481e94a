/**
 * Name resolution: gives every local variable a frame slot, turns rule names and import
 * aliases into `data.`/`input.` refs, and binds calls to builtins or user functions.
 * Runs once per rule at compile time so evaluation never looks names up by string.
 */
import type { CallTerm, Expr, Literal, RefTerm, Rule, Term, VarTerm } from './ast.js';
import { BUILTINS } from './builtins/index.js';
import { objectOf } from './value.js';
import { rgoError } from './errors.js';
import type { PNode } from './tree.js';
import { lookupNode } from './tree.js';
import { schedule } from './schedule.js';
import { checkPatterns, fold, hasVar, isPattern, staticPath } from './resolve-util.js';

/** What a module's rules can see besides locals. */
export interface ModuleEnv {
  pkg: string[];
  v1: boolean;
  /** alias -> full path starting with 'data' or 'input'. */
  imports: Map<string, string[]>;
  root: PNode;
}

class Scope {
  readonly names = new Map<string, number>();
  /** Names already mentioned or declared in this scope (re-declaring them is an error). */
  readonly seen = new Set<string>();
  /** Slots created in this scope (the scheduler orders literals by them). */
  readonly own = new Set<number>();
  readonly parent: Scope | undefined;
  constructor(parent: Scope | undefined) {
    this.parent = parent;
  }
  find(name: string): number | undefined {
    return this.names.get(name) ?? this.parent?.find(name);
  }
}

export class Resolver {
  nslots = 0;
  private readonly env: ModuleEnv;
  /** Path of the rule being resolved (rego.metadata.chain names it). */
  private rulePath: string[] | undefined;
  constructor(env: ModuleEnv) {
    this.env = env;
  }

  /** Resolves a rule in place: params, body, head terms, else clauses. */
  rule(rule: Rule): void {
    this.rulePath = [...this.env.pkg, ...rule.path];
    const scope = new Scope(undefined);
    for (const a of rule.args ?? []) this.declarePattern(a, scope);
    if (rule.args) rule.args = rule.args.map((a) => this.term(a, scope));
    this.body(rule.body, scope, new Set(scope.own));
    if (rule.key) rule.key = this.term(rule.key, scope);
    rule.objKeys = rule.objKeys.map((k) => this.term(k, scope));
    rule.value = this.term(rule.value, scope);
    for (const e of rule.elses) {
      const es = new Scope(scope);
      this.body(e.body, es);
      e.value = this.term(e.value, es);
    }
    rule.nslots = this.nslots;
  }

  query(body: Literal[]): { body: Literal[]; vars: Map<string, number> } {
    const scope = new Scope(undefined);
    this.body(body, scope);
    return { body, vars: scope.names };
  }

  private newSlot(name: string, scope: Scope): number {
    const s = this.nslots++;
    scope.names.set(name, s);
    scope.own.add(s);
    return s;
  }

  /** Declares a fresh local (`:=`, `some`, parameters); redeclaring a used name is an error. */
  private declare(name: string, scope: Scope, loc: { file: string; line: number; col: number }): number {
    if (!name.startsWith('$')) {
      if (this.env.v1 && (name === 'input' || name === 'data')) {
        throw rgoError('RGO_COMPILE', `${loc.file}:${loc.line}:${loc.col}: ${name} cannot be shadowed`);
      }
      if (scope.seen.has(name)) {
        throw rgoError('RGO_COMPILE', `${loc.file}:${loc.line}:${loc.col}: var \`${name}\` used before definition below (or declared twice)`);
      }
      scope.seen.add(name);
    }
    return this.newSlot(name, scope);
  }

  /** Declares every plain variable of a pattern as a fresh local. */
  private declarePattern(t: Term, scope: Scope): void {
    if (t.t === 'var') this.declare(t.name, scope, t.loc);
    else if (t.t === 'array' || t.t === 'set') t.items.forEach((x) => this.declarePattern(x, scope));
    else if (t.t === 'object') t.entries.forEach(([, v]) => this.declarePattern(v, scope));
  }

  private isGlobal(name: string): boolean {
    return name === 'input' || name === 'data' || this.env.imports.has(name) || this.isRule(name);
  }
  private isRule(name: string): boolean {
    return lookupNode(this.env.root, ['data', ...this.env.pkg, name]) !== undefined;
  }

  private body(lits: Literal[], scope: Scope, bound: Set<number> = new Set()): void {
    // Variables first mentioned anywhere at this level belong to this level, so closures
    // (comprehensions) that mention them refer to the outer variable.
    for (const lit of lits) this.collectOuter(lit, scope);
    for (const lit of lits) this.literal(lit, scope);
    schedule(lits, scope.own, bound);
  }

  private collectOuter(lit: Literal, scope: Scope): void {
    const visit = (t: Term): void => {
      switch (t.t) {
        case 'var':
          if (scope.find(t.name) === undefined && !this.isGlobal(t.name)) this.newSlot(t.name, scope);
          return;
        case 'ref':
          visit(t.head);
          t.path.forEach(visit);
          return;
        case 'call':
          t.args.forEach(visit);
          return;
        case 'array':
        case 'set':
          t.items.forEach(visit);
          return;
        case 'object':
          t.entries.forEach(([k, v]) => (visit(k), visit(v)));
          return;
        default:
          return;
      }
    };
    if (lit.k === 'expr') {
      const e = lit.expr;
      if (e.e === 'assign') visit(e.rhs);
      else if (e.e === 'unify') (visit(e.lhs), visit(e.rhs));
      else visit(e.term);
    }
  }

  private literal(lit: Literal, scope: Scope): void {
    switch (lit.k) {
      case 'some':
        for (const v of lit.names) {
          v.slot = this.declare(v.name, scope, v.loc);
          scope.seen.delete(v.name); // `some x` then `x := ...` is allowed
        }
        return;
      case 'somein':
        lit.coll = this.term(lit.coll, scope);
        if (lit.key) this.declarePattern(lit.key, scope);
        this.declarePattern(lit.value, scope);
        if (lit.key) lit.key = this.term(lit.key, scope);
        lit.value = this.term(lit.value, scope);
        return;
      case 'every': {
        lit.coll = this.term(lit.coll, scope);
        const inner = new Scope(scope);
        if (lit.key) this.declarePattern(lit.key, inner);
        this.declarePattern(lit.value, inner);
        if (lit.key) lit.key = this.term(lit.key, inner);
        lit.value = this.term(lit.value, inner);
        this.body(lit.body, inner, new Set(inner.own));
        return;
      }
      case 'expr':
        lit.expr = this.expr(lit.expr, scope);
        for (const w of lit.withs) {
          w.value = this.term(w.value, scope);
          w.target = this.withTarget(w.target);
        }
        return;
    }
  }

  private withTarget(t: Term): Term {
    const path = staticPath(t);
    if (!path) throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}: with target must be a ref to input or data`);
    const head = path[0] as string;
    let full = path;
    if (head !== 'input' && head !== 'data') {
      const imp = this.env.imports.get(head);
      if (imp) full = [...imp, ...path.slice(1)];
      else if (this.isRule(head)) full = ['data', ...this.env.pkg, ...path];
      else if (BUILTINS.has(path.join('.'))) full = ['builtin', path.join('.')];
      else throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}: with keyword target must reference existing input, data, or a function`);
    }
    return { t: 'scalar', v: full, loc: t.loc };
  }

  private expr(e: Expr, scope: Scope): Expr {
    if (e.e === 'term') return { e: 'term', term: this.term(e.term, scope) };
    if (e.e === 'assign') {
      if (!hasVar(e.lhs)) {
        throw rgoError('RGO_COMPILE', `${e.lhs.loc.file}:${e.lhs.loc.line}:${e.lhs.loc.col}: assignment operator := requires left-hand side to have bindable variables`);
      }
      checkPatterns(e.lhs, e.rhs);
      const rhs = this.term(e.rhs, scope);
      this.declarePattern(e.lhs, scope);
      return { e: 'assign', lhs: this.term(e.lhs, scope), rhs };
    }
    checkPatterns(e.lhs, e.rhs);
    return { e: 'unify', lhs: this.term(e.lhs, scope), rhs: this.term(e.rhs, scope) };
  }

  term(t: Term, scope: Scope): Term {
    switch (t.t) {
      case 'scalar':
        return t;
      case 'var':
        return this.varTerm(t, scope);
      case 'ref':
        return this.ref(t, scope);
      case 'call':
        return this.call(t, scope);
      case 'array':
        return fold({ ...t, items: t.items.map((x) => this.term(x, scope)) });
      case 'set':
        return fold({ ...t, items: t.items.map((x) => this.term(x, scope)) });
      case 'object':
        return fold({ ...t, entries: t.entries.map(([k, v]) => [this.term(k, scope), this.term(v, scope)] as [Term, Term]) });
      case 'arraycompr':
      case 'setcompr': {
        const inner = new Scope(scope);
        this.body(t.body, inner);
        return { ...t, head: this.term(t.head, inner) };
      }
      case 'objcompr': {
        const inner = new Scope(scope);
        this.body(t.body, inner);
        return { ...t, key: this.term(t.key, inner), value: this.term(t.value, inner) };
      }
    }
  }

  private varTerm(t: VarTerm, scope: Scope): Term {
    const slot = scope.find(t.name);
    if (slot !== undefined) {
      scope.seen.add(t.name);
      return { ...t, slot };
    }
    if (t.name === 'input' || t.name === 'data') return t;
    if (this.isRule(t.name)) return this.dataRef([...this.env.pkg, t.name], [], t);
    const imp = this.env.imports.get(t.name);
    if (imp) return this.ref({ t: 'ref', head: { t: 'var', name: imp[0] as string, loc: t.loc }, path: imp.slice(1).map((v) => ({ t: 'scalar', v, loc: t.loc })), loc: t.loc }, scope);
    if (this.isRule(t.name)) return this.dataRef([...this.env.pkg, t.name], [], t);
    scope.seen.add(t.name);
    return { ...t, slot: this.newSlot(t.name, scope) };
  }

  private dataRef(prefix: string[], rest: Term[], t: Term): RefTerm {
    const loc = t.loc;
    const path = [...prefix.map((v): Term => ({ t: 'scalar', v, loc })), ...rest];
    return { t: 'ref', head: { t: 'var', name: 'data', loc }, path, loc, data: { prefix, rest } };
  }

  private ref(t: RefTerm, scope: Scope): Term {
    const head = this.term(t.head, scope);
    const path = t.path.map((p) => this.term(p, scope));
    let full: RefTerm;
    if (head.t === 'ref') full = { t: 'ref', head: head.head, path: [...head.path, ...path], loc: t.loc };
    else full = { t: 'ref', head, path, loc: t.loc };
    if (full.head.t === 'var' && full.head.name === 'data' && full.head.slot === undefined) {
      const prefix: string[] = [];
      let i = 0;
      for (; i < full.path.length; i++) {
        const p = full.path[i] as Term;
        if (p.t !== 'scalar' || typeof p.v !== 'string') break;
        prefix.push(p.v);
      }
      full.data = { prefix, rest: full.path.slice(i) };
    }
    return full;
  }

  private call(t: CallTerm, scope: Scope): Term {
    if (t.unary) throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}:${t.loc.col}: unary - can only be used with numeric literals`);
    const args = t.args.map((a) => this.term(a, scope));
    const parts = t.name.split('.');
    const head = parts[0] as string;
    let path: string[] | undefined;
    if (t.op) return { ...t, args, target: { kind: 'builtin', name: t.name } };
    if (head === 'data') path = parts.slice(1);
    else if (this.env.imports.has(head)) {
      const imp = this.env.imports.get(head) as string[];
      if (imp[0] === 'data') path = [...imp.slice(1), ...parts.slice(1)];
    } else if (this.isRule(head)) path = [...this.env.pkg, ...parts];
    if (path) {
      const node = lookupNode(this.env.root, ['data', ...path]);
      if (node?.rules?.kind === 'func') return { ...t, args, target: { kind: 'rule', path, rs: node.rules } };
      if (node?.rules) throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}:${t.loc.col}: could not find function ${t.name} (it is not a function)`);
    }
    if (t.name === 'rego.metadata.chain' && args.length === 0 && this.rulePath) {
      // METADATA annotations are not parsed, so the chain is the active rule's entry alone,
      // without `annotations` (OPA's answer for an unannotated rule).
      return { t: 'scalar', v: [objectOf([['path', [...this.rulePath]]])], loc: t.loc };
    }
    const b = BUILTINS.get(t.name);
    if (b === undefined) {
      throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}:${t.loc.col}: could not find function ${t.name}`, { name: t.name });
    }
    const outArg = args.length === b.arity + 1 && isPattern(args[b.arity] as Term);
    if (b.arity >= 0 && args.length !== b.arity && !outArg) {
      throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}:${t.loc.col}: \`${t.name}\` expects ${b.arity} argument${b.arity === 1 ? '' : 's'}, got ${args.length}`);
    }
    return { ...t, args, target: { kind: 'builtin', name: t.name } };
  }
}
