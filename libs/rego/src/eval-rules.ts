/** Rule values: complete rules (first solution, else chains, defaults), partial sets and objects. */
import type { Rule, Term } from './ast.js';
import { rgoError } from './errors.js';
import { evalFuncRule } from './eval-call.js';
import type { Evaluator, Frame } from './eval.js';
import { formatPrint } from './format.js';
import type { RuleSet } from './tree.js';
import type { Value } from './value.js';
import { equal, RObject, RSet } from './value.js';

/** Cache marker while a rule is being computed (detects recursion). */
export const IN_PROGRESS = Symbol('in-progress');

/** Value of a rule set (cached for this evaluation), or undefined. */
export function ruleValue(ev: Evaluator, rs: RuleSet): Value | undefined {
  const cached = ev.cache.get(rs);
  if (cached === IN_PROGRESS) throw rgoError('RGO_EVAL', `recursion detected: rule data.${rs.path.join('.')} depends on itself`);
  if (cached !== undefined || ev.cache.has(rs)) return cached as Value | undefined;
  ev.cache.set(rs, IN_PROGRESS);
  try {
    const v = computeRule(ev, rs);
    ev.cache.set(rs, v);
    return v;
  } catch (e) {
    ev.cache.delete(rs);
    throw e;
  }
}

export function computeRule(ev: Evaluator, rs: RuleSet): Value | undefined {
  if (rs.kind === 'func') return undefined;
  if (rs.kind === 'set') {
    const out = new RSet();
    for (const rule of rs.rules) {
      const f: Frame = new Array<Value | undefined>(rule.nslots);
      const once = isConstTerm(rule.key);
      ev.body(rule.body, 0, f, () => ev.term(rule.key as Term, f, (v) => (out.add(v), once)));
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
      ev.body(rule.body, 0, f, () =>
        ev.terms(rule.objKeys, 0, f, [], (keys) => ev.term(leaf, f, (val) => (insertPath(out, keys, val, rule, rs), once))),
      );
    }
    return out;
  }
  let result: Value | undefined;
  for (const rule of rs.rules) {
    // Constant values stop at the first solution (regorus; prints depend on it); computed
    // values enumerate every solution so that two different values are a conflict (OPA).
    const r = evalFuncRule(ev, rule, [], !isConstTerm(rule.value) || rule.elses.some((e) => !isConstTerm(e.value)));
    if (r === undefined) continue;
    if (result !== undefined && !equal(result, r)) {
      throw rgoError('RGO_CONFLICT', `${rule.loc.file}:${rule.loc.line}: rules should not produce multiple outputs; rule conflicts with the following rule (data.${rs.path.join('.')})`);
    }
    result = r;
  }
  if (result === undefined && rs.defaultRule) result = evalFuncRule(ev, rs.defaultRule, [], false);
  return result;
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
