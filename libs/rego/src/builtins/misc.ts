/** Small builtin groups: units, semver, uuid, trace. */
import { normBig } from '../numeric.js';
import { randomUUID } from 'node:crypto';
import type { Value } from '../value.js';
import { objectOf } from '../value.js';
import { str } from './check.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

const DECIMAL: Record<string, number> = {
  Q: 1e30, R: 1e27, Y: 1e24, Z: 1e21, E: 1e18, e: 1e18, P: 1e15, p: 1e15, T: 1e12, t: 1e12, G: 1e9, g: 1e9,
  M: 1e6, K: 1e3, k: 1e3, h: 1e2, da: 1e1, d: 1e-1, c: 1e-2, m: 1e-3, 'μ': 1e-6, 'µ': 1e-6, n: 1e-9, f: 1e-15,
  a: 1e-18, z: 1e-21, y: 1e-24, r: 1e-27, q: 1e-30,
};
const BINARY: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60, z: 2 ** 70, y: 2 ** 80 };
const NUM = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/;

function splitUnits(raw: string): { n: number; text: string; suffix: string } | undefined {
  if (/\s/.test(raw)) throw new BuiltinError('spaces not allowed in resource string');
  const s = raw.replace(/^"(.*)"$/, '$1');
  const m = NUM.exec(s);
  if (!m) return undefined;
  return { n: Number(m[0]), text: m[0], suffix: s.slice(m[0].length) };
}

/**
 * text * factor exactly when the result is an integer beyond 2^53 (OPA computes units with
 * big numbers: "100E" is 100000000000000000000, not 1e20 rounded); undefined otherwise.
 */
function exactBig(text: string, factor: bigint, round: boolean): Value | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[3] ?? '';
  const exp = Number(m[4] ?? 0) - frac.length;
  let n = BigInt((m[1] ?? '') + ((m[2] ?? '') + frac || '0')) * factor;
  if (exp >= 0) n *= 10n ** BigInt(exp);
  else {
    const d = 10n ** BigInt(-exp);
    if (n % d !== 0n && !round) return undefined;
    n = (n + (round ? d / 2n : 0n)) / d;
  }
  const v = normBig(n);
  return typeof v === 'bigint' ? v : undefined;
}

function bigFactor(f: number): bigint | undefined {
  if (f < 1) return undefined;
  for (let k = 0; k <= 100; k += 10) if (f === 2 ** k) return 1n << BigInt(k);
  return 10n ** BigInt(Math.round(Math.log10(f)));
}

function scale(n: number, factor: number): number {
  // Multiply or divide so that results such as 1e-3 are the nearest double, as in decimal math.
  return factor >= 1 ? n * factor : n / Math.round(1 / factor);
}

