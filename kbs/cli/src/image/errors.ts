import { KccError, type ErrorKind } from '@kata-cc/errors';

/**
 * Error codes of `kbs-cli encrypt-image` (README "Error codes of encrypt-image"). A separate
 * prefix from KBSCLI_: these are about images and registries, not about the KBS.
 */
export type EncImgCode =
  | 'ENCIMG_USAGE'
  | 'ENCIMG_KEY_INVALID'
  | 'ENCIMG_SOURCE_INVALID'
  | 'ENCIMG_MANIFEST_UNSUPPORTED'
  | 'ENCIMG_LAYER_INDEX'
  | 'ENCIMG_RECIPIENT_INVALID'
  | 'ENCIMG_REGISTRY_UNREACHABLE'
  | 'ENCIMG_REGISTRY_UNAUTHORIZED'
  | 'ENCIMG_PUSH_FAILED'
  | 'ENCIMG_WRITE_FAILED';

const KINDS: Record<EncImgCode, ErrorKind> = {
  ENCIMG_USAGE: 'INVALID_ARGUMENT',
  ENCIMG_KEY_INVALID: 'INVALID_ARGUMENT',
  ENCIMG_SOURCE_INVALID: 'INVALID_ARGUMENT',
  ENCIMG_MANIFEST_UNSUPPORTED: 'INVALID_ARGUMENT',
  ENCIMG_LAYER_INDEX: 'INVALID_ARGUMENT',
  ENCIMG_RECIPIENT_INVALID: 'INVALID_ARGUMENT',
  ENCIMG_REGISTRY_UNREACHABLE: 'UNAVAILABLE',
  ENCIMG_REGISTRY_UNAUTHORIZED: 'UNAUTHENTICATED',
  ENCIMG_PUSH_FAILED: 'INTERNAL',
  ENCIMG_WRITE_FAILED: 'INTERNAL',
};

export const ENCIMG_ERROR_CODES = Object.keys(KINDS) as EncImgCode[];

export function encImgError(code: EncImgCode, message: string, extra: { cause?: unknown; details?: Record<string, unknown> } = {}): KccError {
  return new KccError({ kind: KINDS[code], code, message, ...extra });
}
