import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@kata-cc/log';
import { run } from './exec.js';

/**
 * A package's N-API addon: `npm install` builds it (the package's install script); a checkout
 * where that did not happen gets it built here. N-API keeps it ABI-compatible with the pinned
 * Node in the guest. Without a compiler the image is still built without it (logged).
 */
async function ensureAddon(repo: string, pkgDir: string, file: string, what: string, log: Logger): Promise<string | undefined> {
  const dir = path.join(repo, pkgDir);
  const out = path.join(dir, 'build/Release', file);
  if (existsSync(out)) return out;
  try {
    await run(process.execPath, [path.join(repo, 'scripts/build-native-addon.mjs')], { cwd: dir });
  } catch (err) {
    log.warn({ err }, `building the ${what} addon failed: the guest image gets no ${what} addon`);
    return undefined;
  }
  return existsSync(out) ? out : undefined;
}

/**
 * The AF_VSOCK addon of libs/vsock (@kata-cc/vsock), which the guest agent loads from
 * /opt/kata-cc/native/vsock.node. Without it the guest has the virtio-serial channel only.
 */
export function ensureVsockAddon(repo: string, log: Logger): Promise<string | undefined> {
  return ensureAddon(repo, 'libs/vsock', 'vsock.node', 'vsock', log);
}

/**
 * The TEE device addon of attestation-agent/tee-devices (@kata-cc/tee-devices: /dev/sev-guest
 * and /dev/uv ioctls), which the attestation agent loads from /opt/kata-cc/native/tee_devices.node.
 * Without it SNP works only through configfs-tsm and SE not at all (ATTESTER_NATIVE_ADDON_MISSING).
 */
export function ensureTeeDevicesAddon(repo: string, log: Logger): Promise<string | undefined> {
  return ensureAddon(repo, 'attestation-agent/tee-devices', 'tee_devices.node', 'TEE device', log);
}
