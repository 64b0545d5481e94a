/**
 * ttRPC framing (containerd/ttrpc `channel.go`): a 10-byte header, then the payload.
 *   +0 u32 BE payload length (header excluded), +4 u32 BE stream id, +8 u8 type, +9 u8 flags.
 */
export const HEADER_LENGTH = 10;
/** containerd/ttrpc `messageLengthMax`: larger frames are refused with RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_LENGTH = 4 << 20;

export const MESSAGE_TYPE_REQUEST = 1;
export const MESSAGE_TYPE_RESPONSE = 2;
export const MESSAGE_TYPE_DATA = 3;

export const FLAG_REMOTE_CLOSED = 0x1;
export const FLAG_REMOTE_OPEN = 0x2;
export const FLAG_NO_DATA = 0x4;

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  payload: Buffer;
}

export function encodeFrame(streamId: number, type: number, flags: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(streamId >>> 0, 4);
  out.writeUInt8(type, 8);
  out.writeUInt8(flags, 9);
  out.set(payload, HEADER_LENGTH);
  return out;
}

/** What the decoder yields: a whole frame, or the header of one too large to accept. */
export type DecodedFrame = { kind: 'frame'; frame: Frame } | { kind: 'oversize'; streamId: number; type: number; length: number };

/**
 * Incremental frame parser for a byte stream. An oversized frame is reported once and its
 * payload discarded as it arrives, so the connection stays in sync (as the Go channel does).
 */
export class FrameDecoder {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  #skip = 0;

  constructor(maxLength = MAX_MESSAGE_LENGTH) {
    this.#max = maxLength;
  }

  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    let data = chunk;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, data.length);
      this.#skip -= n;
      data = data.subarray(n);
    }
    this.#buf = this.#buf.length === 0 ? data : Buffer.concat([this.#buf, data]);
    for (;;) {
      if (this.#buf.length < HEADER_LENGTH) break;
      const length = this.#buf.readUInt32BE(0);
      const streamId = this.#buf.readUInt32BE(4);
      const type = this.#buf.readUInt8(8);
      const flags = this.#buf.readUInt8(9);
      if (length > this.#max) {
        out.push({ kind: 'oversize', streamId, type, length });
        const available = this.#buf.length - HEADER_LENGTH;
        const dropped = Math.min(available, length);
        this.#skip = length - dropped;
        this.#buf = this.#buf.subarray(HEADER_LENGTH + dropped);
        if (this.#skip > 0) break;
        continue;
      }
      if (this.#buf.length < HEADER_LENGTH + length) break;
      const payload = Buffer.from(this.#buf.subarray(HEADER_LENGTH, HEADER_LENGTH + length));
      this.#buf = this.#buf.subarray(HEADER_LENGTH + length);
      out.push({ kind: 'frame', frame: { streamId, type, flags, payload } });
    }
    if (this.#buf.length === 0) this.#buf = Buffer.alloc(0);
    return out;
  }
}
