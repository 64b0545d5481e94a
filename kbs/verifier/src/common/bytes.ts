/** Byte helpers shared by the hardware verifiers: hex, bounded little-endian reads. */
import { KccError } from '@kata-cc/errors';

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Parses hex with or without `0x`, ignoring whitespace; throws `code` on bad input. */
export function fromHex(text: string, code: string, what = 'value'): Uint8Array {
  const s = text.trim().replace(/^0x/i, '').replace(/\s+/g, '');
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: `The ${what} is not valid hex` });
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

/** A cursor over a byte array that fails with a stable code instead of reading past the end. */
export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  readonly code: string;
  readonly view: DataView;

  constructor(buf: Uint8Array, code: string, pos = 0) {
    this.buf = buf;
    this.code = code;
    this.pos = pos;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new KccError({
        kind: 'INVALID_ARGUMENT',
        code: this.code,
        message: `Truncated input while reading ${what}`,
        details: { offset: this.pos, needed: n, length: this.buf.length },
      });
    }
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
}
