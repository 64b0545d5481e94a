/**
 * Top-down evaluator with backtracking. Everything is written in continuation-passing
 * style: a generator of values calls `cb(value)` for each solution, bindings live in a
 * per-rule frame (array of slots) and are undone on the way back. A callback returning
 * true means "stop" (a solution was enough), and that propagates up.
 */
import type { CallTerm, Expr, Literal, Rule, Term } from './ast.js';
import { BuiltinError, BUILTINS } from './builtins/index.js';
import type { BuiltinCtx } from './builtins/index.js';
import { setCurrent } from './builtins/check.js';
import { rgoError } from './errors.js';
import { isKccError } from '@kata-cc/errors';
import { formatPrint } from './format.js';
import type { PNode, RuleSet } from './tree.js';
import { lookupNode } from './tree.js';
import type { Value } from './value.js';
import { equal, RObject, RSet } from './value.js';
import { DataWalker } from './eval-data.js';

export type Frame = Array<Value | undefined>;
type Cb = (v: Value) => boolean;
type K = () => boolean;

const IN_PROGRESS = Symbol('in-progress');
/** Names regorus uses for operators in error messages. */
const DISPLAY: Record<string, string> = { plus: 'add', minus: 'sub', rem: 'mod' };

export interface EvalOptions {
  maxSteps: number;
  deadline: number;
  clock: () => number;
  /** Check the clock every this many steps. */
  checkEvery: number;
  strict: boolean;
}

export class Evaluator extends DataWalker {
  prints: string[] = [];
  cache = new Map<RuleSet, Value | undefined | typeof IN_PROGRESS>();
  input: Value | undefined;
  /** `with` overrides of builtins (rule paths are in DataWalker.overrides). */
  fnOverrides: Map<string | RuleSet, Value | RuleSet> | undefined;
  private steps = 0;
  readonly bctx: BuiltinCtx;

  private readonly opts: EvalOptions;

  constructor(root: PNode, data: Value, input: Value | undefined, opts: EvalOptions) {
    super(root, data);
    this.opts = opts;
    this.input = input;
    this.bctx = { nowNs: BigInt(Date.now()) * 1000000n, strict: opts.strict, memo: new Map() };
  }

  tick(): void {
    if (++this.steps > this.opts.maxSteps) throw rgoError('RGO_LIMIT', `execution exceeded the step limit (${this.opts.maxSteps} steps)`);
    if (this.steps % this.opts.checkEvery === 0 && this.opts.clock() > this.opts.deadline) {
      throw rgoError('RGO_LIMIT', 'execution exceeded time limit: the policy ran longer than its time budget');
    }
  }

  // ---- bodies -----------------------------------------------------------------------

  body(lits: Literal[], i: number, f: Frame, k: K): boolean {
    if (i === lits.length) return k();
    return this.literal(lits[i] as Literal, f, () => this.body(lits, i + 1, f, k));
  }

  literal(lit: Literal, f: Frame, k: K): boolean {
    this.tick();
    switch (lit.k) {
      case 'some':
        return k();
      case 'somein':
        return this.term(lit.coll, f, (c) => this.someIn(lit, c, f, k));
      case 'every':
        return this.every(lit, f, k);
      case 'expr':
        if (lit.withs.length > 0) return this.withLiteral(lit, f, k);
        if (lit.negated) return this.expr(lit.expr, f, () => true) ? false : k();
        return this.expr(lit.expr, f, k);
    }
  }

  private every(lit: Extract<Literal, { k: 'every' }>, f: Frame, k: K): boolean {
    let defined = false;
    let ok = true;
    this.term(lit.coll, f, (c) => {
      if (!(Array.isArray(c) || c instanceof RObject || c instanceof RSet)) return true;
      defined = true;
      this.members(c, (key, val) => {
        const found = this.unifyVal(lit.value, val, f, () => (lit.key ? this.unifyVal(lit.key, key, f, () => this.body(lit.body, 0, f, () => true)) : this.body(lit.body, 0, f, () => true)));
        if (!found) ok = false;
        return !ok;
      });
      return true;
    });
    return defined && ok ? k() : false;
  }

