import type { Duplex } from 'node:stream';
import { TtrpcClient, type CallOptions } from '@kata-cc/ttrpc';
import { AGENT_SERVICE, HEALTH_SERVICE, agentMethods, codec } from './proto.js';

type Msg = Record<string, unknown>;

/**
 * A typed-by-name client of the kata agent API over any stream (virtio-serial socket, vsock,
 * Unix socket): what tests and benchmarks use to drive the agent like the shim does.
 */
export class AgentClient {
  readonly ttrpc: TtrpcClient;
  readonly #methods = agentMethods();

  constructor(stream: Duplex) {
    this.ttrpc = new TtrpcClient(stream);
  }

  /** Calls grpc.AgentService/<method> with a plain object request (proto field names). */
  async call<T = Msg>(method: string, request: Msg = {}, options: CallOptions = {}): Promise<T> {
    const types = this.#methods.get(method);
    if (!types) throw new TypeError(`Unknown agent method ${method}`);
    const payload = await this.ttrpc.call(AGENT_SERVICE, method, codec(types.request).encode(request), options);
    return codec<T>(types.response).decode(payload);
  }

  async check(options: CallOptions = {}): Promise<number> {
    const payload = await this.ttrpc.call(HEALTH_SERVICE, 'Check', codec('grpc.CheckRequest').encode({ service: '' }), options);
    return Number(codec('grpc.HealthCheckResponse').decode(payload)['status']);
  }

  /** Reads stdout/stderr of a process until EOF (the agent reports EOF as an error). */
  async readAll(containerId: string, execId: string, which: 'ReadStdout' | 'ReadStderr' = 'ReadStdout'): Promise<Buffer> {
    const out: Buffer[] = [];
    for (;;) {
      try {
        const r = await this.call<{ data: Buffer }>(which, { container_id: containerId, exec_id: execId, len: 32 * 1024 });
        out.push(Buffer.from(r.data));
      } catch (err) {
        if ((err as { code?: string }).code === 'AGENT_STREAM_EOF' || /eof/i.test((err as Error).message)) return Buffer.concat(out);
        throw err;
      }
    }
  }

  close(): void {
    this.ttrpc.close();
  }
}
