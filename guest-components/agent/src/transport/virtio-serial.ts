import { readFile, readdir } from 'node:fs/promises';
import { constants, openSync, read } from 'node:fs';
import { Duplex } from 'node:stream';
import path from 'node:path';
import { silentLogger, type Logger } from '@kata-cc/log';
import { agentError } from '../errors.js';
import { writeAll } from '@kata-cc/vsock';
import type { AgentChannel } from './channel.js';

/** Finds /dev/vportNpM whose sysfs name is `name` (no udev in the guest, so no by-name links). */
export async function findVirtioPort(name: string, sysfs = '/sys/class/virtio-ports'): Promise<string | undefined> {
  let entries: string[];
  try {
    entries = await readdir(sysfs);
  } catch {
    return undefined;
  }
  for (const e of entries.sort()) {
    const n = await readFile(path.join(sysfs, e, 'name'), 'utf8').catch(() => '');
    if (n.trim() === name) return path.join('/dev', e);
  }
  return undefined;
}

/**
 * The agent channel over a virtio-serial port. A port has one opener, so the fd stays open
 * for the agent's life. A read of 0 bytes means the host side is not connected: the current
 * session ends, and the next bytes start a new session (a new ttRPC connection).
 */
export class VirtioSerialChannel implements AgentChannel {
  readonly description: string;
  readonly #name: string;
  readonly #log: Logger;
  #fd: number | undefined;
  #closed = false;

  constructor(name: string, logger: Logger = silentLogger) {
    this.#name = name;
    this.description = `virtio-serial port ${name}`;
    this.#log = logger;
  }

  async start(onConnection: (stream: Duplex) => void): Promise<void> {
    let dev: string | undefined;
    for (let i = 0; i < 100 && !dev; i++) {
      dev = await findVirtioPort(this.#name);
      if (!dev) await new Promise((r) => setTimeout(r, 100));
    }
    if (!dev) throw agentError('AGENT_CHANNEL_FAILED', `No virtio-serial port named ${this.#name}`);
    // A plain fd, not a FileHandle: a FileHandle is closed when garbage-collected.
    const fd = openSync(dev, constants.O_RDWR);
    this.#fd = fd;
    this.#log.info({ dev, port: this.#name }, 'agent channel open');
    let session: Duplex | undefined;
    const newSession = (): Duplex => {
      const s = new Duplex({
        allowHalfOpen: false,
        read: () => undefined,
        write: (chunk: Buffer, _e, cb) => writeAll(fd, chunk, cb),
      });
      s.on('close', () => { if (session === s) session = undefined; });
      onConnection(s);
      return s;
    };
    const buf = Buffer.allocUnsafe(64 * 1024);
    const loop = (): void => {
      if (this.#closed) return;
      read(fd, buf, 0, buf.length, null, (err, n) => {
        if (this.#closed) return;
        if (err) {
          this.#log.error({ err }, 'agent channel read failed');
          session?.destroy();
          session = undefined;
          setTimeout(loop, 200);
          return;
        }
        if (n === 0) {
          // Host not connected (or it just disconnected): end the session, poll for the next one.
          if (session) { session.push(null); session.destroy(); session = undefined; }
          setTimeout(loop, 50);
          return;
        }
        session ??= newSession();
        session.push(Buffer.from(buf.subarray(0, n)));
        loop();
      });
    };
    loop();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#fd !== undefined) {
      const { close } = await import('node:fs');
      close(this.#fd, () => undefined);
    }
  }
}
