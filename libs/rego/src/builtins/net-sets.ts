/** net.cidr_merge, net.cidr_expand and net.cidr_contains_matches (OPA shapes: sets of strings / key pairs). */
import type { Value } from '../value.js';
import { RObject, RSet } from '../value.js';
import { fail, str } from './check.js';
import { range } from './net.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

/** Largest expansion: a /16 of IPv4 (OPA has no limit; we refuse to build huge sets). */
const MAX_EXPAND = 65_536n;

/** Go's net.IP.String(): dotted IPv4; IPv6 lower-case hex with the longest zero run (>= 2) as `::`. */
export function formatIp(n: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return hex(g.slice(0, best)) + '::' + hex(g.slice(best + bestLen));
}

/** Smallest list of CIDR blocks covering [lo, hi] exactly. */
function blocks(lo: bigint, hi: bigint, width: number): string[] {
  const out: string[] = [];
  while (lo <= hi) {
    let len = width;
    // Grow the block while it stays aligned at lo and inside [lo, hi].
    while (len > 0) {
      const size = 1n << BigInt(width - len + 1);
      if ((lo & (size - 1n)) !== 0n || lo + size - 1n > hi) break;
      len--;
    }
    out.push(`${formatIp(lo, width === 128)}/${len}`);
    lo += 1n << BigInt(width - len);
  }
  return out;
}

function members(v: Value, name: string): Value[] {
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.sorted();
  return fail(`expects array/set argument for ${name}`);
}

/** Entries of a cidr_contains_matches operand: [key, cidr text]. */
function matchEntries(v: Value): [Value, string][] {
  const text = (x: Value): string => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && typeof x[0] === 'string') return x[0];
    throw new BuiltinError('net.cidr_contains_matches: operand must be a string or an array whose first element is a string');
  };
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, i) => [i, text(x)]);
  if (v instanceof RSet) return v.sorted().map((x) => [x, text(x)]);
  if (v instanceof RObject) return v.sortedKeys().map((k) => [k, text(v.get(k) as Value)]);
  throw new BuiltinError('net.cidr_contains_matches: operand must be a string, array, set or object');
}

export const NET_SETS: Table = {
  'net.cidr_merge': b(1, (a) => {
    const byFamily: Record<'4' | '6', { lo: bigint; hi: bigint }[]> = { '4': [], '6': [] };
    for (const x of members(a[0] as Value, 'addrs')) {
      if (typeof x !== 'string') throw new BuiltinError('net.cidr_merge: elements must be strings');
      const r = range(x, true);
      byFamily[r.v6 ? '6' : '4'].push({ lo: r.lo, hi: r.hi });
    }
    const out = new RSet();
    for (const fam of ['4', '6'] as const) {
      const rs = byFamily[fam].sort((x, y) => (x.lo < y.lo ? -1 : x.lo > y.lo ? 1 : 0));
      let cur: { lo: bigint; hi: bigint } | undefined;
      const flush = () => cur && blocks(cur.lo, cur.hi, fam === '6' ? 128 : 32).forEach((c) => out.add(c));
      for (const r of rs) {
        if (cur && r.lo <= cur.hi + 1n) cur.hi = r.hi > cur.hi ? r.hi : cur.hi;
        else {
          flush();
          cur = { ...r };
        }
      }
      flush();
    }
    return out;
  }),
  'net.cidr_expand': b(1, (a) => {
    const r = range(str(a, 0), false);
    if (r.hi - r.lo + 1n > MAX_EXPAND) throw new BuiltinError('net.cidr_expand: CIDR too large to expand (more than 65536 addresses)');
    const out = new RSet();
    for (let n = r.lo; n <= r.hi; n++) out.add(formatIp(n, r.v6));
    return out;
  }),
  'net.cidr_contains_matches': b(2, (a) => {
    const outer = matchEntries(a[0] as Value).map(([k, t]) => [k, range(t, true)] as const);
    const inner = matchEntries(a[1] as Value).map(([k, t]) => [k, range(t, true)] as const);
    const out = new RSet();
    for (const [ko, o] of outer) {
      for (const [ki, i] of inner) if (o.v6 === i.v6 && i.lo >= o.lo && i.hi <= o.hi) out.add([ko, ki]);
    }
    return out;
  }),
};
