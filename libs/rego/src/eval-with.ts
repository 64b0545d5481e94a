/** `with`: replaces input, data paths, rules or functions for one literal, then restores them. */
import type { Literal, Term } from './ast.js';
import { isRuleSet } from './eval-call.js';
import type { Evaluator, Frame } from './eval.js';
import type { PNode, RuleSet } from './tree.js';
import { lookupNode } from './tree.js';
import type { Value } from './value.js';
import { RObject } from './value.js';

type K = () => boolean;

export function withLiteral(ev: Evaluator, lit: Extract<Literal, { k: 'expr' }>, f: Frame, k: K): boolean {
  const values: Array<Value | RuleSet> = [];
  for (const w of lit.withs) {
    const fn = w.value.t === 'ref' && w.value.data && w.value.data.rest.length === 0 ? lookupNode(ev.root, ['data', ...w.value.data.prefix])?.rules : undefined;
    if (fn?.kind === 'func') {
      values.push(fn);
      continue;
    }
    let v: Value | undefined;
    ev.term(w.value, f, (x) => ((v = x), true));
    if (v === undefined) return false;
    values.push(v);
  }
  const saved = { input: ev.input, overrides: ev.overrides, fn: ev.fnOverrides, cache: ev.cache, data: ev.data };
  const apply = (): void => {
    lit.withs.forEach((w, i) => {
      const path = (w.target as Extract<Term, { t: 'scalar' }>).v as string[];
      const v = values[i] as Value | RuleSet;
      const target = path[0] === 'data' ? lookupNode(ev.root, path)?.rules : undefined;
      if (isRuleSet(v) || target?.kind === 'func' || path[0] === 'builtin') {
        (ev.fnOverrides = new Map(ev.fnOverrides)).set(path[0] === 'builtin' ? (path[1] as string) : (target as RuleSet), v);
      } else if (path[0] === 'input') ev.input = setPath(ev.input, path.slice(1), v);
      else if (touchesRules(ev.root, path)) (ev.overrides = new Map(ev.overrides)).set(path.slice(1).join('\u0000'), v);
      else ev.data = setPath(ev.data, path.slice(1), v);
    });
    ev.cache = new Map();
  };
  const restore = (): typeof saved => {
    const cur = { input: ev.input, overrides: ev.overrides, fn: ev.fnOverrides, cache: ev.cache, data: ev.data };
    ev.data = saved.data;
    ev.input = saved.input;
    ev.overrides = saved.overrides;
    ev.fnOverrides = saved.fn;
    ev.cache = saved.cache;
    return cur;
  };
  apply();
  try {
    const inner: K = () => {
      const cur = restore();
      try {
        return k();
      } finally {
        ev.input = cur.input;
        ev.data = cur.data;
        ev.overrides = cur.overrides;
        ev.fnOverrides = cur.fn;
        ev.cache = cur.cache;
      }
    };
    if (lit.negated) {
      const found = ev.expr(lit.expr, f, () => true);
      restore();
      return found ? false : k();
    }
    return ev.expr(lit.expr, f, inner);
  } finally {
    restore();
  }
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

/** Copy of `base` with `path` set to `v` (only the nodes along the path are copied). */
export function setPath(base: Value | undefined, path: string[], v: Value): Value {
  if (path.length === 0) return v;
  const o = base instanceof RObject ? base.clone() : new RObject();
  const [head, ...rest] = path as [string, ...string[]];
  o.set(head, setPath(o.getStr(head), rest, v));
  return o;
}
