import { KccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code of @kata-cc/kbs-client (documented in README.md). */
export type KbcErrorCode =
  | 'KBC_INVALID_CONFIG'
  | 'KBC_INVALID_RESOURCE_URI'
  | 'KBC_HTTP_FAILED'
  | 'KBC_AUTH_FAILED'
  | 'KBC_ATTEST_FAILED'
  | 'KBC_EVIDENCE_FAILED'
  | 'KBC_PROTOCOL_ERROR'
  | 'KBC_UNAUTHORIZED'
  | 'KBC_POLICY_DENIED'
  | 'KBC_RESOURCE_NOT_FOUND'
  | 'KBC_JWE_DECRYPT_FAILED'
  | 'KBC_TEE_KEY_INVALID'
  | 'KBC_TOKEN_INVALID'
  | 'KBC_NO_ATTESTER';

const KINDS: Record<KbcErrorCode, ErrorKind> = {
  KBC_INVALID_CONFIG: 'INVALID_ARGUMENT',
  KBC_INVALID_RESOURCE_URI: 'INVALID_ARGUMENT',
  KBC_HTTP_FAILED: 'UNAVAILABLE',
  KBC_AUTH_FAILED: 'UNAUTHENTICATED',
  KBC_ATTEST_FAILED: 'UNAUTHENTICATED',
  KBC_EVIDENCE_FAILED: 'UNAVAILABLE',
  KBC_PROTOCOL_ERROR: 'INTERNAL',
  KBC_UNAUTHORIZED: 'PERMISSION_DENIED',
  KBC_POLICY_DENIED: 'PERMISSION_DENIED',
  KBC_RESOURCE_NOT_FOUND: 'NOT_FOUND',
  KBC_JWE_DECRYPT_FAILED: 'INTERNAL',
  KBC_TEE_KEY_INVALID: 'INVALID_ARGUMENT',
  KBC_TOKEN_INVALID: 'INVALID_ARGUMENT',
  KBC_NO_ATTESTER: 'FAILED_PRECONDITION',
};

/** Every code of this package, in the order of the table in README.md. */
export const KBC_ERROR_CODES = Object.keys(KINDS) as KbcErrorCode[];

/** Builds a KccError with the kind that belongs to `code`. */
export function kbcError(
  code: KbcErrorCode,
  message: string,
  extra: { cause?: unknown; details?: Record<string, unknown> } = {},
): KccError {
  return new KccError({ kind: KINDS[code], code, message, ...extra });
}
