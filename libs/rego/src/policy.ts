/** A compiled policy: evaluates queries (compiled once each, then cached) per request. */
import type { Literal, Term } from './ast.js';
import { rgoError } from './errors.js';
import type { Frame } from './eval.js';
import { Evaluator } from './eval.js';
import { parseQuery } from './parse-query.js';
import { Resolver } from './resolve.js';
import type { PNode } from './tree.js';
import type { EvalResult, Policy } from './types.js';
import type { Value } from './value.js';
import { fromJson, RObject, toJson } from './value.js';

export interface PolicyLimits {
  maxSteps: number;
  timeoutMs: number;
  clock: () => number;
  checkEvery: number;
  strict: boolean;
  prints: boolean;
  bigints: boolean;
  decimals: 'opa' | 'ieee';
  runtimeEnv: Readonly<Record<string, string | undefined>>;
}

interface CompiledQuery {
  body: Literal[];
  vars: Array<[string, number]>;
  nslots: number;
}

/** Builtins whose `false` result fails a query literal; other terms are reported as values. */
const TESTS = new Set(['equal', 'neq', 'lt', 'lte', 'gt', 'gte', 'internal.member_2', 'internal.member_3']);

export class PolicyImpl implements Policy {
  private readonly queries = new Map<string, CompiledQuery>();

  private readonly root: PNode;
  readonly packages: readonly string[];
  private readonly limits: PolicyLimits;

  constructor(root: PNode, packages: readonly string[], limits: PolicyLimits) {
    this.root = root;
    this.packages = packages;
    this.limits = limits;
  }

  private compileQuery(query: string): CompiledQuery {
    const hit = this.queries.get(query);
    if (hit) return hit;
    const r = new Resolver({ pkg: [], imports: new Map(), root: this.root, v1: false });
    const { body, vars } = r.query(parseQuery(query));
    const cq: CompiledQuery = { body, vars: [...vars].filter(([n]) => !n.startsWith('$')), nslots: r.nslots };
    if (this.queries.size > 256) this.queries.clear();
    this.queries.set(query, cq);
    return cq;
  }

  evaluate(query: string, input?: unknown, data?: unknown): EvalResult {
    const cq = this.compileQuery(query);
    let inputV: Value | undefined;
    let dataV: Value;
    try {
      inputV = input === undefined ? undefined : fromJson(input);
      dataV = data === undefined ? new RObject() : fromJson(data);
    } catch (e) {
      throw rgoError('RGO_INPUT', `input or data is not JSON: ${(e as Error).message}`);
    }
    const ev = new Evaluator(this.root, dataV, inputV, {
      maxSteps: this.limits.maxSteps,
      deadline: this.limits.clock() + this.limits.timeoutMs,
      clock: this.limits.clock,
      checkEvery: this.limits.checkEvery,
      prints: this.limits.prints,
      strict: this.limits.strict,
      ieee: this.limits.decimals === 'ieee',
      runtimeEnv: this.limits.runtimeEnv,
    });
    const f: Frame = new Array<Value | undefined>(cq.nslots);
    const vals: Value[] = new Array<Value>(cq.body.length);
    const results: unknown[] = [];
    try {
      this.run(ev, cq.body, 0, f, vals, () => {
        let bindings: RObject | undefined;
        for (const [name, slot] of cq.vars) {
          const bv = f[slot];
          if (bv !== undefined) (bindings ??= new RObject()).set(name, bv);
        }
        results.push(toJson(bindings ?? (vals.length === 1 ? (vals[0] as Value) : vals.slice()), this.limits.bigints));
      });
    } catch (e) {
      if (e instanceof RangeError) throw rgoError('RGO_LIMIT', 'evaluation exceeded the maximum recursion depth');
      throw e;
    }
    if (results.length === 0) return { defined: false, results, prints: ev.prints };
    return { defined: true, value: results[0], results, prints: ev.prints };
  }

  /** Like Evaluator.body, but a bare term literal succeeds when defined and records its value. */
  private run(ev: Evaluator, lits: Literal[], i: number, f: Frame, vals: Value[], out: () => void): boolean {
    if (i === lits.length) {
      out();
      return false;
    }
    const lit = lits[i] as Literal;
    const next = (v: Value): boolean => {
      vals[i] = v;
      return this.run(ev, lits, i + 1, f, vals, out);
    };
    if (lit.k === 'expr' && lit.expr.e === 'term' && !lit.negated && lit.withs.length === 0) {
      const t: Term = lit.expr.term;
      const isTest = lits.length > 1 && t.t === 'call' && t.target?.kind === 'builtin' && TESTS.has(t.target.name);
      return ev.term(t, f, (v) => (isTest && v === false ? false : next(v)));
    }
    return ev.literal(lit, f, () => next(true));
  }
}
