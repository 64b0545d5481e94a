import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@kata-cc/log';
import { run } from './exec.js';

/**
 * The AF_VSOCK addon of libs/vsock (@kata-cc/vsock), which the guest agent loads from
 * /opt/kata-cc/native/vsock.node. `npm install` builds it (the package's install script); a
 * checkout where that did not happen gets it built here. N-API keeps it ABI-compatible with the
 * pinned Node in the guest. Without a compiler the image is still built, with the virtio-serial
 * channel only (logged).
 */
export async function ensureVsockAddon(repo: string, log: Logger): Promise<string | undefined> {
  const dir = path.join(repo, 'libs/vsock');
  const out = path.join(dir, 'build/Release/vsock.node');
  if (existsSync(out)) return out;
  try {
    await run(process.execPath, [path.join(dir, 'scripts/build-addon.mjs')], { cwd: dir });
  } catch (err) {
    log.warn({ err }, 'building the vsock addon failed: the guest image gets no vsock addon');
    return undefined;
  }
  return existsSync(out) ? out : undefined;
}
