import type * as Grpc from '@grpc/grpc-js';
import { imgError } from '../errors.js';
import type { KeyUnwrapper, UnwrapRequest } from './key-unwrapper.js';

// keyprovider.proto has one message shape both ways: `bytes = 1`. Encoding it by hand keeps
// protobuf loading off the guest's startup path (protocols/proto/keyprovider/keyprovider.proto).
function encodeBytesField(data: Buffer): Buffer {
  const len: number[] = [];
  let n = data.length;
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    len.push(b);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x0a, ...len]), data]);
}

export function decodeBytesField(buf: Buffer): Buffer {
  let pos = 0;
  let out: Buffer = Buffer.alloc(0);
  while (pos < buf.length) {
    const tag = buf[pos++] ?? 0;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    if ((tag & 7) !== 2) throw new Error('unexpected wire type');
    if ((tag >> 3) === 1) out = buf.subarray(pos, pos + len);
    pos += len;
  }
  return out;
}

const SERVICE = {
  UnWrapKey: {
    path: '/keyprovider.KeyProviderService/UnWrapKey',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeBytesField,
    requestDeserialize: decodeBytesField,
    responseSerialize: encodeBytesField,
    responseDeserialize: decodeBytesField,
  },
} as const;

// grpc-js is loaded on first use only: most pulls need no keyprovider (guest startup time).
let clientCtor: Promise<{ grpc: typeof Grpc; Client: Grpc.ServiceClientConstructor }> | undefined;
function loadClient(): Promise<{ grpc: typeof Grpc; Client: Grpc.ServiceClientConstructor }> {
  clientCtor ??= import('@grpc/grpc-js').then((m) => {
    const grpc = (m as unknown as { default?: typeof Grpc }).default ?? (m as unknown as typeof Grpc);
    return { grpc, Client: grpc.makeGenericClientConstructor(SERVICE as unknown as Grpc.ServiceDefinition, 'KeyProviderService') };
  });
  return clientCtor;
}

/** The ocicrypt keyprovider JSON for an unwrap (Go marshals []byte as base64). */
export function unwrapInputJson(req: UnwrapRequest): string {
  return JSON.stringify({
    op: 'keyunwrap',
    keywrapparams: { ec: null, optsdata: null },
    keyunwrapparams: {
      dc: { Parameters: { [req.provider]: (req.parameters ?? []).map((p) => Buffer.from(p).toString('base64')) } },
      annotation: Buffer.from(req.annotation).toString('base64'),
    },
  });
}

/** Reads `{"keyunwrapresults":{"optsdata":...}}`; accepts base64 (Go) or a number array (Rust). */
export function parseUnwrapOutput(json: Buffer): Buffer {
  const parsed = JSON.parse(json.toString('utf8')) as { keyunwrapresults?: { optsdata?: unknown } };
  const o = parsed.keyunwrapresults?.optsdata;
  if (typeof o === 'string') return Buffer.from(o, 'base64');
  if (Array.isArray(o) && o.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Buffer.from(o as number[]);
  throw new Error('response has no keyunwrapresults.optsdata');
}

/** gRPC client of `keyprovider.KeyProviderService/UnWrapKey` (CDH, coco-keyprovider). */
export class GrpcKeyProvider implements KeyUnwrapper {
  readonly #address: string;
  readonly #timeoutMs: number;
  #client: Grpc.Client | undefined;

  /** `address`: `host:port`, `unix:///path`, or `grpc://host:port`. */
  constructor(address: string, timeoutMs = 30_000) {
    this.#address = address.replace(/^grpc:\/\//, '');
    this.#timeoutMs = timeoutMs;
  }

  async unwrapKey(req: UnwrapRequest): Promise<Uint8Array> {
    const { grpc, Client } = await loadClient();
    this.#client ??= new Client(this.#address, grpc.credentials.createInsecure());
    const client = this.#client as unknown as {
      UnWrapKey(arg: Buffer, opts: Grpc.CallOptions, cb: (err: Grpc.ServiceError | null, res?: Buffer) => void): void;
    };
    const input = Buffer.from(unwrapInputJson(req));
    const out = await new Promise<Buffer>((resolve, reject) => {
      client.UnWrapKey(input, { deadline: Date.now() + this.#timeoutMs }, (err, res) => {
        if (err !== null) {
          reject(imgError('IMG_KEYPROVIDER_FAILED', `Key provider ${this.#address} UnWrapKey failed: ${err.details || err.message}`, { grpcCode: err.code }));
        } else resolve(res ?? Buffer.alloc(0));
      });
    });
    try {
      return parseUnwrapOutput(out);
    } catch (err) {
      throw imgError('IMG_KEYPROVIDER_FAILED', `Key provider ${this.#address} returned an invalid UnWrapKey response: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}
