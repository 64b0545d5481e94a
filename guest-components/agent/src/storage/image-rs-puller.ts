import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@kata-cc/log';
import { pullImage } from '@kata-cc/image-rs';
import type { ImagePuller, PulledImage } from './image-puller.js';

/** The process part of the bundle's config.json written by image-rs (image config applied). */
export async function bundleProcess(bundleDir: string): Promise<PulledImage['process']> {
  try {
    const spec = JSON.parse(await readFile(path.join(bundleDir, 'config.json'), 'utf8')) as { process?: PulledImage['process'] };
    return spec.process;
  } catch {
    return undefined;
  }
}

/**
 * Guest pull in the agent's process through @kata-cc/image-rs (no CDH): for unencrypted,
 * unsigned-policy images. Layers are shared between pulls in /run/image-rs (guest RAM).
 */
export class ImageRsPuller implements ImagePuller {
  readonly #log: Logger;
  readonly #insecure: string[];

  constructor(logger: Logger, insecureRegistries: string[]) {
    this.#log = logger;
    this.#insecure = insecureRegistries;
  }

  async pull(image: string, bundleDir: string, _signal: AbortSignal): Promise<PulledImage> {
    const r = await pullImage(image, {
      dest: bundleDir, store: '/run/image-rs', overwrite: true, logger: this.#log,
      ...(this.#insecure.length ? { insecureRegistries: this.#insecure } : {}),
    });
    const proc = await bundleProcess(bundleDir);
    return { rootfs: r.rootfs, digest: r.manifestDigest, ...(proc ? { process: proc } : {}) };
  }
}
