import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { loadNativeAddon, type NativeAddon } from './addon.js';
import { checkU32, vsockError } from './errors.js';
import { FdDuplex } from './fd-duplex.js';

/** VMADDR_CID_ANY: listen on every CID of this machine. */
export const VMADDR_CID_ANY = 0xffffffff;
/** VMADDR_CID_LOCAL: the loopback transport (vsock_loopback). */
export const VMADDR_CID_LOCAL = 1;
/** VMADDR_CID_HOST: the host, seen from a guest. */
export const VMADDR_CID_HOST = 2;

/**
 * Dials `cid:port` (host -> guest through vhost-vsock, guest -> host through virtio-vsock, or
 * CID 1 through vsock_loopback). Resolves with a Duplex over the connected socket; rejects with
 * a KccError VSOCK_* (VSOCK_NO_TRANSPORT when the host has no /dev/vhost-vsock).
 */
export async function connectVsock(cid: number, port: number): Promise<Duplex> {
  checkU32('CID', cid);
  checkU32('port', port);
  const addon = loadNativeAddon();
  const fd = await new Promise<number>((resolve, reject) => {
    addon.connect(cid, port, (err, f) => (err ? reject(vsockError(err, `vsock connect to CID ${cid} port ${port}`)) : resolve(f)));
  });
  return new FdDuplex(fd, () => addon.close(fd));
}

/** A listening AF_VSOCK socket; emits `connection` (Duplex) and `error` (KccError). */
export class VsockServer extends EventEmitter<{ connection: [Duplex]; error: [Error] }> {
  readonly cid: number;
  readonly port: number;
  readonly #addon: NativeAddon;
  readonly #fd: number;
  readonly #wake: number;
  #closed = false;

  /** Use `listenVsock`. */
  constructor(addon: NativeAddon, fds: { fd: number; wake: number }, cid: number, port: number) {
    super();
    this.#addon = addon;
    this.#fd = fds.fd;
    this.#wake = fds.wake;
    this.cid = cid;
    this.port = port;
    queueMicrotask(() => this.#next());
  }

  #next(): void {
    this.#addon.accept(this.#fd, this.#wake, (err, fd) => {
      if (this.#closed) {
        // The listener is closed here, after its last accept returned: never under a pending one.
        if (!err) this.#addon.close(fd);
        this.#addon.close(this.#fd);
        this.#addon.close(this.#wake);
        return;
      }
      if (err) {
        // accept errors are transient (ECONNABORTED, EMFILE): report and keep accepting.
        if (this.listenerCount('error') > 0) this.emit('error', vsockError(err, `vsock accept on port ${this.port}`));
        setTimeout(() => this.#next(), 200).unref();
        return;
      }
      this.emit('connection', new FdDuplex(fd, () => this.#addon.close(fd)));
      this.#next();
    });
  }

  /** Stops accepting: wakes the pending accept, which then closes the listening socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#addon.cancel(this.#wake);
  }
}

/**
 * Listens on `port` (any CID by default, kata's `vsock://-1:1024` in the guest). Bind errors
 * throw synchronously as KccError VSOCK_*.
 */
export function listenVsock(port: number, options: { cid?: number; onConnection?: (stream: Duplex) => void } = {}): VsockServer {
  const cid = options.cid === undefined || options.cid < 0 ? VMADDR_CID_ANY : options.cid;
  checkU32('CID', cid);
  checkU32('port', port);
  const addon = loadNativeAddon();
  let fd: { fd: number; wake: number };
  try {
    fd = addon.listen(cid, port);
  } catch (err) {
    throw vsockError(err, `vsock listen on port ${port}`);
  }
  const server = new VsockServer(addon, fd, cid, port);
  if (options.onConnection) server.on('connection', options.onConnection);
  return server;
}
