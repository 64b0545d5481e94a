/** Arrays, objects and sets: array.*, object.*, json.filter/remove, union, intersection. */
import type { Value } from '../value.js';
import { equal, mapKey, RObject, RSet } from '../value.js';
import { arr, obj, set, softInt } from './check.js';
import { jsonPatch } from './json-patch.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

function getPath(v: Value, path: Value[]): Value | undefined {
  let cur: Value | undefined = v;
  for (const k of path) {
    if (cur instanceof RObject) cur = cur.get(k);
    else if (Array.isArray(cur)) cur = typeof k === 'number' && Number.isInteger(k) ? cur[k] : undefined;
    else if (cur instanceof RSet) cur = cur.has(k) ? k : undefined;
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Deep merge: values of `b` win, objects merge recursively. */
function union2(a: RObject, c: RObject): RObject {
  const out = a.clone();
  for (const [k, v] of c.entries()) {
    const prev = out.get(k);
    out.set(k, prev instanceof RObject && v instanceof RObject ? union2(prev, v) : v);
  }
  return out;
}

/** Splits "a/b/c" style paths (json.filter / json.remove) into segments. */
function paths(v: Value): Value[][] {
  const items = Array.isArray(v) ? v : v instanceof RSet ? v.sorted() : undefined;
  if (!items) throw new BuiltinError('operand 2 must be one of {array, set}');
  return items.map((p) => {
    if (typeof p === 'string') return p.replace(/^\//, '').split('/').filter((s) => s !== '');
    if (Array.isArray(p)) return p;
    throw new BuiltinError('paths must be strings or arrays');
  });
}

/** Path segments keyed like map keys: "1" (string) and 1 (number) differ, sets by content. */
type SegKey = ReturnType<typeof mapKey>;
interface Trie {
  end: boolean;
  kids: Map<SegKey, Trie>;
}
function trieOf(ps: Value[][]): Trie {
  const root: Trie = { end: false, kids: new Map() };
  for (const p of ps) {
    let n = root;
    for (const seg of p) {
      const key = mapKey(seg);
      let c = n.kids.get(key);
      if (!c) n.kids.set(key, (c = { end: false, kids: new Map() }));
      n = c;
    }
    n.end = true;
  }
  return root;
}
const segKey = (k: Value): SegKey => mapKey(k);

function filter(v: Value, t: Trie): Value | undefined {
  if (t.end) return v;
  if (v instanceof RObject) {
    const out = new RObject();
    for (const [k, x] of v.entries()) {
      const c = t.kids.get(segKey(k));
      if (!c) continue;
      const f = filter(x, c);
      if (f !== undefined) out.set(k, f);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const c = t.kids.get(String(i));
      const f = c ? filter(x, c) : undefined;
      if (f !== undefined) out.push(f);
    });
    return out;
  }
  if (v instanceof RSet) {
    const out = new RSet();
    for (const x of v.sorted()) {
      const c = t.kids.get(segKey(x));
      const f = c ? filter(x, c) : undefined;
      if (f !== undefined) out.add(f);
    }
    return out;
  }
  return undefined;
}

function remove(v: Value, t: Trie): Value | undefined {
  if (t.end) return undefined;
  if (v instanceof RObject) {
    const out = new RObject();
    for (const [k, x] of v.entries()) {
      const c = t.kids.get(segKey(k));
      const r = c ? remove(x, c) : x;
      if (r !== undefined) out.set(k, r);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const c = t.kids.get(String(i)) ?? t.kids.get(i);
      const r = c ? remove(x, c) : x;
      if (r !== undefined) out.push(r);
    });
    return out;
  }
  if (v instanceof RSet) return RSet.of(v.sorted().filter((x) => !(t.kids.get(segKey(x))?.end ?? false)));
  return v;
}

function keysOf(v: Value): Value[] {
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.sorted();
  if (v instanceof RObject) return v.sortedKeys();
  throw new BuiltinError('operand 2 must be one of {array, set, object}');
}

function subset(sup: Value, sub: Value): boolean {
  if (sup instanceof RObject && sub instanceof RObject) {
    for (const [k, v] of sub.entries()) {
      const s = sup.get(k);
      if (s === undefined) return false;
      if (s instanceof RObject && v instanceof RObject ? !subset(s, v) : !equal(s, v)) return false;
    }
    return true;
  }
  if (sup instanceof RSet && sub instanceof RSet) return sub.sorted().every((x) => sup.has(x));
  if (Array.isArray(sup) && sub instanceof RSet) return sub.sorted().every((x) => sup.some((y) => equal(x, y)));
  if (Array.isArray(sup) && Array.isArray(sub)) {
    if (sub.length === 0) return true;
    for (let i = 0; i + sub.length <= sup.length; i++) if (sub.every((x, j) => equal(x, sup[i + j] as Value))) return true;
    return false;
  }
  throw new BuiltinError('both arguments object.subset must be of the same type or array and set');
}

export const COLLECTIONS: Table = {
  'array.concat': b(2, (a) => [...arr(a, 0), ...arr(a, 1)]),
  'array.reverse': b(1, (a) => [...arr(a, 0)].reverse()),
  'array.slice': b(3, (a) => {
    const xs = arr(a, 0);
    let s = Math.max(0, softInt(a, 1));
    const e = Math.min(xs.length, softInt(a, 2));
    if (s > e) s = e;
    return xs.slice(s, e);
  }),
  'object.get': b(3, (a) => {
    const o = obj(a, 0);
    const key = a[1] as Value;
    const v = Array.isArray(key) ? getPath(o, key) : o.get(key);
    return v === undefined ? (a[2] as Value) : v;
  }),
  'object.keys': b(1, (a) => RSet.of(obj(a, 0).sortedKeys())),
  'object.union': b(2, (a) => union2(obj(a, 0), obj(a, 1))),
  'object.union_n': b(1, (a) => arr(a, 0).reduce<RObject>((acc, o, i) => {
    if (!(o instanceof RObject)) throw new BuiltinError(`element ${i} must be an object`);
    return union2(acc, o);
  }, new RObject())),
  'object.remove': b(2, (a) => {
    const out = obj(a, 0).clone();
    for (const k of keysOf(a[1] as Value)) out.delete(k);
    return out;
  }),
  'object.filter': b(2, (a) => {
    const o = obj(a, 0);
    const out = new RObject();
    for (const k of keysOf(a[1] as Value)) {
      const v = o.get(k);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }),
  'json.patch': jsonPatch,
  'object.subset': b(2, (a) => subset(a[0] as Value, a[1] as Value)),
  'json.filter': b(2, (a) => filter(obj(a, 0), trieOf(paths(a[1] as Value))) ?? new RObject()),
  'json.remove': b(2, (a) => remove(obj(a, 0), trieOf(paths(a[1] as Value))) ?? new RObject()),
  union: b(1, (a) => RSet.of(set(a, 0).sorted().flatMap((s) => (s instanceof RSet ? s.sorted() : [])))),
  intersection: b(1, (a) => {
    const sets = set(a, 0).sorted().filter((s): s is RSet => s instanceof RSet);
    if (sets.length === 0) return new RSet();
    return RSet.of((sets[0] as RSet).sorted().filter((x) => sets.every((s) => s.has(x))));
  }),
};
