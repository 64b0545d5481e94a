/**
 * IBM Secure Execution "Retrieve Attestation Measurement" through /dev/uv (Linux
 * `arch/s390/include/uapi/asm/uvdevice.h`, `drivers/s390/char/uvdevice.c`): UVIO_IOCTL_ATT with
 * a struct uvio_attest holding the ARCB, the measurement and additional-data buffers, up to 256
 * bytes of user data and the 16-byte configuration UID. The addon fills in the buffer addresses
 * (s390x only); the size checks, the Ultravisor return-code check and the result are here, so
 * they are tested through the `UvIoctl` seam with a fake Ultravisor.
 */
import type { UvIoctlOutcome } from '@kata-cc/tee-devices';
import { attesterError } from '../errors.js';
import { deviceError, mapAddonError, nativeDevices } from '../common/device.js';

export const UV_DEVICE = '/dev/uv';
/** Limits the kernel enforces (UVIO_ATT_*_MAX_LEN, UVIO_ATT_USER_DATA_LEN, UVIO_ATT_UID_LEN). */
export const UVIO_ATT_ARCB_MAX_LEN = 0x100000;
export const UVIO_ATT_MEASUREMENT_MAX_LEN = 0x8000;
export const UVIO_ATT_ADDITIONAL_MAX_LEN = 0x8000;
export const UVIO_ATT_USER_DATA_LEN = 0x100;
export const UVIO_ATT_UID_LEN = 0x10;
/** UVC_RC_EXECUTED: the only success return code of an Ultravisor call. */
export const UVC_RC_EXECUTED = 0x0001;

/** The kernel call; `nativeUv()` is the real one, tests pass a fake Ultravisor. */
export interface UvIoctl {
  attest(device: string, arcb: Uint8Array, measurement: Uint8Array, additionalData: Uint8Array, userData: Uint8Array, configUid: Uint8Array): Promise<UvIoctlOutcome>;
}

/** The real /dev/uv through the tee-devices addon (s390x only). */
export function nativeUv(): UvIoctl {
  return {
    attest: (d, arcb, meas, add, user, cuid) => nativeDevices().uvAttest(d, arcb, meas, add, user, cuid).catch((e: unknown) => mapAddonError(e, d)),
  };
}

export interface UvAttestRequest {
  /** The Attestation Request Control Block from the verifier (encrypted to the host keys). */
  arcb: Uint8Array;
  measurementSize: number;
  additionalSize: number;
  userData: Uint8Array;
}

export interface UvAttestResult {
  measurement: Uint8Array;
  additionalData: Uint8Array;
  configUid: Uint8Array;
}

function sizeError(what: string, value: number, min: number, max: number): never {
  throw attesterError('ATTESTER_INVALID_ARGUMENT', `SE ${what} is ${value}, the Ultravisor device accepts ${min}..${max}`, { details: { [what]: value } });
}

/** Runs UVIO_IOCTL_ATT: the sizes the kernel would refuse (EINVAL) are refused first, with names. */
export async function uvAttest(ioctl: UvIoctl, device: string, r: UvAttestRequest): Promise<UvAttestResult> {
  const inRange = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;
  if (!inRange(r.arcb.length, 1, UVIO_ATT_ARCB_MAX_LEN)) sizeError('request_blob length', r.arcb.length, 1, UVIO_ATT_ARCB_MAX_LEN);
  if (!inRange(r.measurementSize, 1, UVIO_ATT_MEASUREMENT_MAX_LEN)) sizeError('measurement_size', r.measurementSize, 1, UVIO_ATT_MEASUREMENT_MAX_LEN);
  if (!inRange(r.additionalSize, 0, UVIO_ATT_ADDITIONAL_MAX_LEN)) sizeError('additional_size', r.additionalSize, 0, UVIO_ATT_ADDITIONAL_MAX_LEN);
  if (r.userData.length > UVIO_ATT_USER_DATA_LEN) sizeError('user data length', r.userData.length, 0, UVIO_ATT_USER_DATA_LEN);
  const measurement = new Uint8Array(r.measurementSize);
  const additional = new Uint8Array(r.additionalSize);
  const configUid = new Uint8Array(UVIO_ATT_UID_LEN);
  const o = await ioctl.attest(device, r.arcb, measurement, additional, r.userData, configUid);
  const rc = `0x${o.uvRc.toString(16).padStart(4, '0')}`;
  const rrc = `0x${o.uvRrc.toString(16).padStart(4, '0')}`;
  if (o.errno !== 0) throw deviceError(device, 'UVIO_IOCTL_ATT', o);
  // SECURITY: anything but "executed" means the buffers hold no measurement of this request.
  if (o.uvRc !== UVC_RC_EXECUTED) {
    throw attesterError('ATTESTER_FIRMWARE_ERROR', `The Ultravisor refused the attestation request: rc ${rc}, rrc ${rrc} (wrong host key, malformed ARCB, or no attestation facility)`, { details: { device, uv_rc: rc, uv_rrc: rrc } });
  }
  if (o.addDataLen > additional.length) {
    throw attesterError('ATTESTER_DEVICE_RESPONSE_INVALID', `The Ultravisor reports ${o.addDataLen} bytes of additional data in a ${additional.length}-byte buffer`, { details: { device } });
  }
  return { measurement, additionalData: additional.subarray(0, o.addDataLen), configUid };
}
