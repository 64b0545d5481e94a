import net from 'node:net';
import type { Duplex } from 'node:stream';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { MessageCodec } from './codec.js';
import { FrameDecoder, MESSAGE_TYPE_REQUEST, MESSAGE_TYPE_RESPONSE, MAX_MESSAGE_LENGTH, encodeFrame } from './frame.js';
import { decodeResponse, encodeRequest, type KeyValue } from './messages.js';
import { errorFromStatus } from './status.js';

export interface CallOptions {
  /** Local deadline, also sent to the server as `timeout_nano`; 0 or absent = none. */
  timeoutMs?: number;
  metadata?: KeyValue[];
  signal?: AbortSignal;
}

export interface TtrpcClientOptions {
  logger?: Logger;
  /** Applied when a call gives no `timeoutMs`. */
  defaultTimeoutMs?: number;
}

interface Pending {
  resolve: (payload: Uint8Array) => void;
  reject: (err: unknown) => void;
}

const closedError = (why: string): KccError => new KccError({ kind: 'UNAVAILABLE', code: 'TTRPC_CLOSED', message: `ttRPC connection closed: ${why}` });

/**
 * A ttRPC client over one stream (Unix socket, virtio-serial port, vsock). Calls run
 * concurrently, each on its own odd stream id; responses are matched by id.
 */
export class TtrpcClient {
  readonly #stream: Duplex;
  readonly #pending = new Map<number, Pending>();
  readonly #log: Logger;
  readonly #defaultTimeoutMs: number;
  readonly #closeListeners: Array<(err: KccError) => void> = [];
  #nextId = 1;
  #closed: KccError | undefined;

  constructor(stream: Duplex, options: TtrpcClientOptions = {}) {
    this.#stream = stream;
    this.#log = (options.logger ?? silentLogger).child({ component: 'ttrpc-client' });
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? 0;
    const decoder = new FrameDecoder(MAX_MESSAGE_LENGTH);
    stream.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.kind === 'oversize') {
          this.#settle(f.streamId, undefined, new KccError({ kind: 'RESOURCE_EXHAUSTED', code: 'TTRPC_MESSAGE_TOO_LARGE', message: `ttRPC response of ${f.length} bytes exceeds ${MAX_MESSAGE_LENGTH}` }));
          continue;
        }
        if (f.frame.type !== MESSAGE_TYPE_RESPONSE) continue;
        this.#settle(f.frame.streamId, f.frame.payload, undefined);
      }
    });
    stream.on('error', (err) => this.#shutdown(closedError(err.message)));
    stream.on('close', () => this.#shutdown(closedError('peer closed the stream')));
    stream.on('end', () => this.#shutdown(closedError('peer ended the stream')));
  }

  /** Connects to a Unix socket path (`unix://` prefix accepted). */
  static async connect(address: string, options: TtrpcClientOptions & { connectTimeoutMs?: number } = {}): Promise<TtrpcClient> {
    const path = address.replace(/^unix:\/\//, '');
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(path);
      const t = setTimeout(() => {
        s.destroy();
        reject(new KccError({ kind: 'DEADLINE_EXCEEDED', code: 'TTRPC_CONNECT_TIMEOUT', message: `Cannot connect to ttRPC socket "${path}" in time` }));
      }, options.connectTimeoutMs ?? 10_000);
      s.once('connect', () => { clearTimeout(t); resolve(s); });
      s.once('error', (err) => {
        clearTimeout(t);
        reject(new KccError({ kind: 'UNAVAILABLE', code: 'TTRPC_CONNECT_FAILED', message: `Cannot connect to ttRPC socket "${path}"`, cause: err }));
      });
    });
    return new TtrpcClient(sock, options);
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Called once when the connection goes away (pending calls have been rejected by then). */
  onClose(listener: (err: KccError) => void): void {
    if (this.#closed) listener(this.#closed);
    else this.#closeListeners.push(listener);
  }

  #settle(streamId: number, body: Buffer | undefined, err: unknown): void {
    const p = this.#pending.get(streamId);
    if (p === undefined) return; // timed out or cancelled earlier: a late answer is dropped
    this.#pending.delete(streamId);
    if (err !== undefined || body === undefined) {
      p.reject(err);
      return;
    }
    try {
      const res = decodeResponse(body);
      if (res.status !== undefined && res.status.code !== 0) p.reject(res.status);
      else p.resolve(res.payload);
    } catch (e) {
      p.reject(e);
    }
  }

  #shutdown(err: KccError): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const [, p] of this.#pending) p.reject(err);
    this.#pending.clear();
    for (const l of this.#closeListeners.splice(0)) l(err);
  }

  /** One unary call with raw payload bytes. */
  async call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.#closed) throw this.#closed;
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    const id = this.#nextId;
    if (id > 0xffffffff) throw new KccError({ kind: 'RESOURCE_EXHAUSTED', code: 'TTRPC_STREAM_IDS_EXHAUSTED', message: 'ttRPC stream ids exhausted on this connection' });
    this.#nextId += 2;
    const body = encodeRequest({
      service,
      method,
      payload,
      timeoutNano: timeoutMs > 0 ? BigInt(timeoutMs) * 1_000_000n : 0n,
      metadata: options.metadata ?? [],
    });
    if (body.length > MAX_MESSAGE_LENGTH) {
      throw new KccError({ kind: 'RESOURCE_EXHAUSTED', code: 'TTRPC_MESSAGE_TOO_LARGE', message: `ttRPC request ${service}/${method} of ${body.length} bytes exceeds ${MAX_MESSAGE_LENGTH}` });
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        this.#pending.set(id, { resolve, reject });
        if (timeoutMs > 0) {
          timer = setTimeout(() => {
            this.#pending.delete(id);
            reject(new KccError({ kind: 'DEADLINE_EXCEEDED', code: 'TTRPC_TIMEOUT', message: `ttRPC call ${service}/${method} got no answer in ${timeoutMs} ms`, details: { service, method, timeoutMs } }));
          }, timeoutMs);
        }
        if (options.signal) {
          onAbort = () => {
            this.#pending.delete(id);
            reject(new KccError({ kind: 'UNAVAILABLE', code: 'TTRPC_CANCELLED', message: `ttRPC call ${service}/${method} was cancelled` }));
          };
          if (options.signal.aborted) onAbort();
          else options.signal.addEventListener('abort', onAbort, { once: true });
        }
        this.#stream.write(encodeFrame(id, MESSAGE_TYPE_REQUEST, 0, body));
      });
    } catch (err) {
      if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'number' && 'details' in err) {
        throw errorFromStatus(err as never, service, method);
      }
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      if (onAbort && options.signal) options.signal.removeEventListener('abort', onAbort);
      this.#log.trace({ service, method, streamId: id }, 'ttRPC call finished');
    }
  }

  /** One unary call with typed request and response. */
  async request<Req, Res>(service: string, method: string, requestType: MessageCodec<Req>, responseType: MessageCodec<Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    const payload = await this.call(service, method, requestType.encode(request), options);
    try {
      return responseType.decode(payload);
    } catch (cause) {
      // The peer is untrusted: a payload that is not its message type fails with a stable code, not the codec's RangeError.
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'TTRPC_MALFORMED_MESSAGE', message: `Cannot decode the ${service}/${method} response payload`, cause });
    }
  }

  /** Closes the connection; pending calls fail with TTRPC_CLOSED. */
  close(): void {
    this.#shutdown(closedError('closed by the client'));
    this.#stream.destroy();
  }
}
