/** json.patch (RFC 6902) over Rego values; sets are addressed by member value. Any failure -> undefined. */
import type { Value } from '../value.js';
import { equal, RObject, RSet } from '../value.js';
import { arr, obj } from './check.js';
import { b } from './types-api.js';

class PatchFail extends Error {}
const no = (): never => {
  throw new PatchFail();
};

function parsePath(p: Value | undefined): Value[] {
  if (Array.isArray(p)) return p;
  if (typeof p !== 'string') return no();
  if (p === '') return [];
  if (!p.startsWith('/')) return no();
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(seg: Value, len: number, allowEnd: boolean): number {
  if (seg === '-' && allowEnd) return len;
  let n: number;
  if (typeof seg === 'number') n = seg;
  else if (typeof seg === 'string' && /^(0|[1-9]\d*)$/.test(seg)) n = Number(seg);
  else return no();
  if (!Number.isSafeInteger(n) || n < 0 || n > (allowEnd ? len : len - 1)) return no();
  return n;
}

function get(doc: Value | undefined, path: Value[]): Value {
  let cur = doc;
  for (const seg of path) {
    if (cur instanceof RObject) cur = cur.get(seg);
    else if (Array.isArray(cur)) cur = cur[arrayIndex(seg, cur.length, false)];
    else if (cur instanceof RSet) cur = cur.has(seg) ? seg : undefined;
    else cur = undefined;
    if (cur === undefined) no();
  }
  return cur === undefined ? no() : cur;
}

/** Rebuilds `doc` with the parent of `path` replaced by fn(parent, lastSegment). */
function update(doc: Value | undefined, path: Value[], fn: (parent: Value, seg: Value) => Value): Value {
  if (doc === undefined) return no();
  if (path.length === 1) return fn(doc, path[0] as Value);
  const [seg, ...rest] = path as [Value, ...Value[]];
  if (doc instanceof RObject) {
    const child = doc.get(seg) ?? no();
    const o = doc.clone();
    o.set(seg, update(child, rest, fn));
    return o;
  }
  if (Array.isArray(doc)) {
    const i = arrayIndex(seg, doc.length, false);
    const out = doc.slice();
    out[i] = update(doc[i], rest, fn);
    return out;
  }
  return no(); // values inside set members cannot be changed in place
}

function add(doc: Value | undefined, path: Value[], value: Value): Value {
  if (path.length === 0) return value;
  return update(doc, path, (parent, seg) => {
    if (parent instanceof RObject) {
      const o = parent.clone();
      o.set(seg, value);
      return o;
    }
    if (Array.isArray(parent)) {
      const out = parent.slice();
      out.splice(arrayIndex(seg, parent.length, true), 0, value);
      return out;
    }
    if (parent instanceof RSet) return RSet.of([...parent.sorted(), value]);
    return no();
  });
}

function remove(doc: Value | undefined, path: Value[]): Value | undefined {
  if (path.length === 0) return undefined;
  return update(doc, path, (parent, seg) => {
    if (parent instanceof RObject) {
      if (!parent.has(seg)) no();
      const o = parent.clone();
      o.delete(seg);
      return o;
    }
    if (Array.isArray(parent)) {
      const out = parent.slice();
      out.splice(arrayIndex(seg, parent.length, false), 1);
      return out;
    }
    if (parent instanceof RSet) {
      if (!parent.has(seg)) no();
      return RSet.of(parent.sorted().filter((x) => !equal(x, seg)));
    }
    return no();
  });
}

function applyOp(doc: Value | undefined, op: Value): Value | undefined {
  if (!(op instanceof RObject)) return no();
  const kind = op.getStr('op');
  const path = parsePath(op.getStr('path'));
  const value = op.getStr('value');
  switch (kind) {
    case 'add':
      return add(doc, path, value ?? no());
    case 'remove':
      return remove(doc, path);
    case 'replace': {
      const v = value ?? no();
      const cur = get(doc, path);
      if (path.length > 0 && get(doc, path.slice(0, -1)) instanceof RSet) return equal(cur, v) ? doc : no();
      return add(remove(doc, path), path, v);
    }
    case 'move': {
      const from = parsePath(op.getStr('from') ?? no());
      const v = get(doc, from);
      return add(remove(doc, from), path, v);
    }
    case 'copy':
      return add(doc, path, get(doc, parsePath(op.getStr('from') ?? no())));
    case 'test':
      return equal(get(doc, path), value ?? no()) ? doc : no();
    default:
      return no();
  }
}

export const jsonPatch = b(2, (a) => {
  let doc: Value | undefined = a[0] as Value;
  if (!(doc instanceof RObject) && !Array.isArray(doc) && !(doc instanceof RSet)) obj(a, 0);
  const ops = arr(a, 1);
  try {
    for (const op of ops) doc = applyOp(doc, op);
    return doc;
  } catch (e) {
    if (e instanceof PatchFail) return undefined;
    throw e;
  }
});
