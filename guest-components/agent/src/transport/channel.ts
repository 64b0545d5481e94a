import type { Duplex } from 'node:stream';

/**
 * Where the agent's ttRPC server meets the runtime: one implementation per transport
 * (virtio-serial port, vsock, Unix socket), picked by `openChannel` in registry.ts.
 * `start` hands every new connection (a Duplex) to `onConnection` until `close`.
 */
export interface AgentChannel {
  readonly description: string;
  start(onConnection: (stream: Duplex) => void): Promise<void>;
  close(): Promise<void>;
}
