import { read, write } from 'node:fs';
import { Duplex } from 'node:stream';

/**
 * Writes all of `data` to a file descriptor (char device or socket) through libuv's thread
 * pool; `fs.write` may write less than asked.
 */
export function writeAll(fd: number, data: Buffer, cb: (err?: Error | null) => void): void {
  write(fd, data, 0, data.length, null, (err, n) => {
    if (err) return cb(err);
    if (n < data.length) return writeAll(fd, data.subarray(n), cb);
    cb();
  });
}

/**
 * A Duplex over a connected socket fd that libuv cannot wrap as a net.Socket (AF_VSOCK, also a
 * virtio-serial char device in the guest agent): reads
 * and writes are blocking syscalls on the thread pool. EOF (read of 0 bytes) ends the stream.
 * The fd is closed by `onClose`.
 */
export class FdDuplex extends Duplex {
  readonly #fd: number;
  readonly #onClose: () => void;
  #reading = false;

  constructor(fd: number, onClose: () => void) {
    super({ allowHalfOpen: false });
    this.#fd = fd;
    this.#onClose = onClose;
  }

  override _read(): void {
    if (this.#reading) return;
    this.#reading = true;
    const buf = Buffer.allocUnsafe(64 * 1024);
    read(this.#fd, buf, 0, buf.length, null, (err, n) => {
      this.#reading = false;
      if (err) return void this.destroy(err);
      if (n === 0) return void this.push(null);
      if (this.push(buf.subarray(0, n))) this._read();
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    writeAll(this.#fd, chunk, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#onClose();
    cb(err);
  }
}
