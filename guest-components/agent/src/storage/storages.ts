import { cp, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@kata-cc/log';
import { agentError } from '../errors.js';
import type { ImagePuller, PulledImage } from './image-puller.js';

/** kata's agent.proto Storage (field names as on the wire). */
export interface StorageMsg {
  driver: string;
  driver_options: string[];
  source: string;
  fstype: string;
  options: string[];
  mount_point: string;
}

export const STORAGE_HANDLERS = ['image_guest_pull', 'ephemeral', 'local'];

/** The pause bundle baked into the guest image (kata: /pause_bundle). */
export const PAUSE_BUNDLE = process.env['KATA_CC_PAUSE_BUNDLE'] ?? '/pause_bundle';

function isSandboxPull(s: StorageMsg): boolean {
  if (s.source === 'pause') return true;
  for (const o of s.driver_options) {
    if (!o.startsWith('image_guest_pull=')) continue;
    try {
      const meta = (JSON.parse(o.slice('image_guest_pull='.length)) as { metadata?: Record<string, string> }).metadata ?? {};
      if (meta['io.kubernetes.cri.container-type'] === 'sandbox') return true;
    } catch {
      // not JSON: no metadata to read
    }
  }
  return false;
}

/**
 * Prepares what a container's storages describe and returns the rootfs, if one of them is the
 * guest-pulled image. `ephemeral`/`local` become directories (tmpfs-backed, as /run is).
 */
export async function handleStorages(storages: StorageMsg[], bundleDir: string, puller: ImagePuller | undefined, log: Logger, signal: AbortSignal): Promise<PulledImage | undefined> {
  let image: PulledImage | undefined;
  for (const s of storages) {
    switch (s.driver) {
      case 'image_guest_pull': {
        if (isSandboxPull(s)) {
          if (!existsSync(path.join(PAUSE_BUNDLE, 'rootfs'))) throw agentError('AGENT_IMAGE_PULL_FAILED', `No pause bundle at ${PAUSE_BUNDLE}`);
          // Copied to guest RAM: runc creates mount points in the rootfs, the image's root is read-only.
          await copyDir(path.join(PAUSE_BUNDLE, 'rootfs'), path.join(bundleDir, 'rootfs'));
          image = { rootfs: path.join(bundleDir, 'rootfs'), config: { Cmd: ['/pause'] } };
          break;
        }
        if (!puller) throw agentError('AGENT_IMAGE_PULL_FAILED', 'This agent has no image puller (image-rs) configured');
        const t = Date.now();
        try {
          image = await puller.pull(s.source, bundleDir, signal);
        } catch (cause) {
          throw agentError('AGENT_IMAGE_PULL_FAILED', `Cannot pull image ${s.source}: ${(cause as Error).message}`, cause);
        }
        log.info({ image: s.source, digest: image.digest, ms: Date.now() - t }, 'image pulled in the guest');
        break;
      }
      case 'ephemeral':
      case 'local':
        // SECURITY: storages may only create directories under /run (guest RAM), never elsewhere.
        if (!path.resolve(s.mount_point).startsWith('/run/') && !path.resolve(s.mount_point).startsWith(bundleDir)) {
          throw agentError('AGENT_STORAGE_UNSUPPORTED', `Storage mount point ${s.mount_point} is outside /run`);
        }
        await mkdir(s.mount_point, { recursive: true, mode: 0o755 });
        break;
      default:
        throw agentError('AGENT_STORAGE_UNSUPPORTED', `Storage driver "${s.driver}" is not supported (supported: ${STORAGE_HANDLERS.join(', ')})`);
    }
  }
  return image;
}

export async function copyDir(src: string, dst: string): Promise<void> {
  await cp(src, dst, { recursive: true, verbatimSymlinks: true });
}
