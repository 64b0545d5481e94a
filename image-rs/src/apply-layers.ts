import { createReadStream } from 'node:fs';
import { Readable, type Transform } from 'node:stream';
import type { LayerKey } from './decrypt/ocicrypt.js';
import type { LayerReport, PullOptions } from './pull.js';
import type { ImageReference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import { Semaphore } from './semaphore.js';
import type { LayerStore } from './store/layer-store.js';
import type { ImageManifest } from './types.js';
import { applyLayer } from './unpack/layer.js';
import { imgError } from './errors.js';

export interface ApplyLayersInput {
  client: RegistryClient;
  ref: ImageReference;
  manifest: ImageManifest;
  diffIds: string[];
  keys: (LayerKey | undefined)[];
  store: LayerStore | undefined;
  root: string;
  options: PullOptions;
}

/**
 * Applies every layer in order onto `root`. Without a store each layer streams from the
 * registry; with one, the layer being applied streams from the socket and is cached on the way
 * (tee) while up to concurrency-1 later layers are prefetched into the store.
 */
export async function applyLayers(input: ApplyLayersInput): Promise<{ reports: LayerReport[]; warnings: string[] }> {
  const { client, ref, manifest, diffIds, keys, store, root, options } = input;
  const log = options.logger;
  const sem = new Semaphore(options.concurrency ?? 3);
  const reports: LayerReport[] = [];
  const warnings: string[] = [];
  const progress = (index: number, digest: string, size: number) => (bytes: number): void =>
    options.onProgress?.({ type: 'layer-bytes', index, digest, bytes, size });
  const prefetched: (Promise<{ path: string; transferred: number }> | undefined)[] = [];
  const prefetch = (j: number): void => {
    const l = manifest.layers[j];
    if (store === undefined || l === undefined || prefetched[j] !== undefined) return;
    const p = sem.run(() => store.ensure(l.digest, l.size, () => client.blobChunks(ref, l, options.signal), progress(j, l.digest, l.size)));
    p.catch(() => undefined);
    prefetched[j] = p;
  };
  const lookahead = Math.max(0, (options.concurrency ?? 3) - 1);
  for (const [i, l] of manifest.layers.entries()) {
    const ts = performance.now();
    const diffId = diffIds[i] as string;
    const key = keys[i];
    checkCancelled(options.signal);
    for (let j = i + 1; j <= i + lookahead; j++) prefetch(j);
    let transferred = l.size;
    let source: NodeJS.ReadableStream;
    let tee: Transform | undefined;
    let verifyDigest = true;
    if (store !== undefined && prefetched[i] === undefined) tee = await store.teeStage(l.digest, l.size);
    if (store !== undefined && tee === undefined) {
      const got = await (prefetched[i] ?? store.ensure(l.digest, l.size, () => client.blobChunks(ref, l, options.signal), progress(i, l.digest, l.size)));
      transferred = got.transferred;
      source = createReadStream(got.path, { highWaterMark: 256 * 1024 });
      verifyDigest = false; // verified when it entered the store
    } else {
      source = Readable.from(client.blobChunks(ref, l, options.signal));
      if (tee !== undefined) verifyDigest = false; // the tee verifies
    }
    const r = await applyLayer(source, root, { mediaType: l.mediaType, digest: l.digest, size: l.size, diffId }, {
      ...(key ? { key } : {}),
      ...(options.devices ? { devices: options.devices } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      verifyDigest,
      ...(tee ? { tee } : {}),
      ...(verifyDigest || tee !== undefined ? { onProgress: progress(i, l.digest, l.size) } : {}),
    });
    warnings.push(...r.warnings);
    const ms = performance.now() - ts;
    reports.push({ digest: l.digest, mediaType: l.mediaType, size: l.size, transferred, encrypted: key !== undefined, ms: Math.round(ms) });
    options.onProgress?.({ type: 'layer-done', index: i, digest: l.digest, transferred, ms });
    log?.debug({ layer: l.digest, transferred, ms: Math.round(ms) }, 'layer applied');
  }
  return { reports, warnings };
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw imgError('IMG_PULL_CANCELLED', 'Pull was cancelled');
}
