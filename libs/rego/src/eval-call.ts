/** Calls: builtins (with `with` mocks), print, walk, and user functions (every definition, conflicts checked). */
import type { CallTerm, Rule, Term } from './ast.js';
import { BuiltinError, BUILTINS } from './builtins/index.js';
import { setCurrent } from './builtins/check.js';
import { isKccError } from '@kata-cc/errors';
import { rgoError } from './errors.js';
import type { Evaluator, Frame } from './eval.js';
import { NOT_SIMPLE } from './eval-const.js';
import { formatPrint } from './format.js';
import type { RuleSet } from './tree.js';
import type { Value } from './value.js';
import { equal } from './value.js';

type Cb = (v: Value) => boolean;
type K = () => boolean;

/** Names regorus uses for operators in error messages. */
const DISPLAY: Record<string, string> = { plus: 'add', minus: 'sub', rem: 'mod' };

export function evalCall(ev: Evaluator, t: CallTerm, f: Frame, cb: Cb): boolean {
  const target = t.target;
  if (target === undefined) throw rgoError('RGO_COMPILE', `unresolved call ${t.name}`);
  if (target.kind === 'builtin' && target.name === 'print') return evalPrint(ev, t, f, cb);
  if (target.kind === 'builtin' && target.name === 'walk') return walkBuiltin(ev, t, f, cb);
  let rs = target.kind === 'rule' ? target.rs : undefined;
  let mocked: Value | undefined;
  if (ev.fnOverrides) {
    const o = ev.fnOverrides.get(rs ?? (target as { name: string }).name);
    if (o !== undefined && isRuleSet(o)) rs = o;
    else mocked = o;
  }
  let shape = t.shape;
  if (shape === undefined || rs !== (target.kind === 'rule' ? target.rs : undefined)) {
    const nparams = rs ? ((rs.rules[0] ?? rs.defaultRule)?.args?.length ?? 0) : target.kind === 'builtin' ? (BUILTINS.get(target.name)?.arity ?? -1) : -1;
    const hasOut = nparams >= 0 && t.args.length === nparams + 1;
    shape = { nparams, hasOut, inArgs: hasOut ? t.args.slice(0, nparams) : t.args };
    if (!ev.fnOverrides) t.shape = shape; // cached on the term: calls are resolved once
  }
  const { nparams, hasOut, inArgs } = shape;
  if (!hasOut && mocked === undefined) {
    // Fast path: arguments that need no search are read directly, without callbacks.
    const args: Value[] = new Array<Value>(inArgs.length);
    let simple = true;
    for (let i = 0; i < inArgs.length; i++) {
      const v = ev.simpleValue(inArgs[i] as Term, f);
      if (v === NOT_SIMPLE) {
        simple = false;
        break;
      }
      if (v === undefined) return false;
      args[i] = v;
    }
    if (simple) {
      const r = rs ? callRule(ev, rs, args) : callBuiltin(ev, t, target.kind === 'builtin' ? target.name : t.name, args);
      return r === undefined ? false : cb(r);
    }
  }
  return ev.terms(inArgs, 0, f, [], (args) => {
    const r = mocked !== undefined ? mocked : rs ? callRule(ev, rs, args) : callBuiltin(ev, t, target.kind === 'builtin' ? target.name : t.name, args);
    if (r === undefined) return false;
    if (hasOut) return ev.unifyVal(t.args[nparams] as Term, r, f, () => cb(true));
    return cb(r);
  });
}

export function callBuiltin(ev: Evaluator, t: CallTerm, name: string, args: Value[]): Value | undefined {
  const b = BUILTINS.get(name);
  if (!b) throw rgoError('RGO_COMPILE', `unknown function: ${name}`);
  try {
    setCurrent(DISPLAY[name] ?? name);
    return b.fn(args, ev.bctx);
  } catch (e) {
    if (e instanceof BuiltinError) {
      if (e.soft) return undefined;
      if (ev.opts.strict || e.always) throw rgoError('RGO_EVAL', `${t.loc.file}:${t.loc.line}:${t.loc.col}: error: ${e.message}`);
      return undefined;
    }
    throw e;
  }
}

