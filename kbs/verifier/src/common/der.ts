/**
 * A minimal DER reader: enough to walk X.509 certificates and CRLs for the fields node:crypto
 * does not expose (vendor extensions, CRL entries, the signed TBS bytes). Never used to
 * *trust* anything by itself: signatures are always checked over the exact bytes it returns.
 */
import { KccError } from '@kata-cc/errors';

export interface DerNode {
  /** Full identifier octet (class, constructed bit, tag number < 31). */
  readonly tag: number;
  /** The whole TLV, header included. */
  readonly raw: Uint8Array;
  /** The value octets only. */
  readonly value: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE: 0x13,
  IA5: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

function derError(message: string): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_DER_MALFORMED', message });
}

/** Reads one TLV at `offset`; returns the node and the offset after it. */
export function readTlv(buf: Uint8Array, offset = 0): { node: DerNode; next: number } {
  if (offset + 2 > buf.length) throw derError('Truncated DER header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError('High-tag-number DER form is not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw derError('Invalid DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw derError('DER value runs past its container');
  return { node: { tag, raw: buf.subarray(offset, p + len), value: buf.subarray(p, p + len) }, next: p + len };
}

/** The children of a constructed node. */
export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let p = 0;
  while (p < node.value.length) {
    const { node: child, next } = readTlv(node.value, p);
    out.push(child);
    p = next;
  }
  return out;
}

export function parseDer(buf: Uint8Array): DerNode {
  const { node, next } = readTlv(buf, 0);
  if (next !== buf.length) throw derError('Trailing bytes after DER value');
  return node;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw derError(`Expected ${what}`);
  return node;
}

/** Dotted string of an OBJECT IDENTIFIER value. */
export function oidToString(value: Uint8Array): string {
  if (value.length === 0) throw derError('Empty OID');
  const first = value[0]!;
  const parts: number[] = [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80];
  let acc = 0;
  for (let i = 1; i < value.length; i++) {
    const b = value[i]!;
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  return parts.join('.');
}

/** A non-negative INTEGER value as a JS number (vendor SVNs are small) or bigint hex. */
export function intValue(value: Uint8Array): number {
  let v = 0;
  for (const b of value) v = v * 256 + b;
  if (v > Number.MAX_SAFE_INTEGER) throw derError('INTEGER too large');
  return v;
}

export function intHex(value: Uint8Array): string {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  return Buffer.from(value.subarray(start)).toString('hex');
}

/** UTCTime / GeneralizedTime to a Date. */
export function timeValue(node: DerNode): Date {
  const s = Buffer.from(node.value).toString('latin1');
  let m: RegExpMatchArray | null;
  if (node.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (node.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw derError('Unsupported time encoding');
}
