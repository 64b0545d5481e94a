import { KccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code of @kata-cc/attester (documented in README.md). */
export type AttesterErrorCode =
  | 'ATTESTER_NO_TEE_DETECTED'
  | 'ATTESTER_UNSUPPORTED_TEE'
  | 'ATTESTER_REPORT_DATA_TOO_LONG'
  | 'ATTESTER_INITDATA_MISMATCH'
  | 'ATTESTER_EVIDENCE_FAILED'
  | 'ATTESTER_MEASUREMENT_FAILED'
  | 'ATTESTER_INVALID_ARGUMENT'
  | 'ATTESTER_NATIVE_ADDON_MISSING'
  | 'ATTESTER_UNSUPPORTED_ARCHITECTURE'
  | 'ATTESTER_DEVICE_NOT_FOUND'
  | 'ATTESTER_DEVICE_PERMISSION_DENIED'
  | 'ATTESTER_DEVICE_IOCTL_UNSUPPORTED'
  | 'ATTESTER_DEVICE_IO_ERROR'
  | 'ATTESTER_FIRMWARE_ERROR'
  | 'ATTESTER_DEVICE_RESPONSE_INVALID';

const KINDS: Record<AttesterErrorCode, ErrorKind> = {
  ATTESTER_NO_TEE_DETECTED: 'FAILED_PRECONDITION',
  ATTESTER_UNSUPPORTED_TEE: 'NOT_IMPLEMENTED',
  ATTESTER_REPORT_DATA_TOO_LONG: 'INVALID_ARGUMENT',
  ATTESTER_INITDATA_MISMATCH: 'PERMISSION_DENIED',
  ATTESTER_EVIDENCE_FAILED: 'UNAVAILABLE',
  ATTESTER_MEASUREMENT_FAILED: 'UNAVAILABLE',
  ATTESTER_INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  ATTESTER_NATIVE_ADDON_MISSING: 'FAILED_PRECONDITION',
  ATTESTER_UNSUPPORTED_ARCHITECTURE: 'FAILED_PRECONDITION',
  ATTESTER_DEVICE_NOT_FOUND: 'FAILED_PRECONDITION',
  ATTESTER_DEVICE_PERMISSION_DENIED: 'PERMISSION_DENIED',
  ATTESTER_DEVICE_IOCTL_UNSUPPORTED: 'FAILED_PRECONDITION',
  ATTESTER_DEVICE_IO_ERROR: 'UNAVAILABLE',
  ATTESTER_FIRMWARE_ERROR: 'UNAVAILABLE',
  ATTESTER_DEVICE_RESPONSE_INVALID: 'UNAVAILABLE',
};

/** Every code of this package, in the order of the table in README.md. */
export const ATTESTER_ERROR_CODES = Object.keys(KINDS) as AttesterErrorCode[];

/** Builds a KccError with the kind that belongs to `code`. */
export function attesterError(
  code: AttesterErrorCode,
  message: string,
  extra: { cause?: unknown; details?: Record<string, unknown> } = {},
): KccError {
  return new KccError({ kind: KINDS[code], code, message, ...extra });
}

/**
 * Zero-pads `reportData` to `size` bytes, as every hardware attester does before putting it
 * into the report. Longer input is refused rather than truncated, so that a caller never
 * believes bytes were bound that were not.
 */
export function padReportData(reportData: Uint8Array, size: number): Uint8Array {
  // SECURITY: the evidence must bind every byte the caller asked for; never truncate silently.
  if (reportData.length > size) {
    throw attesterError('ATTESTER_REPORT_DATA_TOO_LONG', `Cannot bind report data: ${reportData.length} bytes exceed the ${size}-byte field`, {
      details: { length: reportData.length, size },
    });
  }
  const out = new Uint8Array(size);
  out.set(reportData);
  return out;
}
