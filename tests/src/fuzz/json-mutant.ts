/**
 * JSON inputs near a valid document: structural mutations (a member replaced by any JSON
 * value, deleted, or a new member added), byte mutations of its text, and unrelated garbage.
 */
import fc from 'fast-check';
import { mutate, mutationArb } from './budget.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function edit(doc: Json, path: (string | number)[], action: 'set' | 'delete' | 'add', value: Json, key: string): Json {
  const root = structuredClone(doc);
  if (path.length === 0) return action === 'set' ? value : root;
  let parent: Json = root;
  for (const p of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[p] as Json;
  const last = path[path.length - 1]!;
  const container = parent as Record<string | number, Json>;
  if (action === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete container[last];
  } else if (action === 'add') {
    const target = container[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, Json>)[key] = value;
    else container[last] = value;
  } else container[last] = value;
  return root;
}

const DEEP = 'fuzz-deep-nesting:';

function expandDeep(text: string): string {
  return text.replace(new RegExp(`"${DEEP}(\\d+)"`, 'g'), (_m, d: string) => '['.repeat(Number(d)) + ']'.repeat(Number(d)));
}

/** `[[[...]]]` nested `depth` times (built iteratively). */
export function deepArray(depth: number): Json {
  let v: Json = [];
  for (let i = 1; i < depth; i++) v = [v];
  return v;
}

/** Bytes of a JSON body derived from `valid` (a function so nonces can be fresh per run). */
export function jsonMutant(valid: Json): fc.Arbitrary<Uint8Array> {
  const ps = paths(valid);
  const text = new Uint8Array(Buffer.from(JSON.stringify(valid)));
  const value = fc.oneof(
    { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
    // Deep nesting (JSON.parse accepts it; a recursive walker may exhaust the stack).
    // (a placeholder here, expanded in the text: JSON.stringify itself would overflow on it)
    { weight: 1, arbitrary: fc.constantFrom(5000, 20000).map((d) => `${DEEP}${d}`) },
  );
  const structural = fc
    .tuple(fc.nat(ps.length - 1), fc.constantFrom('set', 'delete', 'add') as fc.Arbitrary<'set' | 'delete' | 'add'>, value, fc.string({ maxLength: 12 }))
    .map(([i, action, value, key]) => new Uint8Array(Buffer.from(expandDeep(JSON.stringify(edit(valid, ps[i]!, action, value, key))))));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(text) },
    { weight: 4, arbitrary: structural },
    { weight: 3, arbitrary: mutationArb(text.length).map((ms) => mutate(text, ms)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => new Uint8Array(Buffer.from(JSON.stringify(v) ?? 'null'))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 256 }).map((s) => new Uint8Array(Buffer.from(s))) },
  );
}

export type { Json };
