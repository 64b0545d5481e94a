import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '@kata-cc/log';
import { listenVsock, type VsockServer } from '@kata-cc/vsock';
import type { AgentChannel } from './channel.js';

/**
 * The production agent channel: AF_VSOCK on port 1024 (kata's `vsock://-1:1024`) through
 * @kata-cc/vsock. Listen errors are KccError VSOCK_* (e.g. VSOCK_UNSUPPORTED without AF_VSOCK).
 */
export class VsockChannel implements AgentChannel {
  readonly description: string;
  readonly #cid: number;
  readonly #port: number;
  readonly #log: Logger;
  #server: VsockServer | undefined;

  constructor(cid: number, port: number, logger: Logger = silentLogger) {
    this.#cid = cid;
    this.#port = port;
    this.#log = logger;
    this.description = `vsock ${cid}:${port}`;
  }

  async start(onConnection: (stream: Duplex) => void): Promise<void> {
    const server = listenVsock(this.#port, { cid: this.#cid, onConnection });
    server.on('error', (err) => this.#log.error({ err }, 'vsock accept failed'));
    this.#server = server;
  }

  async close(): Promise<void> {
    this.#server?.close();
  }
}
