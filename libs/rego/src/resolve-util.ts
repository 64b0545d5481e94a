/** Pure helpers of the resolver: constant folding, pattern checks, static paths. */
import type { Term } from './ast.js';
import { rgoError } from './errors.js';
import type { Value } from './value.js';
import { RObject, RSet } from './value.js';

export function hasVar(t: Term): boolean {
  if (t.t === 'var') return true;
  if (t.t === 'array' || t.t === 'set') return t.items.some(hasVar);
  if (t.t === 'object') return t.entries.some(([k, v]) => hasVar(k) || hasVar(v));
  return t.t === 'ref';
}

const isConst = (t: Term): boolean =>
  t.t === 'scalar' || ((t.t === 'array' || t.t === 'set') && t.items.every(isConst)) || (t.t === 'object' && t.entries.every(([k, v]) => isConst(k) && isConst(v)));

/** Literal patterns on both sides of `=`/`:=` that can never match are compile errors (as in regorus). */
export function checkPatterns(a: Term, b: Term): void {
  const at = (msg: string): never => {
    throw rgoError('RGO_COMPILE', `${a.loc.file}:${a.loc.line}:${a.loc.col}: ${msg}`);
  };
  const coll = (t: Term): boolean => t.t === 'array' || t.t === 'object';
  if (!coll(a) || !coll(b)) return;
  if (a.t !== b.t) at('incompatible destructuring patterns: both sides must be arrays or objects with matching structure');
  if (a.t === 'array' && b.t === 'array') {
    if (a.items.length !== b.items.length) at('mismatch in number of array elements');
    a.items.forEach((x, i) => checkPatterns(x, b.items[i] as Term));
    return;
  }
  if (a.t !== 'object' || b.t !== 'object') return;
  const keys = (t: typeof a): string[] | undefined => {
    const out: string[] = [];
    for (const [k] of t.entries) {
      if (k.t !== 'scalar') return undefined;
      out.push(JSON.stringify(k.v));
    }
    return out;
  };
  const ka = keys(a);
  const kb = keys(b);
  if (!ka || !kb) return;
  if (isConst(b)) {
    if ([...ka].sort().join() !== [...kb].sort().join()) at(`object literal keys mismatch. Expected keys [${ka.join(', ')}] got [${kb.join(', ')}].`);
    return;
  }
  if (ka.length !== kb.length) at(`object field count mismatch in assignment: left has ${ka.length} fields, right has ${kb.length} fields`);
  for (const k of kb) if (!ka.includes(k)) at(`key ${k} not found in left-hand side object during destructuring`);
}

/** A term that can receive a value (an old-style output argument such as `count(xs, n)`). */
export function isPattern(t: Term): boolean {
  if (t.t === 'var') return true;
  if (t.t === 'array') return t.items.some(isPattern);
  if (t.t === 'object') return t.entries.some(([, v]) => isPattern(v));
  return false;
}

/** Collections of constants become one constant, built once at compile time. */
export function fold(t: Term): Term {
  const isConst = (x: Term): boolean => x.t === 'scalar';
  if (t.t === 'array' && t.items.every(isConst)) return { t: 'scalar', v: t.items.map((x) => (x as { v: Value }).v), loc: t.loc };
  if (t.t === 'set' && t.items.every(isConst)) return { t: 'scalar', v: RSet.of(t.items.map((x) => (x as { v: Value }).v)), loc: t.loc };
  if (t.t === 'object' && t.entries.every(([k, v]) => isConst(k) && isConst(v))) {
    const o = new RObject();
    for (const [k, v] of t.entries) o.set((k as { v: Value }).v, (v as { v: Value }).v);
    return { t: 'scalar', v: o, loc: t.loc };
  }
  return t;
}

export function staticPath(t: Term): string[] | undefined {
  if (t.t === 'var') return [t.name];
  if (t.t !== 'ref' || t.head.t !== 'var') return undefined;
  const out = [t.head.name];
  for (const p of t.path) {
    if (p.t !== 'scalar' || typeof p.v !== 'string') return undefined;
    out.push(p.v);
  }
  return out;
}
