/**
 * @kata-cc/tee-devices: the guest TEE device ioctls Node lacks (SEV-SNP /dev/sev-guest, IBM SE
 * /dev/uv) as a small N-API addon. Marshalling of requests and parsing of responses live in
 * @kata-cc/attester; this package only reaches the kernel.
 */
export { GUEST_ADDON_PATH, builtAddonPath, loadTeeDevices } from './addon.js';
export type { IoctlOutcome, SnpExtIoctlOutcome, SnpIoctlOutcome, TeeDevicesAddon, UvIoctlOutcome } from './addon.js';
export const TEE_DEVICES_ERROR_CODES = ['TEEDEV_ADDON_MISSING', 'TEEDEV_UNSUPPORTED_ARCH', 'TEEDEV_BAD_ARGUMENT'] as const;
