import { createHash } from 'node:crypto';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isKccError } from '@kata-cc/errors';
import { imgError } from '../errors.js';
import { DecryptTransform, type LayerKey } from '../decrypt/ocicrypt.js';
import { compressionOf, decompressor } from './decompress.js';
import { LayerExtractor, type ExtractOptions } from './extract.js';
import { TarParser, type TarLimits } from './tar-parser.js';

export interface LayerLimits extends TarLimits {
  /** Uncompressed/compressed ratio above which (after `ratioFloorBytes`) a layer is a bomb. */
  maxRatio: number;
  ratioFloorBytes: number;
}

export interface ApplyLayerOptions extends ExtractOptions {
  limits?: Partial<LayerLimits>;
  /** Decrypt with this key first (encrypted media types). */
  key?: LayerKey;
  /** Verify the stream against the descriptor digest (skip when the store already did). */
  verifyDigest?: boolean;
  /** A first stage the compressed bytes pass through (the layer store's tee, which verifies). */
  tee?: Transform;
  onProgress?: (compressedBytes: number) => void;
}

export interface LayerInput {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

/** Hashes what flows through and checks it at the end. */
class DigestCheck extends Transform {
  readonly #hash;
  readonly #want: string | undefined;
  readonly #what: string;
  readonly #onBytes: ((n: number) => void) | undefined;
  bytes = 0;
  constructor(want: string | undefined, what: string, onBytes?: (n: number) => void) {
    super();
    // No digest: only count (the layer store verified these bytes when it wrote them).
    this.#hash = want === undefined ? undefined : createHash(want.startsWith('sha512:') ? 'sha512' : 'sha256');
    this.#want = want;
    this.#what = what;
    this.#onBytes = onBytes;
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.#hash?.update(chunk);
    this.bytes += chunk.length;
    this.#onBytes?.(this.bytes);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.#hash === undefined || this.#want === undefined) {
      cb();
      return;
    }
    const got = `${this.#want.split(':')[0]}:${this.#hash.digest('hex')}`;
    if (got !== this.#want) cb(imgError('IMG_DIGEST_MISMATCH', `${this.#what} does not match its digest`, { expected: this.#want, actual: got }));
    else cb();
  }
}

/**
 * One layer, one streaming pipeline: source -> [digest] -> [decrypt] -> [decompress] ->
 * diff_id hash + bomb limits -> tar parser -> extractor. Nothing is buffered beyond a chunk.
 */
export async function applyLayer(source: AsyncIterable<Buffer> | NodeJS.ReadableStream, root: string, layer: LayerInput, opts: ApplyLayerOptions = {}): Promise<{ warnings: string[]; uncompressedBytes: number }> {
  const encrypted = layer.mediaType.endsWith('+encrypted');
  if (encrypted && opts.key === undefined) throw imgError('IMG_DECRYPT_NO_KEY', `Layer ${layer.digest} is encrypted and no key was provided`);
  const comp = compressionOf(layer.mediaType);
  const limits = { maxRatio: 1000, ratioFloorBytes: 256 * 1024 * 1024, ...opts.limits };
  const extractor = new LayerExtractor(root, opts);
  const parser = new TarParser(extractor, limits);
  const diffHash = createHash(layer.diffId.startsWith('sha512:') ? 'sha512' : 'sha256');
  const compressedCounter = new DigestCheck(opts.verifyDigest === false ? undefined : layer.digest, `Layer ${layer.digest}`, opts.onProgress);
  let uncompressed = 0;
  // The chunk the parser is extracting: when another stage fails (network, gzip), pipeline
  // rejects at once while this keeps creating entries; it is awaited before returning.
  let inflight: Promise<void> = Promise.resolve();
  const sink = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _e, cb) {
      diffHash.update(chunk);
      uncompressed += chunk.length;
      // SECURITY: decompression bombs fill the disk before any digest can be checked.
      if (uncompressed > limits.ratioFloorBytes && uncompressed > limits.maxRatio * Math.max(compressedCounter.bytes, 1)) {
        cb(imgError('IMG_TAR_BOMB', `Layer ${layer.digest} expands more than ${limits.maxRatio}x`));
        return;
      }
      const w = parser.write(chunk);
      inflight = w.then(() => undefined, () => undefined);
      w.then(() => cb(), cb);
    },
    final(cb) {
      parser
        .end()
        .then(() => {
          const got = `${layer.diffId.split(':')[0]}:${diffHash.digest('hex')}`;
          // SECURITY: the uncompressed content must be exactly what the (verified) config names.
          if (got !== layer.diffId) cb(imgError('IMG_DIFF_ID_MISMATCH', `Uncompressed layer ${layer.digest} does not match diff_id ${layer.diffId}`, { expected: layer.diffId, actual: got }));
          else cb();
        }, cb);
    },
  });
  const stages: (NodeJS.ReadWriteStream | Transform)[] = [];
  if (opts.tee !== undefined) stages.push(opts.tee);
  stages.push(compressedCounter);
  if (encrypted && opts.key !== undefined) stages.push(new DecryptTransform(opts.key, layer.digest, layer.diffId));
  const d = decompressor(comp);
  if (d !== undefined) stages.push(d);
  try {
    await pipeline(source as NodeJS.ReadableStream, ...(stages as [Transform]), sink);
  } catch (err) {
    // SECURITY (no half-written state): nothing may be written after we return; the caller removes the root.
    await inflight;
    await extractor.abort();
    if (isKccError(err)) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('Z_')) throw imgError('IMG_DECOMPRESS_FAILED', `Layer ${layer.digest} is not valid gzip: ${(err as Error).message}`, undefined, err);
    throw imgError('IMG_UNPACK_FAILED', `Unpacking layer ${layer.digest} failed: ${(err as Error).message}`, undefined, err);
  }
  return { warnings: extractor.warnings, uncompressedBytes: uncompressed };
}
