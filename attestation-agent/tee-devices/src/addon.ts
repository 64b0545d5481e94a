import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KccError } from '@kata-cc/errors';

/** Where the ioctl stopped: opening the device or the ioctl itself. `errno` 0 means success. */
export interface IoctlOutcome {
  stage: 'open' | 'ioctl';
  errno: number;
}

/** SNP_GET_REPORT / SNP_GET_EXT_REPORT outcome: `exitinfo2` split as the kernel defines it. */
export interface SnpIoctlOutcome extends IoctlOutcome {
  /** bits 31:0 of exitinfo2: the AMD-SP firmware error (SEV_RET_*). */
  fwError: number;
  /** bits 63:32 of exitinfo2: the VMM error (1 = SNP_GUEST_VMM_ERR_INVALID_LEN, 2 = BUSY). */
  vmmError: number;
}

export interface SnpExtIoctlOutcome extends SnpIoctlOutcome {
  /** `certs_len` after the call: the length the host needs when vmmError is INVALID_LEN. */
  certsLen: number;
}

/** UVIO_IOCTL_ATT outcome: the Ultravisor's return codes (rc 0x0001 = executed). */
export interface UvIoctlOutcome extends IoctlOutcome {
  uvRc: number;
  uvRrc: number;
  addDataLen: number;
}

/**
 * The N-API addon (native/tee-devices.c): exactly the three ioctls the attesters need. Buffers
 * are the kernel's request/response memory; the addon fills in their addresses. Kernel errors
 * resolve (errno in the outcome); only bad arguments and the wrong architecture throw.
 */
export interface TeeDevicesAddon {
  /** SNP_GET_REPORT: `req` is struct snp_report_req (96 bytes), `resp` struct snp_report_resp (4000). */
  snpGetReport(device: string, req: Uint8Array, resp: Uint8Array): Promise<SnpIoctlOutcome>;
  /** SNP_GET_EXT_REPORT: as above plus the certificate buffer (page-aligned length, or null for none). */
  snpGetExtReport(device: string, req: Uint8Array, resp: Uint8Array, certs: Uint8Array | null): Promise<SnpExtIoctlOutcome>;
  /**
   * UVIO_IOCTL_ATT (s390x only; elsewhere throws TEEDEV_UNSUPPORTED_ARCH): the ARCB in, the
   * measurement and additional data out (buffers sized by the request), user data (<= 256 bytes)
   * in, the 16-byte configuration UID out.
   */
  uvAttest(device: string, arcb: Uint8Array, measurement: Uint8Array, additionalData: Uint8Array, userData: Uint8Array, configUid: Uint8Array): Promise<UvIoctlOutcome>;
}

/** Where the guest image installs the addon (guest-components/image-builder). */
export const GUEST_ADDON_PATH = '/opt/kata-cc/native/tee_devices.node';

/** The node-gyp output of this package (built by its npm `install` script). */
export function builtAddonPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../build/Release/tee_devices.node');
}

let loaded: TeeDevicesAddon | undefined;

function wrapNative(e: unknown): KccError {
  const code = (e as { code?: unknown }).code;
  if (code === 'TEEDEV_UNSUPPORTED_ARCH') {
    return new KccError({ kind: 'FAILED_PRECONDITION', code, message: `The /dev/uv attestation ioctl is unsupported on this architecture (${process.arch}); it exists only on s390x`, cause: e });
  }
  return new KccError({ kind: 'INVALID_ARGUMENT', code: 'TEEDEV_BAD_ARGUMENT', message: (e as Error).message, cause: e });
}

/**
 * Loads the addon: `KATA_CC_TEE_DEVICES_ADDON`, then the guest image's path, then this package's
 * build (in the guest the code is an esbuild bundle, so the package path does not exist there).
 * Native argument errors become KccErrors with TEEDEV_* codes.
 */
export function loadTeeDevices(): TeeDevicesAddon {
  if (loaded) return loaded;
  const candidates = [process.env['KATA_CC_TEE_DEVICES_ADDON'] ?? '', GUEST_ADDON_PATH, builtAddonPath()];
  const file = candidates.find((p) => p !== '' && existsSync(p));
  if (file === undefined) {
    throw new KccError({
      kind: 'FAILED_PRECONDITION',
      code: 'TEEDEV_ADDON_MISSING',
      message: 'The TEE device addon is not built: run `npm install` (or `npm rebuild @kata-cc/tee-devices`) at the repository root; it needs python3, make and a C compiler',
    });
  }
  const raw = createRequire(import.meta.url)(file) as TeeDevicesAddon;
  const guard = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (...a: A): Promise<R> => {
    try {
      return f(...a);
    } catch (e) {
      return Promise.reject(wrapNative(e));
    }
  };
  loaded = {
    snpGetReport: guard(raw.snpGetReport.bind(raw)),
    snpGetExtReport: guard(raw.snpGetExtReport.bind(raw)),
    uvAttest: guard(raw.uvAttest.bind(raw)),
  };
  return loaded;
}
