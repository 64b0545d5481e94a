import net from 'node:net';
import type { Duplex } from 'node:stream';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import type { MessageCodec } from './codec.js';
import { FLAG_REMOTE_OPEN, FrameDecoder, MESSAGE_TYPE_REQUEST, MESSAGE_TYPE_RESPONSE, MAX_MESSAGE_LENGTH, encodeFrame } from './frame.js';
import { decodeRequest, encodeResponse, type KeyValue, type RpcStatus } from './messages.js';
import { GrpcCode, statusFromError } from './status.js';

/** What a handler learns about its call besides the request. */
export interface CallContext {
  service: string;
  method: string;
  /** ttRPC metadata, e.g. `containerd-namespace-ttrpc`. */
  metadata: readonly KeyValue[];
  /** Aborted when the caller's `timeout_nano` passes or the connection closes. */
  signal: AbortSignal;
}

/** One unary method: typed request in, typed response out; throw KccError for failures. */
export interface MethodDefinition<Req, Res> {
  requestType: MessageCodec<Req>;
  responseType: MessageCodec<Res>;
  handler: (request: Req, ctx: CallContext) => Promise<Res>;
}

/** A method of any request/response types, as a service table holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethodDefinition = MethodDefinition<any, any>;

/** Types a method definition from its codecs (so handlers get typed parameters). */
export function unaryMethod<Req, Res>(def: MethodDefinition<Req, Res>): AnyMethodDefinition {
  return def;
}

type AnyMethod = AnyMethodDefinition;

export interface TtrpcServerDeps {
  logger?: Logger;
}

/**
 * A ttRPC server: services are registered by their fully qualified proto name
 * (`containerd.task.v2.Task`, `grpc.AgentService`) and served on any number of connections.
 * Only unary calls are supported, as containerd's Task API and the kata agent API need.
 */
export class TtrpcServer {
  readonly #methods = new Map<string, AnyMethod>();
  readonly #connections = new Set<Duplex>();
  readonly #listeners = new Set<net.Server>();
  readonly #log: Logger;

  constructor(deps: TtrpcServerDeps = {}) {
    this.#log = (deps.logger ?? silentLogger).child({ component: 'ttrpc-server' });
  }