  private someIn(lit: Extract<Literal, { k: 'somein' }>, c: Value, f: Frame, k: K): boolean {
    if (!this.checkColl(c, lit.loc)) return false;
    const p = lit.value;
    const plen = p.t === 'array' ? p.items.length : p.t === 'scalar' && Array.isArray(p.v) ? p.v.length : undefined;
    let mismatch = false;
    let matched = false;
    const r = this.members(c, (key, val) => {
      if (plen !== undefined && Array.isArray(val) && val.length !== plen) {
        mismatch = true;
        return false;
      }
      return this.unifyVal(p, val, f, () => {
        matched = true;
        return lit.key ? this.unifyVal(lit.key, key, f, k) : k();
      });
    });
    // Strict mode (as regorus): an array pattern that fits no element because of its length is an error.
    if (this.opts.strict && mismatch && !matched) throw rgoError('RGO_EVAL', `${p.loc.file}:${p.loc.line}:${p.loc.col}: mismatch in number of array elements`);
    return r;
  }

  /** Strict mode: `some x in 5` is an error; otherwise it just has no solutions. */
  private checkColl(c: Value, loc: { file: string; line: number; col: number }): boolean {
    if (Array.isArray(c) || c instanceof RObject || c instanceof RSet) return true;
    if (this.opts.strict) throw rgoError('RGO_EVAL', `${loc.file}:${loc.line}:${loc.col}: \`some .. in collection\` expects array/set/object. Got \`${formatPrint(c, false)}\``);
    return false;
  }

