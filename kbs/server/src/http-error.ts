import { KccError, isKccError } from '@kata-cc/errors';
import { kbsErrorStatus, kbsErrorType, KBS_ERROR_VARIANTS } from '@kata-cc/kbs-types';
import type { ErrorInformation, KbsErrorVariant } from '@kata-cc/kbs-types';

/** Codes whose trustee variant does not depend on the endpoint. */
const VARIANT_BY_CODE: Record<string, KbsErrorVariant> = {
  KBS_INVALID_REQUEST_PATH: 'InvalidRequestPath',
  KBS_PLUGIN_NOT_FOUND: 'PluginNotFound',
  KBS_TOKEN_NOT_FOUND: 'TokenNotFound',
  AS_TOKEN_INVALID: 'TokenVerifierError',
  AS_TOKEN_EXPIRED: 'TokenVerifierError',
  KBS_TEE_PUBKEY_NOT_FOUND: 'TokenVerifierError',
  KBS_POLICY_DENIED: 'PolicyDeny',
  KBS_RESOURCE_NOT_FOUND: 'PluginInternalError',
  KBS_JWE_FAILED: 'JweError',
  KBS_JWE_UNSUPPORTED_ALG: 'JweError',
  AS_REFERENCE_VALUE_INVALID: 'RvpsError',
  KBS_REFERENCE_VALUE_NOT_FOUND: 'RvpsError',
};

/** Re-tags an error with the trustee variant of the endpoint that failed (keeps the code). */
export function withVariant(e: unknown, variant: KbsErrorVariant): unknown {
  if (!isKccError(e)) return e;
  if (e.details?.['variant'] !== undefined || VARIANT_BY_CODE[e.code] !== undefined) return e;
  return new KccError({ kind: e.kind, code: e.code, message: e.message, cause: e, details: { ...(e.details ?? {}), variant } });
}

export interface HttpFailure {
  status: number;
  body: ErrorInformation;
  /** Stable code for the log line and metrics. */
  code: string;
  /** Extra response headers (`Retry-After` on 429). */
  headers?: Record<string, string>;
}

/** Load-shedding codes: 429 with Retry-After (see README: why not trustee's 401). */
const TOO_MANY = new Set(['KBS_TOO_MANY_SESSIONS', 'KBS_AUTH_RATE_LIMITED']);

/**
 * THE one mapping from errors to HTTP, as trustee does it: 404 only for InvalidRequestPath and
 * PluginNotFound, 413 for an oversized body (the HTTP layer's own answer), 429 when /auth is
 * load-shed (session bound, per-address rate), 401 for the rest.
 * Unexpected (non-KccError) failures say only "internal error": no internals leak to clients.
 */
export function toHttpFailure(e: unknown): HttpFailure {
  if (isKccError(e)) {
    if (e.code === 'KBS_BODY_TOO_LARGE') return { status: 413, code: e.code, body: { type: kbsErrorType('HTTPFailed'), detail: e.message } };
    if (TOO_MANY.has(e.code)) {
      const retry = e.details?.['retryAfterSeconds'];
      return { status: 429, code: e.code, body: { type: kbsErrorType('AttestationError'), detail: e.message }, headers: { 'retry-after': String(typeof retry === 'number' ? retry : 1) } };
    }
    const tagged = e.details?.['variant'];
    const variant: KbsErrorVariant =
      VARIANT_BY_CODE[e.code] ??
      (typeof tagged === 'string' && (KBS_ERROR_VARIANTS as readonly string[]).includes(tagged) ? (tagged as KbsErrorVariant) : 'AttestationError');
    return { status: kbsErrorStatus(variant), code: e.code, body: { type: kbsErrorType(variant), detail: e.message } };
  }
  return { status: 401, code: 'KBS_INTERNAL', body: { type: kbsErrorType('PluginInternalError'), detail: 'Internal error' } };
}

export function kbsError(code: string, message: string, variant: KbsErrorVariant, kind: KccError['kind'] = 'UNAUTHENTICATED'): KccError {
  return new KccError({ kind, code, message, details: { variant } });
}
