/**
 * Top-down evaluator with backtracking. Everything is written in continuation-passing
 * style: a generator of values calls `cb(value)` for each solution, bindings live in a
 * per-rule frame (array of slots) and are undone on the way back. A callback returning
 * true means "stop" (a solution was enough), and that propagates up.
 */
import type { Expr, Literal, Term } from './ast.js';
import type { BuiltinCtx } from './builtins/index.js';
import { rgoError } from './errors.js';
import { callRule, evalCall, zeroArgCall } from './eval-call.js';
import { NOT_SIMPLE } from './eval-const.js';
import { DataWalker } from './eval-data.js';
import { IN_PROGRESS, ruleValue } from './eval-rules.js';
import { withLiteral } from './eval-with.js';
import { formatPrint } from './format.js';
import type { PNode, RuleSet } from './tree.js';
import type { Value } from './value.js';
import { equal, RObject, RSet } from './value.js';

export type Frame = Array<Value | undefined>;

/** simpleValue() result for terms that need the general (callback) evaluation. */
export { NOT_SIMPLE };
type Cb = (v: Value) => boolean;
type K = () => boolean;


export interface EvalOptions {
  maxSteps: number;
  deadline: number;
  clock: () => number;
  /** Check the clock every this many steps. */
  checkEvery: number;
  prints: boolean;
  strict: boolean;
  ieee: boolean;
  runtimeEnv: Readonly<Record<string, string | undefined>>;
}

export class Evaluator extends DataWalker {
  prints: string[] = [];
  cache = new Map<RuleSet, Value | undefined | typeof IN_PROGRESS>();
  input: Value | undefined;
  /** `with` overrides of builtins (rule paths are in DataWalker.overrides). */
  fnOverrides: Map<string | RuleSet, Value | RuleSet> | undefined;
  private steps = 0;
  readonly bctx: BuiltinCtx;

  readonly opts: EvalOptions;

  constructor(root: PNode, data: Value, input: Value | undefined, opts: EvalOptions) {
    super(root, data);
    this.opts = opts;
    this.input = input;
    this.bctx = { nowNs: BigInt(Date.now()) * 1000000n, strict: opts.strict, memo: new Map(), ieee: opts.ieee, runtimeEnv: opts.runtimeEnv };
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
        if (lit.withs.length > 0) return withLiteral(this, lit, f, k);
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
      case 'term': {
        const v = this.simpleValue(e.term, f);
        if (v !== NOT_SIMPLE) return v === undefined || v === false ? false : k();
        return this.term(e.term, f, (x) => (x === false ? false : k()));
      }
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

  hasUnbound(t: Term, f: Frame): boolean {
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
    const av = this.simpleValue(a, f);
    if (av !== NOT_SIMPLE) return av === undefined ? false : this.unifyVal(b, av, f, k);
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
    const tv = this.simpleValue(t, f);
    if (tv !== NOT_SIMPLE) return tv !== undefined && equal(tv, v) ? k() : false;
    return this.term(t, f, (x) => (equal(x, v) ? k() : false));
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
        return evalCall(this, t, f, cb);
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

  /**
   * The single value of a term that needs no search (constant, bound variable, input, or a
   * ref through constant keys and bound variables): undefined when it has no value, NOT_SIMPLE
   * when the generic callback path is needed. Saves closures on the hottest paths.
   */
  simpleValue(t: Term, f: Frame): Value | undefined | typeof NOT_SIMPLE {
    switch (t.t) {
      case 'scalar':
        return t.v;
      case 'var':
        if (t.slot !== undefined) return f[t.slot];
        return t.name === 'input' ? this.input : NOT_SIMPLE;
      case 'ref': {
        if (t.data) return NOT_SIMPLE;
        let v = this.simpleValue(t.head, f);
        if (v === undefined || v === NOT_SIMPLE) return v;
        for (const p of t.path) {
          let key: Value | undefined;
          if (p.t === 'scalar') key = p.v;
          else if (p.t === 'var' && p.slot !== undefined) key = f[p.slot];
          if (key === undefined) return NOT_SIMPLE;
          v = index(v, key);
          if (v === undefined) return undefined;
        }
        return v;
      }
      default:
        return NOT_SIMPLE;
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
      if (t.t === 'var' && t.slot !== undefined) {
        const bound = f[t.slot];
        if (bound === undefined) return false;
        acc[i] = bound;
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
    const head = this.simpleValue(t.head, f);
    if (head === undefined) return false;
    if (head !== NOT_SIMPLE) return this.walk(head, t.path, 0, f, cb);
    return this.term(t.head, f, (base) => this.walk(base, t.path, 0, f, cb));
  }

  /** Follows `path[i:]` from a value; unbound variables iterate over keys. */
  walk(v: Value, path: Term[], i: number, f: Frame, cb: Cb): boolean {
    // Constant keys and bound variables (most refs) are followed in a loop: no callbacks.
    for (; i < path.length; i++) {
      const q = path[i] as Term;
      let key: Value | undefined;
      if (q.t === 'scalar') key = q.v;
      else if (q.t === 'var' && q.slot !== undefined) key = f[q.slot];
      if (key === undefined) break;
      const child = index(v, key);
      if (child === undefined) return false;
      v = child;
    }
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


  // ---- calls, rules and with live in eval-call.ts, eval-rules.ts and eval-with.ts ----

  zeroArgCall(rs: RuleSet): Value | undefined {
    return zeroArgCall(this, rs);
  }

  callRule(rs: RuleSet, args: Value[]): Value | undefined {
    return callRule(this, rs, args);
  }

  ruleValue(rs: RuleSet): Value | undefined {
    return ruleValue(this, rs);
  }

  inProgress(rs: RuleSet): boolean {
    return this.cache.get(rs) === IN_PROGRESS;
  }
}

export function index(v: Value, key: Value): Value | undefined {
  if (Array.isArray(v)) return typeof key === 'number' && Number.isInteger(key) ? v[key] : undefined;
  if (v instanceof RObject) return typeof key === 'string' ? v.getStr(key) : v.get(key);
  if (v instanceof RSet) return v.has(key) ? key : undefined;
  return undefined;
}