  /** Calls cb(key, value) for each element of a collection; false for scalars. */
  members(c: Value, cb: (k: Value, v: Value) => boolean): boolean {
    // Every iteration counts as a step, so loops cannot escape the step and time limits.
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        this.tick();
        if (cb(i, c[i] as Value)) return true;
      }
    } else if (c instanceof RObject) {
      for (const key of c.sortedKeys()) {
        this.tick();
        if (cb(key, c.get(key) as Value)) return true;
      }
    } else if (c instanceof RSet) {
      for (const v of c.sorted()) {
        this.tick();
        if (cb(v, v)) return true;
      }
    }
    return false;
  }

  expr(e: Expr, f: Frame, k: K): boolean {
    switch (e.e) {
      case 'term':
        return this.term(e.term, f, (v) => (v === false ? false : k()));
      case 'assign':
        return this.term(e.rhs, f, (v) => {
          if (this.opts.strict && e.lhs.t === 'array' && (!Array.isArray(v) || v.length !== e.lhs.items.length)) {
            throw rgoError('RGO_EVAL', `${e.lhs.loc.file}:${e.lhs.loc.line}:${e.lhs.loc.col}: mismatch in number of array elements`);
          }
          return this.unifyVal(e.lhs, v, f, k);
        });
      case 'unify':
        return this.unify(e.lhs, e.rhs, f, k);
    }
  }

  // ---- unification ------------------------------------------------------------------

  private hasUnbound(t: Term, f: Frame): boolean {
    switch (t.t) {
      case 'var':
        return t.slot !== undefined && f[t.slot] === undefined;
      case 'array':
        return t.items.some((x) => this.hasUnbound(x, f));
      case 'object':
        return t.entries.some(([, v]) => this.hasUnbound(v, f));
      default:
        return false;
    }
  }

  unify(a: Term, b: Term, f: Frame, k: K): boolean {
    if (this.hasUnbound(a, f)) {
      if (this.hasUnbound(b, f) && (b.t === 'array' || b.t === 'object') && a.t !== 'var') return this.unifyTerms(a, b, f, k);
      return this.term(b, f, (v) => this.unifyVal(a, v, f, k));
    }
    return this.term(a, f, (v) => this.unifyVal(b, v, f, k));
  }

  /** Both sides are patterns (e.g. `[x, 1] = [2, y]`): match element-wise. */
  private unifyTerms(a: Term, b: Term, f: Frame, k: K): boolean {
    if (a.t === 'array' && b.t === 'array') {
      if (a.items.length !== b.items.length) return false;
      const step = (i: number): boolean => (i === a.items.length ? k() : this.unify(a.items[i] as Term, b.items[i] as Term, f, () => step(i + 1)));
      return step(0);
    }
    return this.term(b, f, (v) => this.unifyVal(a, v, f, k));
  }

  unifyVal(t: Term, v: Value, f: Frame, k: K): boolean {
    switch (t.t) {
      case 'var': {
        if (t.slot === undefined) break;
        const cur = f[t.slot];
        if (cur === undefined) {
          f[t.slot] = v;
          const r = k();
          f[t.slot] = undefined;
          return r;
        }
        return equal(cur, v) ? k() : false;
      }
      case 'array': {
        if (!Array.isArray(v) || v.length !== t.items.length) return false;
        const step = (i: number): boolean => (i === v.length ? k() : this.unifyVal(t.items[i] as Term, v[i] as Value, f, () => step(i + 1)));
        return step(0);
      }
      case 'object': {
        if (!(v instanceof RObject) || v.size !== t.entries.length) return false;
        // Entries with constant keys first, so that variable keys only try the rest.
        const entries = [...t.entries].sort(([a], [b]) => Number(this.hasUnbound(a, f)) - Number(this.hasUnbound(b, f)));
        const step = (i: number): boolean => {
          if (i === entries.length) return k();
          const [kt, vt] = entries[i] as [Term, Term];
          if (this.hasUnbound(kt, f)) {
            return this.members(v, (key, child) => this.unifyVal(kt, key, f, () => this.unifyVal(vt, child, f, () => step(i + 1))));
          }
          return this.term(kt, f, (key) => {
            const child = v.get(key);
            return child === undefined ? false : this.unifyVal(vt, child, f, () => step(i + 1));
          });
        };
        return step(0);
      }
      default:
        break;
    }
    return this.term(t, f, (tv) => (equal(tv, v) ? k() : false));
  }

  // ---- terms ------------------------------------------------------------------------

  term(t: Term, f: Frame, cb: Cb): boolean {
    switch (t.t) {
      case 'scalar':
        return cb(t.v);
      case 'var': {
        if (t.slot !== undefined) {
          const v = f[t.slot];
          return v === undefined ? false : cb(v);
        }
        if (t.name === 'input') return this.input === undefined ? false : cb(this.input);
        if (t.name === 'data') return this.dataRef([], [], 0, f, cb);
        return false;
      }
      case 'ref':
        return this.ref(t, f, cb);
      case 'call':
        return this.call(t, f, cb);
      case 'array':
        return this.terms(t.items, 0, f, [], (vs) => cb(vs));
      case 'set':
        return this.terms(t.items, 0, f, [], (vs) => cb(RSet.of(vs)));
      case 'object': {
        const flat: Term[] = [];
        for (const [kt, vt] of t.entries) flat.push(kt, vt);
        return this.terms(flat, 0, f, [], (vs) => {
          const o = new RObject();
          for (let i = 0; i < vs.length; i += 2) o.set(vs[i] as Value, vs[i + 1] as Value);
          return cb(o);
        });
      }
      case 'arraycompr': {
        const out: Value[] = [];
        this.body(t.body, 0, f, () => (this.term(t.head, f, (v) => (out.push(v), false)), false));
        return cb(out);
      }
      case 'setcompr': {
        const out = new RSet();
        this.body(t.body, 0, f, () => (this.term(t.head, f, (v) => (out.add(v), false)), false));
        return cb(out);
      }
      case 'objcompr': {
        const out = new RObject();
        this.body(t.body, 0, f, () =>
          this.term(t.key, f, (key) =>
            this.term(t.value, f, (val) => {
              const prev = out.get(key);
              if (prev !== undefined && !equal(prev, val)) throw rgoError('RGO_CONFLICT', `${t.loc.file}:${t.loc.line}: value for key \`${formatPrint(key, false)}\` generated multiple times: \`${formatPrint(prev, false)}\` and \`${formatPrint(val, false)}\``);
              out.set(key, val);
              return false;
            }),
          ),
        );
        return cb(out);
      }
    }
  }

  /** Cartesian product of the values of several terms. */
  terms(ts: Term[], i: number, f: Frame, acc: Value[], cb: (vs: Value[]) => boolean): boolean {
    // Single-valued terms (the usual case) are evaluated in a loop, not by recursion, so
    // long literals do not grow the stack.
    for (; i < ts.length; i++) {
      let first: Value | undefined;
      let more = false;
      const t = ts[i] as Term;
      if (t.t === 'scalar') {
        acc[i] = t.v;
        continue;
      }
      this.term(t, f, (v) => {
        if (first === undefined) first = v;
        else more = true;
        return more;
      });
      if (first === undefined) return false;
      if (more) break;
      acc[i] = first;
    }
    if (i === ts.length) return cb(acc.slice());
    return this.term(ts[i] as Term, f, (v) => {
      acc[i] = v;
      return this.terms(ts, i + 1, f, acc, cb);
    });
  }

  private ref(t: Extract<Term, { t: 'ref' }>, f: Frame, cb: Cb): boolean {
    if (t.data) return this.dataRef(t.data.prefix, t.data.rest, 0, f, cb);
    return this.term(t.head, f, (base) => this.walk(base, t.path, 0, f, cb));
  }

  /** Follows `path[i:]` from a value; unbound variables iterate over keys. */
  walk(v: Value, path: Term[], i: number, f: Frame, cb: Cb): boolean {
    if (i === path.length) return cb(v);
    const p = path[i] as Term;
    if (p.t === 'var' && p.slot !== undefined && f[p.slot] === undefined) {
      const slot = p.slot;
      return this.members(v, (key, child) => {
        f[slot] = key;
        const r = this.walk(child, path, i + 1, f, cb);
        f[slot] = undefined;
        return r;
      });
    }
    if (p.t === 'scalar') {
      const child = index(v, p.v);
      return child === undefined ? false : this.walk(child, path, i + 1, f, cb);
    }
    if (this.hasUnbound(p, f)) {
      return this.members(v, (key, child) => this.unifyVal(p, key, f, () => this.walk(child, path, i + 1, f, cb)));
    }
    return this.term(p, f, (key) => {
      const child = index(v, key);
      return child === undefined ? false : this.walk(child, path, i + 1, f, cb);
    });
  }

  // ---- calls ------------------------------------------------------------------------

  private call(t: CallTerm, f: Frame, cb: Cb): boolean {
    const target = t.target;
    if (target === undefined) throw rgoError('RGO_COMPILE', `unresolved call ${t.name}`);
    if (target.kind === 'builtin' && target.name === 'print') return this.print(t, f, cb);
    if (target.kind === 'builtin' && target.name === 'walk') return this.walkBuiltin(t, f, cb);
    let rs = target.kind === 'rule' ? target.rs : undefined;
    let mocked: Value | undefined;
    if (this.fnOverrides) {
      const o = this.fnOverrides.get(rs ?? (target as { name: string }).name);
      if (o !== undefined && isRuleSet(o)) rs = o;
      else mocked = o;
    }
    let shape = t.shape;
    if (shape === undefined || rs !== (target.kind === 'rule' ? target.rs : undefined)) {
      const nparams = rs ? ((rs.rules[0] ?? rs.defaultRule)?.args?.length ?? 0) : target.kind === 'builtin' ? (BUILTINS.get(target.name)?.arity ?? -1) : -1;
      const hasOut = nparams >= 0 && t.args.length === nparams + 1;
      shape = { nparams, hasOut, inArgs: hasOut ? t.args.slice(0, nparams) : t.args };
      if (!this.fnOverrides) t.shape = shape; // cached on the term: calls are resolved once
    }
    const { nparams, hasOut, inArgs } = shape;
    return this.terms(inArgs, 0, f, [], (args) => {
      const r = mocked !== undefined ? mocked : rs ? this.callRule(rs, args) : this.callBuiltin(t, target.kind === 'builtin' ? target.name : t.name, args);
      if (r === undefined) return false;
      if (hasOut) return this.unifyVal(t.args[nparams] as Term, r, f, () => cb(true));
      return cb(r);
    });
  }

  private callBuiltin(t: CallTerm, name: string, args: Value[]): Value | undefined {
    const b = BUILTINS.get(name);
    if (!b) throw rgoError('RGO_COMPILE', `unknown function: ${name}`);
    try {
      setCurrent(DISPLAY[name] ?? name);
      return b.fn(args, this.bctx);
    } catch (e) {
      if (e instanceof BuiltinError) {
        if (e.soft) return undefined;
        if (this.opts.strict || e.always) throw rgoError('RGO_EVAL', `${t.loc.file}:${t.loc.line}:${t.loc.col}: error: ${e.message}`);
        return undefined;
      }
      throw e;
    }
  }

  /** `walk(x, [path, value])`: a relation over every node of x, pre-order, keys sorted. */
  private walkBuiltin(t: CallTerm, f: Frame, cb: Cb): boolean {
    const out = t.args[1];
    if (!out) throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}: walk needs an output argument`);
    const visit = (v: Value, path: Value[]): boolean => {
      if (this.unifyVal(out, [path.slice(), v], f, () => cb(true))) return true;
      return this.members(v, (k, child) => {
        path.push(k);
        const r = visit(child, path);
        path.pop();
        return r;
      });
    };
    return this.term(t.args[0] as Term, f, (root) => visit(root, []));
  }

  private print(t: CallTerm, f: Frame, cb: Cb): boolean {
    const parts = t.args.map((a) => {
      let out: Value | undefined;
      this.term(a, f, (v) => ((out = v), true));
      return out === undefined ? '<undefined>' : formatPrint(out, true);
    });
    this.prints.push(`${t.loc.file}:${t.loc.line}: ${parts.join(' ')}`);
    return cb(true);
  }

  /** `data.pkg.f` for `f() := v` is the function's value; functions with parameters have none. */
  zeroArgCall(rs: RuleSet): Value | undefined {
    const first = rs.rules[0] ?? rs.defaultRule;
    if (!first || (first.args?.length ?? 0) > 0) return undefined;
    try {
      return this.callRule(rs, []);
    } catch (e) {
      if (isKccError(e) && e.code === 'RGO_CONFLICT') throw rgoError('RGO_CONFLICT', `rules should not produce multiple outputs (data.${rs.path.join('.')})`);
      throw e;
    }
  }

  /** Evaluates a user function: every definition whose params match; all must agree. */
  callRule(rs: RuleSet, args: Value[]): Value | undefined {
    let result: Value | undefined;
    for (const rule of rs.rules) {
      const r = this.evalFuncRule(rule, args, true);
      if (r === undefined) continue;
      if (result !== undefined && !equal(result, r)) {
        throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: functions must not produce multiple outputs for same inputs`);
      }
      result = r;
    }
    if (result === undefined && rs.defaultRule) result = this.evalFuncRule(rs.defaultRule, args, true);
    return result;
  }

  /**
   * One definition of a function (or complete rule when `args` is empty). Functions
   * enumerate every solution (a second, different output is a conflict); complete rules
   * stop at the first solution, as regorus does (prints depend on it).
   */
  private evalFuncRule(rule: Rule, args: Value[], all: boolean): Value | undefined {
    const f: Frame = new Array<Value | undefined>(rule.nslots);
    const params = rule.args ?? [];
    let out: Value | undefined;
    const collect = (v: Value): boolean => {
      if (out !== undefined && !equal(out, v)) {
        throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: functions must not produce multiple outputs for same inputs`);
      }
      out = v;
      return !all;
    };
    const bindParams = (i: number, k: K): boolean => (i === params.length ? k() : this.unifyVal(params[i] as Term, args[i] as Value, f, () => bindParams(i + 1, k)));
    bindParams(0, () => {
      this.body(rule.body, 0, f, () => this.term(rule.value, f, collect));
      for (const e of rule.elses) {
        if (out !== undefined) break;
        this.body(e.body, 0, f, () => this.term(e.value, f, collect));
      }
      return !all && out !== undefined;
    });
    return out;
  }

  // ---- rules ------------------------------------------------------------------------

  inProgress(rs: RuleSet): boolean {
    return this.cache.get(rs) === IN_PROGRESS;
  }

  /** Value of a rule set (cached for this evaluation), or undefined. */
  ruleValue(rs: RuleSet): Value | undefined {
    const cached = this.cache.get(rs);
    if (cached === IN_PROGRESS) throw rgoError('RGO_EVAL', `recursion detected: rule data.${rs.path.join('.')} depends on itself`);
    if (cached !== undefined || this.cache.has(rs)) return cached as Value | undefined;
    this.cache.set(rs, IN_PROGRESS);
    try {
      const v = this.computeRule(rs);
      this.cache.set(rs, v);
      return v;
    } catch (e) {
      this.cache.delete(rs);
      throw e;
    }
  }

  private computeRule(rs: RuleSet): Value | undefined {
    if (rs.kind === 'func') return undefined;
    if (rs.kind === 'set') {
      const out = new RSet();
      for (const rule of rs.rules) {
        const f: Frame = new Array<Value | undefined>(rule.nslots);
        const once = isConstTerm(rule.key);
        this.body(rule.body, 0, f, () => this.term(rule.key as Term, f, (v) => (out.add(v), once)));
      }
      return out;
    }
    if (rs.kind === 'object') {
      const out = new RObject();
      for (const rule of rs.rules) {
        const f: Frame = new Array<Value | undefined>(rule.nslots);
        const leaf = rule.leafSet ? (rule.key as Term) : rule.value;
        // Constant heads need one solution only (regorus returns early; prints depend on it).
        const once = isConstTerm(leaf) && rule.objKeys.every(isConstTerm);
        this.body(rule.body, 0, f, () =>
          this.terms(rule.objKeys, 0, f, [], (keys) => this.term(leaf, f, (val) => (insertPath(out, keys, val, rule, rs), once))),
        );
      }
      return out;
    }
    let result: Value | undefined;
    for (const rule of rs.rules) {
      const r = this.evalFuncRule(rule, [], false);
      if (r === undefined) continue;
      if (result !== undefined && !equal(result, r)) {
        throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: rules should not produce multiple outputs; rule conflicts with the following rule (data.${rs.path.join('.')})`);
      }
      result = r;
    }
    if (result === undefined && rs.defaultRule) result = this.evalFuncRule(rs.defaultRule, [], false);
    return result;
  }

  // ---- with -------------------------------------------------------------------------

  private withLiteral(lit: Extract<Literal, { k: 'expr' }>, f: Frame, k: K): boolean {
    const values: Array<Value | RuleSet> = [];
    for (const w of lit.withs) {
      const fn = w.value.t === 'ref' && w.value.data && w.value.data.rest.length === 0 ? lookupNode(this.root, ['data', ...w.value.data.prefix])?.rules : undefined;
      if (fn?.kind === 'func') {
        values.push(fn);
        continue;
      }
      let v: Value | undefined;
      this.term(w.value, f, (x) => ((v = x), true));
      if (v === undefined) return false;
      values.push(v);
    }
    const saved = { input: this.input, overrides: this.overrides, fn: this.fnOverrides, cache: this.cache, data: this.data };
    const apply = (): void => {
      lit.withs.forEach((w, i) => {
        const path = (w.target as Extract<Term, { t: 'scalar' }>).v as string[];
        const v = values[i] as Value | RuleSet;
        const target = path[0] === 'data' ? lookupNode(this.root, path)?.rules : undefined;
        if (isRuleSet(v) || target?.kind === 'func' || path[0] === 'builtin') {
          (this.fnOverrides = new Map(this.fnOverrides)).set(path[0] === 'builtin' ? (path[1] as string) : (target as RuleSet), v);
        } else if (path[0] === 'input') this.input = setPath(this.input, path.slice(1), v);
        else if (touchesRules(this.root, path)) (this.overrides = new Map(this.overrides)).set(path.slice(1).join('\u0000'), v);
        else this.data = setPath(this.data, path.slice(1), v);
      });
      this.cache = new Map();
    };
    const restore = (): typeof saved => {
      const cur = { input: this.input, overrides: this.overrides, fn: this.fnOverrides, cache: this.cache, data: this.data };
      this.data = saved.data;
      this.input = saved.input;
      this.overrides = saved.overrides;
      this.fnOverrides = saved.fn;
      this.cache = saved.cache;
      return cur;
    };
    apply();
    try {
      const inner: K = () => {
        const cur = restore();
        try {
          return k();
        } finally {
          this.input = cur.input;
          this.data = cur.data;
          this.overrides = cur.overrides;
          this.fnOverrides = cur.fn;
          this.cache = cur.cache;
        }
      };
      if (lit.negated) {
        const found = this.expr(lit.expr, f, () => true);
        restore();
        return found ? false : k();
      }
      return this.expr(lit.expr, f, inner);
    } finally {
      restore();
    }
  }
}

