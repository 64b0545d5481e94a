/** net.cidr_* over IPv4 and IPv6 (addresses as BigInt ranges) and io.jwt.decode (no verification). */
import { isIPv4, isIPv6 } from 'node:net';
import type { Value } from '../value.js';
import { fromJson } from '../value.js';
import { str } from './check.js';
import { b, BuiltinError } from './types-api.js';
import type { Table } from './types-api.js';

interface Range {
  v6: boolean;
  lo: bigint;
  hi: bigint;
}

export function ipToBig(ip: string): { v6: boolean; n: bigint } | undefined {
  if (isIPv4(ip)) return { v6: false, n: ip.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n) };
  if (!isIPv6(ip)) return undefined;
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBig(v4[1] as string)?.n ?? 0n;
    text = text.slice(0, -(v4[1] as string).length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { v6: true, n: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

export function range(text: string, allowIp: boolean): Range {
  const [ip, bits] = text.split('/') as [string, string?];
  const a = ipToBig(ip);
  if (!a || (bits === undefined && !allowIp)) throw new BuiltinError(`invalid CIDR ${JSON.stringify(text)}`);
  const width = a.v6 ? 128 : 32;
  const len = bits === undefined ? width : Number(bits);
  if (!/^\d+$/.test(bits ?? '0') || len > width) throw new BuiltinError(`invalid CIDR ${JSON.stringify(text)}`);
  const host = (1n << BigInt(width - len)) - 1n;
  return { v6: a.v6, lo: a.n & ~host, hi: (a.n & ~host) | host };
}

function b64urlJson(part: string): Value {
  try {
    return fromJson(JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  } catch {
    throw new BuiltinError('io.jwt.decode: invalid JWT segment');
  }
}

export const NET: Table = {
  'net.cidr_contains': b(2, (a) => {
    const outer = range(str(a, 0), false);
    const inner = range(str(a, 1), true);
    return outer.v6 === inner.v6 && inner.lo >= outer.lo && inner.hi <= outer.hi;
  }),
  'net.cidr_intersects': b(2, (a) => {
    const x = range(str(a, 0), false);
    const y = range(str(a, 1), false);
    return x.v6 === y.v6 && x.lo <= y.hi && y.lo <= x.hi;
  }),
  'net.cidr_is_valid': b(1, (a) => {
    if (typeof a[0] !== 'string' || !a[0].includes('/')) return false;
    try {
      range(a[0], false);
      return true;
    } catch {
      return false;
    }
  }),
  'io.jwt.decode': b(1, (a) => {
    const parts = str(a, 0).split('.');
    if (parts.length !== 3) throw new BuiltinError('io.jwt.decode: a JWS compact token has three parts');
    return [b64urlJson(parts[0] as string), b64urlJson(parts[1] as string), Buffer.from(parts[2] as string, 'base64url').toString('hex')];
  }),
};