  /** Registers every method of a service; a name registered twice is a programming error. */
  register(service: string, methods: Record<string, AnyMethodDefinition>): void {
    for (const [method, def] of Object.entries(methods)) {
      const key = `${service}/${method}`;
      if (this.#methods.has(key)) throw new TypeError(`ttRPC method ${key} registered twice`);
      this.#methods.set(key, def);
    }
  }

  /** Serves requests arriving on one already-connected stream until it ends. */
  serve(stream: Duplex): void {
    this.#connections.add(stream);
    const decoder = new FrameDecoder(MAX_MESSAGE_LENGTH);
    const inflight = new Set<AbortController>();
    const reply = (streamId: number, status: RpcStatus | undefined, payload: Uint8Array): void => {
      if (stream.destroyed || !stream.writable) return;
      const body = encodeResponse(status === undefined ? { payload } : { status, payload });
      stream.write(encodeFrame(streamId, MESSAGE_TYPE_RESPONSE, 0, body));
    };
    const fail = (streamId: number, code: number, message: string): void => reply(streamId, { code, message, details: [] }, new Uint8Array(0));
    stream.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        this.#log.warn({ err }, 'dropping ttRPC connection after a framing error');
        stream.destroy();
        return;
      }
      for (const f of frames) {
        if (f.kind === 'oversize') {
          fail(f.streamId, GrpcCode.RESOURCE_EXHAUSTED, `message length ${f.length} exceeds maximum message size of ${MAX_MESSAGE_LENGTH}`);
          continue;
        }
        const { frame } = f;
        if (frame.type !== MESSAGE_TYPE_REQUEST) {
          // Data frames belong to streaming calls, which no service here defines.
          this.#log.debug({ streamId: frame.streamId, type: frame.type }, 'ignoring non-request ttRPC frame');
          continue;
        }
        if ((frame.flags & FLAG_REMOTE_OPEN) !== 0) {
          fail(frame.streamId, GrpcCode.UNIMPLEMENTED, 'streaming ttRPC calls are not supported');
          continue;
        }
        void this.#dispatch(frame.streamId, frame.payload, inflight, reply, fail);
      }
    });
    const cleanup = (): void => {
      this.#connections.delete(stream);
      for (const c of inflight) c.abort(new KccError({ kind: 'UNAVAILABLE', code: 'TTRPC_CLOSED', message: 'ttRPC connection closed' }));
    };
    stream.on('close', cleanup);
    stream.on('error', (err) => this.#log.debug({ err }, 'ttRPC connection error'));
  }

  async #dispatch(
    streamId: number,
    body: Buffer,
    inflight: Set<AbortController>,
    reply: (id: number, s: RpcStatus | undefined, p: Uint8Array) => void,
    fail: (id: number, code: number, msg: string) => void,
  ): Promise<void> {
    let req;
    try {
      req = decodeRequest(body);
    } catch (err) {
      fail(streamId, GrpcCode.INVALID_ARGUMENT, (err as Error).message);
      return;
    }
    const def = this.#methods.get(`${req.service}/${req.method}`);
    if (def === undefined) {
      const known = [...this.#methods.keys()].some((k) => k.startsWith(`${req.service}/`));
      fail(streamId, GrpcCode.UNIMPLEMENTED, known ? `method ${req.service}/${req.method} is not implemented` : `service ${req.service} is not implemented`);
      return;
    }
    const ac = new AbortController();
    inflight.add(ac);
    let timer: NodeJS.Timeout | undefined;
    if (req.timeoutNano > 0n) {
      const ms = Number(req.timeoutNano / 1_000_000n);
      timer = setTimeout(() => ac.abort(new KccError({ kind: 'DEADLINE_EXCEEDED', code: 'TTRPC_DEADLINE_EXCEEDED', message: `${req.service}/${req.method} exceeded its ${ms} ms deadline` })), ms);
    }
    const started = Date.now();
    try {
      let request: unknown;
      try {
        request = def.requestType.decode(req.payload);
      } catch (cause) {
        // A payload that is not the method's message type is the caller's error (not INTERNAL with the codec's text).
        throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'TTRPC_MALFORMED_MESSAGE', message: `Cannot decode the ${req.service}/${req.method} request payload`, cause });
      }
      const ctx: CallContext = { service: req.service, method: req.method, metadata: req.metadata, signal: ac.signal };
      const response = await def.handler(request, ctx);
      reply(streamId, undefined, def.responseType.encode(response));
      this.#log.debug({ method: `${req.service}/${req.method}`, ms: Date.now() - started }, 'ttRPC call done');
    } catch (err) {
      const status = statusFromError(err);
      this.#log.debug({ method: `${req.service}/${req.method}`, code: status.code, err }, 'ttRPC call failed');
      reply(streamId, status, new Uint8Array(0));
    } finally {
      if (timer) clearTimeout(timer);
      inflight.delete(ac);
    }
  }

  /**
   * Listens on a Unix socket path (created with mode 0600: the peer check Go ttrpc does with
   * SO_PEERCRED is done by file permissions here) or on an inherited listening fd.
   */
  async listen(target: { path: string } | { fd: number }): Promise<net.Server> {
    const srv = net.createServer((sock) => this.serve(sock));
    this.#listeners.add(srv);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      if ('path' in target) srv.listen(target.path, () => resolve());
      else srv.listen({ fd: target.fd }, () => resolve());
    });
    if ('path' in target) {
      const { chmod } = await import('node:fs/promises');
      // SECURITY: only the owner (root for containerd) may connect to a ttRPC socket.
      await chmod(target.path, 0o600);
    }
    return srv;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const c of this.#connections) c.destroy();
    await Promise.all([...this.#listeners].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.#listeners.clear();
  }
}
