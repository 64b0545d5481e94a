import type { Logger } from '@kata-cc/log';
import type { AgentConfig } from '../config.js';
import type { ImagePuller } from './image-puller.js';

/**
 * Picks the guest-pull implementation (`kata_cc.image_puller` on the kernel command line):
 * `cdh`: the CDH's ImagePullService over ttRPC (kata's way; needed for encrypted images, whose
 * keys come from the KBS through the CDH); `image-rs`: @kata-cc/image-rs in the agent's
 * process; `auto` (default): `cdh` when the CDH was started (initdata has cdh.toml), else
 * `image-rs`; `none`: only the pause bundle.
 */
export async function selectImagePuller(config: AgentConfig, cdhStarted: boolean, logger: Logger): Promise<ImagePuller | undefined> {
  const kind = config.imagePuller === 'auto' ? (cdhStarted ? 'cdh' : 'image-rs') : config.imagePuller;
  logger.info({ imagePuller: kind }, 'guest pull implementation');
  switch (kind) {
    case 'cdh': {
      const { CdhPuller } = await import('./cdh-puller.js');
      return new CdhPuller(undefined, config.imagePullTimeoutS * 1000);
    }
    case 'image-rs': {
      const { ImageRsPuller } = await import('./image-rs-puller.js');
      return new ImageRsPuller(logger, config.insecureRegistries);
    }
    case 'none':
      return undefined;
    default:
      throw new TypeError(`Unknown image puller "${kind}" (auto, cdh, image-rs, none)`);
  }
}