/** out[k1]...[kn] = val for object rules (sets at the leaves for `contains`); conflicts are errors. */
function insertPath(out: RObject, keys: Value[], val: Value, rule: Rule, rs: RuleSet): void {
  let node = out;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i] as Value;
    let next = node.get(k);
    if (next === undefined) {
      next = new RObject();
      node.set(k, next);
    }
    if (!(next instanceof RObject)) throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: rules must not produce multiple outputs (data.${rs.path.join('.')})`);
    node = next;
  }
  const last = keys[keys.length - 1] as Value;
  const prev = node.get(last);
  if (rule.leafSet) {
    const s = prev instanceof RSet ? prev : new RSet();
    s.add(val);
    node.set(last, s);
    return;
  }
  if (prev !== undefined && !equal(prev, val)) {
    throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: rules must not produce multiple outputs: value for key \`${formatPrint(last, false)}\` generated multiple times: \`${formatPrint(prev, false)}\` and \`${formatPrint(val, false)}\` (data.${rs.path.join('.')})`);
  }
  node.set(last, val);
}

function isConstTerm(t: Term | undefined): boolean {
  return t !== undefined && t.t === 'scalar';
}

function isRuleSet(v: unknown): v is RuleSet {
  return typeof v === 'object' && v !== null && 'rules' in v && 'kind' in v && 'path' in v;
}

/** True when a `with data...` target is (or is inside, or contains) a rule. */
function touchesRules(root: PNode, path: string[]): boolean {
  let n: PNode | undefined = root;
  for (let i = 1; i < path.length && n; i++) {
    if (n.rules) return true;
    n = n.children.get(path[i] as string);
  }
  return n !== undefined && n !== root;
}

export function index(v: Value, key: Value): Value | undefined {
  if (Array.isArray(v)) return typeof key === 'number' && Number.isInteger(key) ? v[key] : undefined;
  if (v instanceof RObject) return typeof key === 'string' ? v.getStr(key) : v.get(key);
  if (v instanceof RSet) return v.has(key) ? key : undefined;
  return undefined;
}

/** Copy of `base` with `path` set to `v` (only the nodes along the path are copied). */
export function setPath(base: Value | undefined, path: string[], v: Value): Value {
  if (path.length === 0) return v;
  const o = base instanceof RObject ? base.clone() : new RObject();
  const [head, ...rest] = path as [string, ...string[]];
  o.set(head, setPath(o.getStr(head), rest, v));
  return o;
}