/** `walk(x, [path, value])`: a relation over every node of x, pre-order, keys sorted. */
export function walkBuiltin(ev: Evaluator, t: CallTerm, f: Frame, cb: Cb): boolean {
  const out = t.args[1];
  if (!out) throw rgoError('RGO_COMPILE', `${t.loc.file}:${t.loc.line}: walk needs an output argument`);
  const visit = (v: Value, path: Value[]): boolean => {
    if (ev.unifyVal(out, [path.slice(), v], f, () => cb(true))) return true;
    return ev.members(v, (k, child) => {
      path.push(k);
      const r = visit(child, path);
      path.pop();
      return r;
    });
  };
  return ev.term(t.args[0] as Term, f, (root) => visit(root, []));
}

export function evalPrint(ev: Evaluator, t: CallTerm, f: Frame, cb: Cb): boolean {
  if (!ev.opts.prints) return cb(true);
  const parts = t.args.map((a) => {
    let out: Value | undefined;
    ev.term(a, f, (v) => ((out = v), true));
    return out === undefined ? '<undefined>' : formatPrint(out, true);
  });
  ev.prints.push(`${t.loc.file}:${t.loc.line}: ${parts.join(' ')}`);
  return cb(true);
}

/** `data.pkg.f` for `f() := v` is the function's value; functions with parameters have none. */
export function zeroArgCall(ev: Evaluator, rs: RuleSet): Value | undefined {
  const first = rs.rules[0] ?? rs.defaultRule;
  if (!first || (first.args?.length ?? 0) > 0) return undefined;
  try {
    return callRule(ev, rs, []);
  } catch (e) {
    if (isKccError(e) && e.code === 'RGO_CONFLICT') throw rgoError('RGO_CONFLICT', `rules should not produce multiple outputs (data.${rs.path.join('.')})`);
    throw e;
  }
}

/** Evaluates a user function: every definition whose params match; all must agree. */
export function callRule(ev: Evaluator, rs: RuleSet, args: Value[]): Value | undefined {
  let result: Value | undefined;
  for (const rule of rs.rules) {
    const r = evalFuncRule(ev, rule, args, true);
    if (r === undefined) continue;
    if (result !== undefined && !equal(result, r)) {
      throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: functions must not produce multiple outputs for same inputs`);
    }
    result = r;
  }
  if (result === undefined && rs.defaultRule) result = evalFuncRule(ev, rs.defaultRule, args, true);
  return result;
}

/**
 * One definition of a function (or complete rule when `args` is empty). Functions
 * enumerate every solution (a second, different output is a conflict); complete rules
 * stop at the first solution, as regorus does (prints depend on it).
 */
export function evalFuncRule(ev: Evaluator, rule: Rule, args: Value[], all: boolean): Value | undefined {
  const f: Frame = new Array<Value | undefined>(rule.nslots);
  const params = rule.args ?? [];
  let out: Value | undefined;
  const collect = (v: Value): boolean => {
    if (out !== undefined && !equal(out, v)) {
      const what = rule.args ? 'functions must not produce multiple outputs for same inputs' : `rules should not produce multiple outputs (rule ${rule.path.join('.')} has two values)`;
      throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: ${what}`);
    }
    out = v;
    return !all;
  };
  const bindParams = (i: number, k: K): boolean => (i === params.length ? k() : ev.unifyVal(params[i] as Term, args[i] as Value, f, () => bindParams(i + 1, k)));
  bindParams(0, () => {
    ev.body(rule.body, 0, f, () => ev.term(rule.value, f, collect));
    for (const e of rule.elses) {
      if (out !== undefined) break;
      ev.body(e.body, 0, f, () => ev.term(e.value, f, collect));
    }
    return !all && out !== undefined;
  });
  return out;
}

export function isRuleSet(v: unknown): v is RuleSet {
  return typeof v === 'object' && v !== null && 'rules' in v && 'kind' in v && 'path' in v;
}
