/**
 * Rego values. Scalars and arrays are plain JS values (no wrapping, so input converts
 * cheaply); objects and sets are small classes keyed by a primitive "map key" so lookups
 * are O(1) and composite keys (arrays, objects, sets) still compare structurally.
 * `undefined` is never a value: it means "no value" (OPA's undefined).
 */
import { normBig } from './numeric.js';

export type Value = null | boolean | number | bigint | string | Value[] | RObject | RSet;

type MapKey = string | number | bigint | boolean | null;

/** The Map key of a value: primitives are themselves, composites a canonical string. */
export function mapKey(v: Value): MapKey {
  if (typeof v === 'string') return v.charCodeAt(0) === 1 ? '\u0001s' + v : v;
  if (v === null || typeof v !== 'object') return v;
  return '\u0001c' + canonical(v);
}

function canonical(v: Value): string {
  if (typeof v === 'bigint') return String(v);
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v instanceof RSet) return 's{' + v.sorted().map(canonical).join(',') + '}';
  return 'o{' + v.sortedKeys().map((k) => canonical(k) + ':' + canonical(v.get(k) as Value)).join(',') + '}';
}

/** Keys of composite (or escaped) entries are kept beside the values to recover them. */
function needsOrig(k: MapKey): boolean {
  return typeof k === 'string' && k.charCodeAt(0) === 1;
}

export class RObject {
  readonly vals = new Map<MapKey, Value>();
  private orig: Map<MapKey, Value> | undefined;
  private sortedCache: Value[] | undefined;

  get size(): number {
    return this.vals.size;
  }
  get(key: Value): Value | undefined {
    return this.vals.get(mapKey(key));
  }
  /** Fast path for string keys (the overwhelming majority). */
  getStr(key: string): Value | undefined {
    return this.vals.get(key.charCodeAt(0) === 1 ? '\u0001s' + key : key);
  }
  has(key: Value): boolean {
    return this.vals.has(mapKey(key));
  }
  /** Mutates: only while building a fresh object. */
  set(key: Value, value: Value): void {
    const k = mapKey(key);
    if (needsOrig(k)) (this.orig ??= new Map()).set(k, key);
    this.vals.set(k, value);
    this.sortedCache = undefined;
  }
  delete(key: Value): void {
    const k = mapKey(key);
    this.vals.delete(k);
    this.orig?.delete(k);
    this.sortedCache = undefined;
  }
  keyOf(k: MapKey): Value {
    return needsOrig(k) ? (this.orig?.get(k) as Value) : k;
  }
  /** Keys in Rego order (cached: objects are immutable once built). */
  sortedKeys(): Value[] {
    if (this.sortedCache === undefined) {
      const ks: Value[] = [];
      for (const k of this.vals.keys()) ks.push(this.keyOf(k));
      this.sortedCache = ks.sort(compare);
    }
    return this.sortedCache;
  }
  *entries(): IterableIterator<[Value, Value]> {
    for (const k of this.sortedKeys()) yield [k, this.get(k) as Value];
  }
  clone(): RObject {
    const o = new RObject();
    for (const [k, v] of this.vals) o.vals.set(k, v);
    if (this.orig) o.orig = new Map(this.orig);
    return o;
  }
}

export class RSet {
  readonly vals = new Map<MapKey, Value>();
  private sortedCache: Value[] | undefined;

  get size(): number {
    return this.vals.size;
  }
  has(v: Value): boolean {
    return this.vals.has(mapKey(v));
  }
  add(v: Value): void {
    const k = mapKey(v);
    if (!this.vals.has(k)) {
      this.vals.set(k, v);
      this.sortedCache = undefined;
    }
  }
  sorted(): Value[] {
    if (this.sortedCache === undefined) this.sortedCache = [...this.vals.values()].sort(compare);
    return this.sortedCache;
  }
  static of(items: Iterable<Value>): RSet {
    const s = new RSet();
    for (const v of items) s.add(v);
    return s;
  }
}

export function objectOf(entries: Iterable<[Value, Value]>): RObject {
  const o = new RObject();
  for (const [k, v] of entries) o.set(k, v);
  return o;
}

