import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { imgError } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'zstd';

const LAYER_TYPES: Record<string, Compression> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
};

/** Compression of a (decrypted) layer media type; unknown types are refused. */
export function compressionOf(mediaType: string): Compression {
  const c = LAYER_TYPES[mediaType.replace(/\+encrypted$/, '')];
  if (c === undefined) throw imgError('IMG_MEDIA_TYPE_UNSUPPORTED', `Layer media type "${mediaType}" is not supported`);
  return c;
}

/** zstd via fzstd (pure JS; Node 20's zlib has no zstd), as a stream. */
class ZstdTransform extends Transform {
  readonly #d: Decompress;
  constructor() {
    super();
    this.#d = new Decompress((data) => {
      // fzstd may reuse its window buffer: copy before handing downstream.
      if (data.length > 0) this.push(Buffer.from(data));
    });
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      this.#d.push(chunk);
      cb();
    } catch (err) {
      cb(imgError('IMG_DECOMPRESS_FAILED', `zstd decompression failed: ${(err as Error).message}`));
    }
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.#d.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(imgError('IMG_DECOMPRESS_FAILED', `zstd stream is truncated or corrupt: ${(err as Error).message}`));
    }
  }
}

/** The decompressing stage for a layer, or undefined for an uncompressed one. */
export function decompressor(c: Compression): Transform | undefined {
  if (c === 'gzip') return createGunzip({ chunkSize: 128 * 1024 });
  if (c === 'zstd') return new ZstdTransform();
  return undefined;
}
