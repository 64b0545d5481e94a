/** A minimal DER reader for the X.509 / PKCS#10 fields that node:crypto does not expose structurally. */
import { BuiltinError } from './types-api.js';

export interface Tlv {
  tag: number;
  /** Offsets in the buffer: header start, content start, end. */
  start: number;
  body: number;
  end: number;
  buf: Buffer;
}

export function readTlv(buf: Buffer, off: number): Tlv {
  if (off + 2 > buf.length) throw new BuiltinError('x509: truncated DER');
  const tag = buf[off] as number;
  let len = buf[off + 1] as number;
  let body = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > buf.length) throw new BuiltinError('x509: bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[body + i] as number);
    body += n;
  }
  if (body + len > buf.length) throw new BuiltinError('x509: truncated DER');
  return { tag, start: off, body, end: body + len, buf };
}

export function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = t.body; off < t.end; ) {
    const c = readTlv(t.buf, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

export const content = (t: Tlv): Buffer => t.buf.subarray(t.body, t.end);
export const raw = (t: Tlv): Buffer => t.buf.subarray(t.start, t.end);

/** OID as its arcs (Go's asn1.ObjectIdentifier marshals as an int array). */
export function oidArcs(t: Tlv): number[] {
  const b = content(t);
  const arcs: number[] = [];
  let v = 0;
  for (const byte of b) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs;
}

export const oid = (t: Tlv): string => oidArcs(t).join('.');

export function bigInt(t: Tlv): bigint {
  const b = content(t);
  if (b.length === 0) return 0n;
  let n = BigInt('0x' + b.toString('hex'));
  if ((b[0] as number) & 0x80) n -= 1n << BigInt(b.length * 8);
  return n;
}

export function text(t: Tlv): string {
  const b = content(t);
  if (t.tag === 0x1e) {
    // BMPString: UTF-16BE.
    let s = '';
    for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b.readUInt16BE(i));
    return s;
  }
  return b.toString(t.tag === 0x0c ? 'utf8' : 'latin1');
}

/** UTCTime / GeneralizedTime as RFC 3339 (Go's time.Time JSON form). */
export function time(t: Tlv): string {
  const s = content(t).toString('latin1');
  const full = t.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? '19' : '20') + s : s;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(full);
  if (!m) throw new BuiltinError('x509: bad time');
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`;
}