function rank(v: Value): number {
  if (v === null) return 0;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    default:
      // Sets sort before objects, as in regorus (OPA puts objects first; only mixed
      // set/object collections can tell the difference).
      return Array.isArray(v) ? 4 : v instanceof RSet ? 5 : 6;
  }
}

/** Total order of Rego values: null < boolean < number < string < array < set < object. */
export function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 1:
      return a ? 1 : -1;
    case 2:
      // number and bigint compare exactly with each other.
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3:
      return (a as string) < (b as string) ? -1 : 1;
    case 4:
      return compareLists(a as Value[], b as Value[]);
    case 5:
      return compareLists((a as RSet).sorted(), (b as RSet).sorted());
    default: {
      const oa = a as RObject;
      const ob = b as RObject;
      const ka = oa.sortedKeys();
      const kb = ob.sortedKeys();
      const n = Math.min(ka.length, kb.length);
      for (let i = 0; i < n; i++) {
        const c = compare(ka[i] as Value, kb[i] as Value);
        if (c !== 0) return c;
        const d = compare(oa.get(ka[i] as Value) as Value, ob.get(kb[i] as Value) as Value);
        if (d !== 0) return d;
      }
      return ka.length - kb.length;
    }
  }
}

function compareLists(a: Value[], b: Value[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compare(a[i] as Value, b[i] as Value);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  // Hot path (unification, membership): no mixed number/bigint check here; `==` does it.
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i] as Value, b[i] as Value)) return false;
    return true;
  }
  if (a instanceof RObject) {
    if (!(b instanceof RObject) || a.size !== b.size) return false;
    for (const [k, v] of a.vals) {
      const w = b.vals.get(k);
      if (w === undefined || !equal(v, w)) return false;
    }
    return true;
  }
  if (!(b instanceof RSet) || a.size !== b.size) return false;
  for (const k of a.vals.keys()) if (!b.vals.has(k)) return false;
  return true;
}

export function typeName(v: Value): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
    default:
      return Array.isArray(v) ? 'array' : v instanceof RObject ? 'object' : 'set';
  }
}

/** Converts parsed JSON (or YAML) into a Rego value. Throws TypeError on non-JSON input. */
export function fromJson(j: unknown): Value {
  if (j === null || typeof j === 'string' || typeof j === 'boolean') return j;
  if (typeof j === 'number') {
    if (!Number.isFinite(j)) throw new TypeError('non-finite number');
    // A JS number stays the double the caller parsed (behaviour of already-parsed input is
    // unchanged); exact big integers come in as bigint (parseJson).
    return j;
  }
  if (typeof j === 'bigint') return normBig(j);
  if (Array.isArray(j)) return j.map(fromJson);
  if (j instanceof RObject || j instanceof RSet) return j;
  if (typeof j === 'object') {
    const o = new RObject();
    for (const k of Object.keys(j)) {
      const v = (j as Record<string, unknown>)[k];
      if (v !== undefined) o.set(k, fromJson(v));
    }
    return o;
  }
  throw new TypeError(`unsupported ${typeof j} value`);
}

/**
 * Converts a Rego value to plain JSON: sets become sorted arrays, object keys strings.
 * Big integers stay `bigint` when `bigints`, else they become the nearest JS number.
 */
export function toJson(v: Value, bigints = false): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' && !bigints ? Number(v) : v;
  if (Array.isArray(v)) return v.map((x) => toJson(x, bigints));
  if (v instanceof RSet) return v.sorted().map((x) => toJson(x, bigints));
  const out: Record<string, unknown> = {};
  for (const k of v.sortedKeys()) {
    out[typeof k === 'string' ? k : jsonText(k)] = toJson(v.get(k) as Value, bigints);
  }
  return out;
}

/** JSON text of a value with sorted keys (sets as arrays, big integers exact), as OPA marshals it. */
export function jsonText(v: Value): string {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? String(v) : JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(jsonText).join(',') + ']';
  if (v instanceof RSet) return '[' + v.sorted().map(jsonText).join(',') + ']';
  return '{' + v.sortedKeys().map((k) => JSON.stringify(typeof k === 'string' ? k : jsonText(k)) + ':' + jsonText(v.get(k) as Value)).join(',') + '}';
}

/** A big integer as a Rego number (a plain number when safe). */
export const bigValue = normBig;
