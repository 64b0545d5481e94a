import { KccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code of @kata-cc/attestation-agent (documented in README.md). */
export type AaErrorCode =
  | 'AA_INVALID_CONFIG'
  | 'AA_INVALID_INITDATA'
  | 'AA_INITDATA_MISMATCH'
  | 'AA_UNSUPPORTED_TOKEN_TYPE'
  | 'AA_NO_KBS_CONFIGURED'
  | 'AA_EVENTLOG_DISABLED'
  | 'AA_MEASUREMENT_UNSUPPORTED'
  | 'AA_INVALID_EVENT'
  | 'AA_EVENTLOG_FAILED';

const KINDS: Record<AaErrorCode, ErrorKind> = {
  AA_INVALID_CONFIG: 'INVALID_ARGUMENT',
  AA_INVALID_INITDATA: 'INVALID_ARGUMENT',
  AA_INITDATA_MISMATCH: 'PERMISSION_DENIED',
  AA_UNSUPPORTED_TOKEN_TYPE: 'INVALID_ARGUMENT',
  AA_NO_KBS_CONFIGURED: 'FAILED_PRECONDITION',
  AA_EVENTLOG_DISABLED: 'FAILED_PRECONDITION',
  AA_MEASUREMENT_UNSUPPORTED: 'NOT_IMPLEMENTED',
  AA_INVALID_EVENT: 'INVALID_ARGUMENT',
  AA_EVENTLOG_FAILED: 'INTERNAL',
};

/** Every code of this package, in the order of the table in README.md. */
export const AA_ERROR_CODES = Object.keys(KINDS) as AaErrorCode[];

export function aaError(code: AaErrorCode, message: string, extra: { cause?: unknown; details?: Record<string, unknown> } = {}): KccError {
  return new KccError({ kind: KINDS[code], code, message, ...extra });
}