/** The exact big integer for results beyond 2^53, else undefined (the double path is exact enough). */
function big(p: { n: number; text: string }, f: number, round: boolean): Value | undefined {
  if (Math.abs(p.n * f) < 2 ** 53) return undefined;
  const bf = bigFactor(f);
  return bf === undefined ? undefined : exactBig(p.text, bf, round);
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function semverCmp(a: string, c: string): number {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(c);
  if (!x) throw new BuiltinError(`\`semver.compare\`: invalid semver ${JSON.stringify(a)}`);
  if (!y) throw new BuiltinError(`\`semver.compare\`: invalid semver ${JSON.stringify(c)}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return Math.sign(d);
  }
  const pa = x[4];
  const pb = y[4];
  if (pa === undefined || pb === undefined) return pa === pb ? 0 : pa === undefined ? 1 : -1;
  const sa = pa.split('.');
  const sb = pb.split('.');
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const u = sa[i];
    const v = sb[i];
    if (u === undefined) return -1;
    if (v === undefined) return 1;
    const un = /^\d+$/.test(u);
    const vn = /^\d+$/.test(v);
    if (un && vn) {
      const d = Number(u) - Number(v);
      if (d !== 0) return Math.sign(d);
    } else if (un !== vn) return un ? -1 : 1;
    else if (u !== v) return u < v ? -1 : 1;
  }
  return 0;
}

const GREGORIAN_OFFSET = 0x01b21dd213814000n;

function uuidParse(s: string): Value | undefined {
  const m = /^(?:urn:uuid:)?\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$/.exec(s);
  if (!m) return undefined;
  const hex = (m.slice(1) as string[]).join('').toLowerCase();
  const bytes = Buffer.from(hex, 'hex');
  const version = (bytes[6] as number) >> 4;
  const v8 = bytes[8] as number;
  const variant = (v8 & 0x80) === 0 ? 'Reserved, NCS backward compatibility' : (v8 & 0x40) === 0 ? 'RFC4122' : (v8 & 0x20) === 0 ? 'Reserved, Microsoft Corporation backward compatibility' : 'Reserved, future definition';
  const out: Array<[Value, Value]> = [['version', version], ['variant', variant]];
  const node = () => {
    const n0 = bytes[10] as number;
    out.push(['nodeid', [...bytes.subarray(10)].map((x) => x.toString(16).padStart(2, '0')).join('-')]);
    out.push(['macvariables', `${n0 & 2 ? 'local' : 'global'}:${n0 & 1 ? 'multicast' : 'unicast'}`]);
  };
  const toNs = (ts: bigint): number => Number((ts - GREGORIAN_OFFSET) * 100n);
  const timeLow = BigInt(bytes.readUInt32BE(0));
  const timeMid = BigInt(bytes.readUInt16BE(4));
  const timeHi = BigInt(bytes.readUInt16BE(6) & 0x0fff);
  if (version === 1) {
    out.push(['time', toNs((timeHi << 48n) | (timeMid << 32n) | timeLow)]);
    out.push(['clocksequence', ((v8 & 0x3f) << 8) | (bytes[9] as number)]);
    node();
  } else if (version === 2) {
    out.push(['time', toNs((timeHi << 48n) | (timeMid << 32n) | timeLow)]);
    out.push(['clocksequence', (v8 & 0x3f) << 8]);
    out.push(['id', Number(timeLow)]);
    const dom = bytes[9] as number;
    out.push(['domain', dom === 0 ? 'Person' : dom === 1 ? 'Group' : dom === 2 ? 'Org' : `Domain${dom}`]);
    node();
  } else if (version === 6) {
    const ts = (timeLow << 28n) | (timeMid << 12n) | timeHi;
    out.push(['time', toNs(ts)]);
  } else if (version === 7) {
    const ms = (BigInt(bytes.readUInt32BE(0)) << 16n) | BigInt(bytes.readUInt16BE(4));
    out.push(['time', Number(ms * 1000000n)]);
  }
  return objectOf(out);
}

export const MISC: Table = {
  trace: b(1, () => true),
  'units.parse': b(1, (a) => {
    const p = splitUnits(str(a, 0));
    if (!p) throw new BuiltinError('could not parse units', false, true);
    if (p.suffix === '') return big(p, 1, false) ?? p.n;
    const bin = /^([a-zA-Z])i$/i.exec(p.suffix);
    if (bin) {
      const f = BINARY[(bin[1] as string).toLowerCase()];
      if (f !== undefined) return big(p, f, false) ?? p.n * f;
    }
    const f = DECIMAL[p.suffix];
    if (f === undefined) throw new BuiltinError(`unknown unit suffix ${p.suffix}`, false, true);
    return big(p, f, false) ?? scale(p.n, f);
  }),
  'units.parse_bytes': b(1, (a) => {
    const p = splitUnits(str(a, 0));
    if (!p) throw new BuiltinError('could not parse bytes', false, true);
    const suf = p.suffix.toLowerCase().replace(/b$/, '');
    if (suf === '') return big(p, 1, true) ?? Math.round(p.n);
    const bin = /^([a-z])i$/.exec(suf);
    const f = bin ? BINARY[bin[1] as string] : suf.length === 1 ? ({ k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15, e: 1e18, z: 1e21, y: 1e24, r: 1e27, q: 1e30 } as Record<string, number>)[suf] : undefined;
    if (f === undefined) throw new BuiltinError(`unknown byte unit ${p.suffix}`, false, true);
    return big(p, f, true) ?? Math.round(p.n * f);
  }),
  'semver.is_valid': b(1, (a) => SEMVER.test(str(a, 0))),
  'semver.compare': b(2, (a) => semverCmp(str(a, 0), str(a, 1))),
  'uuid.parse': b(1, (a) => uuidParse(str(a, 0))),
  'uuid.rfc4122': b(1, (a, ctx) => {
    const seed = str(a, 0);
    const key = `uuid\u0000${seed}`;
    const hit = ctx.memo.get(key);
    if (hit !== undefined) return hit;
    const id = randomUUID();
    ctx.memo.set(key, id);
    return id;
  }),
};
