import { KccError, isKccError, type ErrorKind } from '@kata-cc/errors';

/** Every error code kbs-cli itself raises (documented in README.md with its exit code). */
export type CliErrorCode =
  | 'KBSCLI_USAGE'
  | 'KBSCLI_FILE_READ'
  | 'KBSCLI_ADMIN_KEY_INVALID'
  | 'KBSCLI_NO_ADMIN_CREDENTIAL'
  | 'KBSCLI_UNREACHABLE'
  | 'KBSCLI_ADMIN_UNAUTHORIZED'
  | 'KBSCLI_NOT_FOUND'
  | 'KBSCLI_KBS_ERROR';

const KINDS: Record<CliErrorCode, ErrorKind> = {
  KBSCLI_USAGE: 'INVALID_ARGUMENT',
  KBSCLI_FILE_READ: 'INVALID_ARGUMENT',
  KBSCLI_ADMIN_KEY_INVALID: 'INVALID_ARGUMENT',
  KBSCLI_NO_ADMIN_CREDENTIAL: 'INVALID_ARGUMENT',
  KBSCLI_UNREACHABLE: 'UNAVAILABLE',
  KBSCLI_ADMIN_UNAUTHORIZED: 'UNAUTHENTICATED',
  KBSCLI_NOT_FOUND: 'NOT_FOUND',
  KBSCLI_KBS_ERROR: 'INTERNAL',
};

/** Every code of this package, in the order of the table in README.md. */
export const KBSCLI_ERROR_CODES = Object.keys(KINDS) as CliErrorCode[];

export function cliError(code: CliErrorCode, message: string, extra: { cause?: unknown; details?: Record<string, unknown> } = {}): KccError {
  return new KccError({ kind: KINDS[code], code, message, ...extra });
}

/**
 * Exit codes of kbs-cli (README "Exit codes"): 0 ok, 1 unexpected, 2 usage or bad local input,
 * 3 KBS unreachable, 4 refused (admin auth, attestation or policy), 5 not found, 6 other KBS error.
 */
export function exitCodeOf(err: unknown): number {
  if (!isKccError(err)) return 1;
  switch (err.kind) {
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'NOT_IMPLEMENTED':
      return 2;
    case 'UNAVAILABLE':
    case 'DEADLINE_EXCEEDED':
      return 3;
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return 4;
    case 'NOT_FOUND':
      return 5;
    case 'ALREADY_EXISTS':
    case 'RESOURCE_EXHAUSTED':
    case 'INTERNAL':
      return 6;
  }
}

/** A hint telling the user what to do next, per error code. */
export function hintFor(err: unknown): string | undefined {
  if (!isKccError(err)) return undefined;
  switch (err.code) {
    case 'KBSCLI_UNREACHABLE':
    case 'KBC_HTTP_FAILED':
      return 'Check --url (scheme, host, port), that the KBS is running, and --cacert for an HTTPS KBS';
    case 'KBSCLI_ADMIN_UNAUTHORIZED':
      return 'Check that --admin-key is the private key whose public key the KBS was started with (--admin-key)';
    case 'KBSCLI_NO_ADMIN_CREDENTIAL':
      return 'Pass --admin-key <private key PEM> or --admin-token-file <JWT file>';
    case 'KBC_ATTEST_FAILED':
    case 'KBC_AUTH_FAILED':
    case 'KBC_UNAUTHORIZED':
      return 'A KBS accepts sample evidence only in dev mode (kbs --allow-sample); check the attestation policy and the KBS log';
    case 'KBC_POLICY_DENIED':
      return 'The KBS resource policy refuses this TEE; inspect it with kbs-cli get-resource-policy';
    case 'KBC_RESOURCE_NOT_FOUND':
    case 'KBSCLI_NOT_FOUND':
      return 'Check the path (repo/type/tag); set it with kbs-cli set-resource';
    default:
      return undefined;
  }
}
