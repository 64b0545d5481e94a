import type { Logger } from '@kata-cc/log';
import type { ImagePuller } from './image-puller.js';

/**
 * Picks the guest-pull implementation. `image-rs`: the in-process @kata-cc/image-rs library
 * (pull, verify, decrypt with keys from the CDH/KBS, unpack). `none`: no puller (only the
 * pause bundle works).
 */
export async function defaultImagePuller(logger: Logger, kind = process.env['KATA_CC_IMAGE_PULLER'] ?? 'image-rs'): Promise<ImagePuller | undefined> {
  switch (kind) {
    case 'image-rs': {
      const { ImageRsPuller } = await import('./image-rs-puller.js');
      return new ImageRsPuller(logger);
    }
    case 'none':
      return undefined;
    default:
      throw new TypeError(`Unknown image puller "${kind}" (image-rs, none)`);
  }
}
