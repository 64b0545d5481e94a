/**
 * Literal scheduling: Rego bodies may use a variable before the literal that binds it
 * (`x := y + 1; y := 2`). Like OPA, the compiler reorders such bodies so every literal
 * runs once its inputs are bound. Bodies already in a safe order are left untouched,
 * so evaluation (and `print`) order stays as written.
 */
import type { Expr, Literal, Term } from './ast.js';
import { BUILTINS } from './builtins/index.js';

interface Deps {
  /** Slots that must be bound before the literal can run. */
  needs: Set<number>;
  /** Sets of slots of which at least one must be fully bound (the two sides of `=`). */
  oneOf: Array<Set<number>>;
  /** Slots the literal binds. */
  binds: Set<number>;
}

type Mode = 'in' | 'out';

function visit(t: Term, mode: Mode, d: Deps, side?: Set<number>): void {
  switch (t.t) {
    case 'scalar':
      return;
    case 'var':
      if (t.slot === undefined) return;
      if (mode === 'out') {
        d.binds.add(t.slot);
        side?.add(t.slot);
      } else d.needs.add(t.slot);
      return;
    case 'ref':
      visit(t.head, 'in', d);
      for (const p of t.path) {
        if (p.t === 'var' && p.slot !== undefined) d.binds.add(p.slot);
        else visit(p, 'in', d);
      }
      return;
    case 'call': {
      const arity = t.target?.kind === 'builtin' ? (BUILTINS.get(t.target.name)?.arity ?? -1) : t.target?.kind === 'rule' ? ((t.target.rs.rules[0] ?? t.target.rs.defaultRule)?.args?.length ?? -1) : -1;
      t.args.forEach((a, i) => visit(a, arity >= 0 && i === arity ? 'out' : 'in', d, side));
      return;
    }
    case 'array':
    case 'set':
      for (const x of t.items) visit(x, mode, d, side);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        visit(k, 'in', d);
        visit(v, mode, d, side);
      }
      return;
    case 'arraycompr':
    case 'setcompr':
      closure([t.head], t.body, d);
      return;
    case 'objcompr':
      closure([t.key, t.value], t.body, d);
      return;
  }
}

/** A closure needs every slot it mentions; the caller keeps only the ones it owns. */
function closure(heads: Term[], body: Literal[], d: Deps): void {
  const inner: Deps = { needs: new Set(), oneOf: [], binds: new Set() };
  for (const h of heads) visit(h, 'in', inner);
  for (const l of body) literalDeps(l, inner);
  for (const s of inner.needs) d.needs.add(s);
  for (const s of inner.binds) d.needs.add(s);
}

function exprDeps(e: Expr, d: Deps): void {
  if (e.e === 'term') return visit(e.term, 'in', d);
  if (e.e === 'assign') {
    visit(e.rhs, 'in', d);
    return visit(e.lhs, 'out', d);
  }
  const l = new Set<number>();
  const r = new Set<number>();
  visit(e.lhs, 'out', d, l);
  visit(e.rhs, 'out', d, r);
  d.oneOf.push(l, r);
}

function literalDeps(lit: Literal, d: Deps): void {
  switch (lit.k) {
    case 'some':
      return;
    case 'somein':
      visit(lit.coll, 'in', d);
      if (lit.key) visit(lit.key, 'out', d);
      return visit(lit.value, 'out', d);
    case 'every':
      visit(lit.coll, 'in', d);
      return closure([], lit.body, d);
    case 'expr': {
      for (const w of lit.withs) visit(w.value, 'in', d);
      if (!lit.negated) return exprDeps(lit.expr, d);
      const inner: Deps = { needs: new Set(), oneOf: [], binds: new Set() };
      exprDeps(lit.expr, inner);
      for (const s of [...inner.needs, ...inner.binds]) d.needs.add(s);
      return;
    }
  }
}

/** Reorders `lits` in place when a literal needs a variable bound only by a later one. */
export function schedule(lits: Literal[], owned: Set<number>, bound: Set<number>): void {
  const deps = lits.map((l) => {
    const d: Deps = { needs: new Set(), oneOf: [], binds: new Set() };
    literalDeps(l, d);
    return d;
  });
  const have = new Set(bound);
  const ready = (d: Deps): boolean => {
    for (const s of d.needs) if (owned.has(s) && !have.has(s)) return false;
    if (d.oneOf.length === 0) return true;
    const ground = (set: Set<number>): boolean => [...set].every((s) => !owned.has(s) || have.has(s));
    return d.oneOf.some(ground);
  };
  if (deps.every((d) => (ready(d) ? (d.binds.forEach((s) => have.add(s)), true) : false))) return;
  have.clear();
  bound.forEach((s) => have.add(s));
  const order: number[] = [];
  const left = lits.map((_, i) => i);
  while (left.length > 0) {
    let pick = left.findIndex((i) => ready(deps[i] as Deps));
    if (pick < 0) pick = 0;
    const i = left.splice(pick, 1)[0] as number;
    order.push(i);
    (deps[i] as Deps).binds.forEach((s) => have.add(s));
  }
  const copy = lits.slice();
  order.forEach((i, j) => (lits[j] = copy[i] as Literal));
}
