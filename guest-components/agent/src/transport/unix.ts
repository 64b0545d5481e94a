import net from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import type { AgentChannel } from './channel.js';

/** The agent channel on a Unix socket: for running the agent outside a VM (tests, debugging). */
export class UnixChannel implements AgentChannel {
  readonly description: string;
  readonly #path: string;
  #server: net.Server | undefined;

  constructor(socketPath: string) {
    this.#path = socketPath;
    this.description = `unix socket ${socketPath}`;
  }

  async start(onConnection: (stream: Duplex) => void): Promise<void> {
    await rm(this.#path, { force: true });
    const srv = net.createServer((s) => onConnection(s));
    this.#server = srv;
    await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(this.#path, () => resolve()); });
    // SECURITY: only root (the runtime) may talk to the agent.
    await chmod(this.#path, 0o600);
  }

  async close(): Promise<void> {
    const srv = this.#server;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}
