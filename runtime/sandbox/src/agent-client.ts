import { existsSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { loadProtos } from '@kata-cc/protocols';
import { TtrpcClient, protobufCodec, type MessageCodec } from '@kata-cc/ttrpc';
import type { AgentEndpoint } from '@kata-cc/hypervisor';
import { connectVsock } from '@kata-cc/vsock';

type Msg = Record<string, unknown>;

/** The kata agent API (`grpc.AgentService`, `grpc.Health`) as loaded from @kata-cc/protocols. */
export const AGENT_SERVICE = 'grpc.AgentService';
export const HEALTH_SERVICE = 'grpc.Health';

let protoRoot: ReturnType<typeof loadProtos> | undefined;
/** The agent protos, loaded once per process. */
export function agentProtos(): ReturnType<typeof loadProtos> {
  protoRoot ??= loadProtos('agent/agent.proto', 'agent/health.proto');
  return protoRoot;
}

const codecs = new Map<string, { req: MessageCodec<Msg>; res: MessageCodec<Msg> }>();
/** Request/response codecs of one method, from the service definition. */
export function methodCodecs(service: string, method: string): { req: MessageCodec<Msg>; res: MessageCodec<Msg> } {
  const key = `${service}/${method}`;
  let c = codecs.get(key);
  if (c === undefined) {
    const m = agentProtos().lookupService(service).methods[method];
    if (m === undefined) throw new TypeError(`No method ${key} in the agent protos`);
    m.resolve();
    c = { req: protobufCodec<Msg>(m.resolvedRequestType as never), res: protobufCodec<Msg>(m.resolvedResponseType as never) };
    codecs.set(key, c);
  }
  return c;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The host's vsock device: QEMU's vhost-vsock-pci needs it, and without it no guest CID is reachable. */
export const VHOST_VSOCK_DEVICE = '/dev/vhost-vsock';

/** vsock errors that no retry fixes (the others: the guest is still booting). */
const FATAL_VSOCK = new Set(['VSOCK_UNSUPPORTED', 'VSOCK_ADDON_MISSING', 'VSOCK_BAD_ADDRESS']);

/**
 * One connection to the agent: a Unix socket (QEMU's virtio-serial chardev) or AF_VSOCK to the
 * guest's CID, port 1024 (kata: QEMU `vhost-vsock-pci,guest-cid=N`, the host dials N:1024; kata's
 * "hybrid vsock" over a Unix socket is for Firecracker/Cloud Hypervisor only).
 */
export async function openAgentStream(endpoint: AgentEndpoint, vhostDevice: string = VHOST_VSOCK_DEVICE): Promise<Duplex> {
  if (endpoint.kind === 'unix') {
    return new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(endpoint.path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }
  try {
    return await connectVsock(endpoint.cid, endpoint.port);
  } catch (err) {
    const code = err instanceof KccError ? err.code : '';
    const noDevice = !existsSync(vhostDevice);
    // Without the device the kernel answers ENODEV, or routes the CID to an outer hypervisor's
    // transport and times out: both mean the same here.
    if (FATAL_VSOCK.has(code) || (noDevice && (code === 'VSOCK_NO_TRANSPORT' || code === 'VSOCK_TIMEOUT'))) {
      throw new KccError({
        kind: 'FAILED_PRECONDITION',
        code: 'SANDBOX_VSOCK_UNAVAILABLE',
        message: noDevice
          ? `Cannot dial the agent at vsock CID ${endpoint.cid} port ${endpoint.port}: this host has no ${vhostDevice} (modprobe vhost_vsock), or set agent_channel = "virtio-serial"`
          : `Cannot dial the agent at vsock CID ${endpoint.cid} port ${endpoint.port}: ${(err as Error).message}`,
        cause: err,
        details: { cid: endpoint.cid, port: endpoint.port, vsockCode: code },
      });
    }
    throw err;
  }
}

export interface AgentClientOptions {
  logger?: Logger;
  /** Default per-request timeout (kata defaultRequestTimeout). */
  requestTimeoutMs: number;
}

/**
 * The shim's side of the agent API over ttRPC. Every call has a deadline (WaitProcess,
 * ReadStdout/ReadStderr and GetOOMEvent block by design and get none, as in kata).
 */
export class AgentClient {
  readonly #ttrpc: TtrpcClient;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  constructor(ttrpc: TtrpcClient, options: AgentClientOptions) {
    this.#ttrpc = ttrpc;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#log = (options.logger ?? silentLogger).child({ component: 'agent-client' });
  }

  /**
   * Dials the agent and waits for `grpc.Health/Check` to answer, retrying until `dialTimeoutMs`
   * (the guest may still be booting). virtio-serial: QEMU's chardev socket accepts at once and
   * holds bytes until the guest opens its port, so the deadline is on the Check answer. vsock:
   * refused/timed-out connects are retried until the agent listens; a host that cannot reach
   * guest CIDs at all fails at once with SANDBOX_VSOCK_UNAVAILABLE.
   */
  static async dial(endpoint: AgentEndpoint, options: AgentClientOptions & { dialTimeoutMs: number; onDead?: Promise<unknown>; vhostVsockDevice?: string }): Promise<AgentClient> {
    const deadline = Date.now() + options.dialTimeoutMs;
    let dead = false;
    void options.onDead?.then(() => { dead = true; });
    let lastError: unknown;
    while (Date.now() < deadline && !dead) {
      let sock: Duplex;
      try {
        sock = await openAgentStream(endpoint, options.vhostVsockDevice ?? VHOST_VSOCK_DEVICE);
      } catch (err) {
        if (err instanceof KccError && err.code === 'SANDBOX_VSOCK_UNAVAILABLE') throw err;
        lastError = err;
        await sleep(50);
        continue;
      }
      const client = new AgentClient(new TtrpcClient(sock, options.logger ? { logger: options.logger } : {}), options);
      try {
        await client.check(Math.max(100, deadline - Date.now()));
        return client;
      } catch (err) {
        lastError = err;
        client.close();
        if (err instanceof KccError && err.code === 'TTRPC_TIMEOUT') break;
        await sleep(100);
      }
    }
    if (dead) throw new KccError({ kind: 'UNAVAILABLE', code: 'SANDBOX_VM_DIED', message: 'The VM exited before its agent answered', cause: lastError });
    throw new KccError({
      kind: 'DEADLINE_EXCEEDED',
      code: 'SANDBOX_AGENT_TIMEOUT',
      message: `The agent did not answer grpc.Health/Check within ${options.dialTimeoutMs} ms`,
      cause: lastError,
      details: { endpoint: endpoint.kind === 'vsock' ? `vsock://${endpoint.cid}:${endpoint.port}` : endpoint.path },
    });
  }

  async check(timeoutMs = 30_000): Promise<void> {
    const res = await this.raw(HEALTH_SERVICE, 'Check', { service: '' }, timeoutMs);
    if (res['status'] !== 1) throw new KccError({ kind: 'UNAVAILABLE', code: 'SANDBOX_AGENT_NOT_SERVING', message: `The agent reports status ${String(res['status'])}` });
  }

  /** One agent call; `timeoutMs` 0 = no deadline (blocking calls). */
  async raw(service: string, method: string, request: Msg, timeoutMs?: number): Promise<Msg> {
    const { req, res } = methodCodecs(service, method);
    const started = Date.now();
    try {
      return await this.#ttrpc.request(service, method, req, res, request, { timeoutMs: timeoutMs ?? this.#timeoutMs });
    } finally {
      this.#log.debug({ method, ms: Date.now() - started }, 'agent call');
    }
  }

  call(method: string, request: Msg, timeoutMs?: number): Promise<Msg> {
    return this.raw(AGENT_SERVICE, method, request, timeoutMs);
  }

  onClose(listener: (err: KccError) => void): void {
    this.#ttrpc.onClose(listener);
  }

  close(): void {
    this.#ttrpc.close();
  }
}
