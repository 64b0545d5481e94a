import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '@kata-cc/log';
import { agentError } from '../errors.js';
import { FdDuplex } from './fd-duplex.js';
import type { AgentChannel } from './channel.js';

/** The native addon (native/vsock.c): Node has no AF_VSOCK, so these few syscalls are in C. */
export interface VsockAddon {
  /** socket(AF_VSOCK) + bind(cid, port) + listen; returns the listening fd. */
  listen(cid: number, port: number): number;
  /** Blocking accept on the thread pool; resolves with the connected fd. */
  accept(fd: number, cb: (err: Error | null, fd: number) => void): void;
  /** Blocking connect on the thread pool (tests, the in-guest self check). */
  connect(cid: number, port: number, cb: (err: Error | null, fd: number) => void): void;
  close(fd: number): void;
  /** A pseudo-terminal pair for terminal processes (posix_openpt). */
  openpty(): { master: number; slave: string };
  /** ioctl(TIOCSWINSZ). */
  setWinsize(fd: number, rows: number, cols: number): void;
}

/** Loads the addon from the guest image path, or from the package's node-gyp build. */
export function loadVsockAddon(): VsockAddon {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env['KATA_CC_VSOCK_ADDON'] ?? '',
    '/opt/kata-cc/native/vsock.node',
    path.resolve(here, '../../native/build/Release/vsock.node'),
    path.resolve(here, '../../../native/build/Release/vsock.node'),
  ].filter((p) => p && existsSync(p));
  const file = candidates[0];
  if (!file) throw agentError('AGENT_VSOCK_UNAVAILABLE', 'The vsock addon is not built (cd guest-components/agent/native && npx node-gyp rebuild)');
  return createRequire(import.meta.url)(file) as VsockAddon;
}

export const VMADDR_CID_ANY = 0xffffffff;

/** The production agent channel: AF_VSOCK on port 1024 (kata's `vsock://-1:1024`). */
export class VsockChannel implements AgentChannel {
  readonly description: string;
  readonly #cid: number;
  readonly #port: number;
  readonly #log: Logger;
  #addon: VsockAddon | undefined;
  #listenFd: number | undefined;
  #closed = false;

  constructor(cid: number, port: number, logger: Logger = silentLogger) {
    this.#cid = cid < 0 ? VMADDR_CID_ANY : cid;
    this.#port = port;
    this.#log = logger;
    this.description = `vsock ${cid}:${port}`;
  }

  async start(onConnection: (stream: Duplex) => void): Promise<void> {
    const addon = loadVsockAddon();
    this.#addon = addon;
    const lfd = addon.listen(this.#cid, this.#port);
    this.#listenFd = lfd;
    const next = (): void => {
      addon.accept(lfd, (err, fd) => {
        if (this.#closed) return;
        if (err) {
          this.#log.error({ err }, 'vsock accept failed');
          setTimeout(next, 200);
          return;
        }
        onConnection(new FdDuplex(fd, () => addon.close(fd)));
        next();
      });
    };
    next();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#addon && this.#listenFd !== undefined) this.#addon.close(this.#listenFd);
  }
}
