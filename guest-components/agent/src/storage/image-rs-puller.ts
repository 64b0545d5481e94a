import type { Logger } from '@kata-cc/log';
import { agentError } from '../errors.js';
import type { ImagePuller, PulledImage } from './image-puller.js';

/** Guest pull through @kata-cc/image-rs (wired when its pull API is available). */
export class ImageRsPuller implements ImagePuller {
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  async pull(image: string, _bundleDir: string, _signal: AbortSignal): Promise<PulledImage> {
    this.#log.error({ image }, 'image-rs pull API not available yet');
    throw agentError('AGENT_IMAGE_PULL_FAILED', 'image-rs pull is not available in this build');
  }
}
