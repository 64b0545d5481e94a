/**
 * A minimal DER encoder for the FAKE TEE test CA (certificates, CRLs, vendor extensions).
 * Test support only: it writes exactly the structures the fake platforms need.
 */

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(value.length), value]);
}

export const seq = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octets = (v: Uint8Array): Buffer => tlv(0x04, v);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export const nul = (): Buffer => Buffer.from([0x05, 0]);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const ia5 = (s: string): Buffer => tlv(0x16, Buffer.from(s, 'latin1'));
/** Context-specific constructed [n]. */
export const ctx = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 + n, Buffer.concat(items));
/** BIT STRING with no unused bits. */
export const bits = (v: Uint8Array): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), v]));

/** INTEGER from a number, bigint or big-endian unsigned bytes. */
export function int(v: number | bigint | Uint8Array): Buffer {
  let b: Buffer;
  if (v instanceof Uint8Array) b = Buffer.from(v);
  else {
    let x = BigInt(v);
    const out: number[] = [];
    do {
      out.unshift(Number(x & 0xffn));
      x >>= 8n;
    } while (x > 0n);
    b = Buffer.from(out);
  }
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  b = b.subarray(i);
  if ((b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map((p) => BigInt(p));
  const out: number[] = [Number(parts[0]! * 40n + parts[1]!)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [];
    let x = p;
    do {
      chunk.unshift(Number(x & 0x7fn));
      x >>= 7n;
    } while (x > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime before 2050, GeneralizedTime after (RFC 5280). */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}
