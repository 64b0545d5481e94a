/**
 * What the ioctl-based attesters (SNP through /dev/sev-guest, IBM SE through /dev/uv) share:
 * loading the native addon (@kata-cc/tee-devices) lazily, so a guest that never uses a device
 * never needs it, and one mapping from the kernel's errno to this package's stable codes.
 */
import { constants } from 'node:os';
import { loadTeeDevices, type IoctlOutcome, type TeeDevicesAddon } from '@kata-cc/tee-devices';
import type { KccError } from '@kata-cc/errors';
import { attesterError } from '../errors.js';

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** The addon, or ATTESTER_NATIVE_ADDON_MISSING / ATTESTER_UNSUPPORTED_ARCHITECTURE for its errors. */
export function nativeDevices(): TeeDevicesAddon {
  try {
    return loadTeeDevices();
  } catch (cause) {
    throw attesterError('ATTESTER_NATIVE_ADDON_MISSING', 'The TEE device addon (@kata-cc/tee-devices) is not available: run `npm install` at the repository root (needs python3, make and a C compiler); the guest image ships it as /opt/kata-cc/native/tee_devices.node', { cause });
  }
}

/** Re-throws the addon's "wrong architecture" error under this package's code. */
export function mapAddonError(cause: unknown, device: string): never {
  if ((cause as { code?: unknown }).code === 'TEEDEV_UNSUPPORTED_ARCH') {
    throw attesterError('ATTESTER_UNSUPPORTED_ARCHITECTURE', `Cannot use ${device}: its ioctl exists only on s390x and this is ${process.arch}`, { cause, details: { device, arch: process.arch } });
  }
  throw cause;
}

/**
 * The error for a failed open or ioctl. Firmware errors (`firmware`, non-zero) win over the
 * errno, since the kernel reports them as a plain EIO.
 */
export function deviceError(device: string, call: string, o: IoctlOutcome, firmware?: { message: string; details: Record<string, unknown> }): KccError {
  const errno = errnoName(o.errno);
  const details = { device, call, stage: o.stage, errno, ...firmware?.details };
  if (firmware) return attesterError('ATTESTER_FIRMWARE_ERROR', `${call} on ${device} failed: ${firmware.message} (${errno})`, { details });
  const n = constants.errno;
  if (o.errno === n.EACCES || o.errno === n.EPERM) {
    return attesterError('ATTESTER_DEVICE_PERMISSION_DENIED', `Cannot ${o.stage === 'open' ? 'open' : 'use'} ${device}: ${errno} (the attestation agent must run as root or own the device)`, { details });
  }
  if (o.stage === 'open' && (o.errno === n.ENOENT || o.errno === n.ENODEV || o.errno === n.ENXIO)) {
    return attesterError('ATTESTER_DEVICE_NOT_FOUND', `Cannot open ${device}: ${errno} (no such device in this guest)`, { details });
  }
  if (o.stage === 'ioctl' && o.errno === n.ENOTTY) {
    return attesterError('ATTESTER_DEVICE_IOCTL_UNSUPPORTED', `${device} does not support ${call} (ENOTTY): not the expected TEE device, or its driver disabled the channel after an earlier firmware error`, { details });
  }
  return attesterError('ATTESTER_DEVICE_IO_ERROR', `${call} on ${device} failed at ${o.stage}: ${errno}`, { details });
}
