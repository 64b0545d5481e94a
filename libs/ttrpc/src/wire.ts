/**
 * A minimal protobuf reader/writer for the handful of messages ttRPC itself defines
 * (`ttrpc.Request`, `ttrpc.Response`, `google.rpc.Status`, `ttrpc.KeyValue`). Keeping them
 * hand-coded keeps this package free of a protobuf runtime: payloads are opaque bytes here and
 * callers bring their own codec (protobufjs types in practice).
 */
import { KccError } from '@kata-cc/errors';

function malformed(what: string): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'TTRPC_MALFORMED_MESSAGE', message: `Cannot decode ttRPC message: ${what}` });
}

/** Appends protobuf fields to a growing list of chunks. */
export class PbWriter {
  readonly #chunks: Uint8Array[] = [];

  #varint(value: bigint): void {
    const out: number[] = [];
    let v = BigInt.asUintN(64, value);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.#chunks.push(Uint8Array.from(out));
  }

  /** A varint field (int32/int64/uint32/bool); zero values are skipped as proto3 does. */
  uint(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    this.#varint(BigInt((field << 3) | 0));
    this.#varint(BigInt(value));
    return this;
  }

  /** A length-delimited field; empty values are skipped unless `always`. */
  bytes(field: number, value: Uint8Array, always = false): this {
    if (value.length === 0 && !always) return this;
    this.#varint(BigInt((field << 3) | 2));
    this.#varint(BigInt(value.length));
    this.#chunks.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  finish(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

/** One decoded field: varints as bigint, length-delimited as bytes; fixed types as raw bytes. */
export interface PbField {
  field: number;
  wireType: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

/** Splits a message into fields; unknown fields are kept so callers can skip them. */
export function readFields(buf: Uint8Array): PbField[] {
  const fields: PbField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw malformed('truncated varint');
      const b = buf[pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw malformed('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0) throw malformed('field number 0');
    switch (wireType) {
      case 0:
        fields.push({ field, wireType, varint: varint() });
        break;
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (pos + size > buf.length) throw malformed('truncated fixed field');
        fields.push({ field, wireType, bytes: buf.subarray(pos, pos + size) });
        pos += size;
        break;
      }
      case 2: {
        const len = Number(varint());
        if (pos + len > buf.length) throw malformed('truncated length-delimited field');
        fields.push({ field, wireType, bytes: buf.subarray(pos, pos + len) });
        pos += len;
        break;
      }
      default:
        throw malformed(`unsupported wire type ${wireType}`);
    }
  }
  return fields;
}

export const utf8 = (b: Uint8Array | undefined): string => (b === undefined ? '' : Buffer.from(b).toString('utf8'));
