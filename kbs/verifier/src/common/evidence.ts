/**
 * Shared evidence decoding and binding checks for the hardware verifiers. Evidence reaches a
 * verifier as the KBS wire JSON value, as raw bytes (kbs-cli verify), or as JSON text.
 */
import { timingSafeEqual } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { regularizeData } from '@kata-cc/kbs-types';
import { toHex } from './bytes.js';

export function invalidEvidence(code: string, message: string, cause?: unknown): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code, message, ...(cause === undefined ? {} : { cause }) });
}

/** Standard or URL-safe base64, padded or not. */
export function decodeBase64(s: unknown, code: string, what: string): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(s.trim())) throw invalidEvidence(code, `The ${what} is not base64`);
  return new Uint8Array(Buffer.from(s.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

/** Evidence given as bytes holding JSON text is parsed; an object is returned as is. */
export function evidenceObject(evidence: unknown, code: string): Record<string, unknown> | undefined {
  let e = evidence;
  if (e instanceof Uint8Array) {
    const text = Buffer.from(e).toString('utf8').trim();
    if (!text.startsWith('{')) return undefined;
    e = text;
  }
  if (typeof e === 'string') {
    try {
      e = JSON.parse(e) as unknown;
    } catch (err) {
      throw invalidEvidence(code, 'Evidence is not valid JSON', err);
    }
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw invalidEvidence(code, 'Evidence must be a JSON object');
  return e as Record<string, unknown>;
}

/** Evidence that only comes as a JSON object (bytes holding anything but JSON text are refused). */
export function requireEvidenceObject(evidence: unknown, code: string, what: string): Record<string, unknown> {
  const o = evidenceObject(evidence, code);
  if (!o) throw invalidEvidence(code, `${what} must be a JSON object`);
  return o;
}

/**
 * Compares `actual` with `expected` regularized (zero-padded or truncated) to actual's size,
 * as trustee's `regularize_data` does.
 */
export function checkBinding(actual: Uint8Array, expected: Uint8Array, code: string, what: string): void {
  const want = regularizeData(expected, actual.length);
  // SECURITY: the evidence must carry this session's runtime-data / init-data digest.
  if (!timingSafeEqual(Buffer.from(want), Buffer.from(actual))) {
    throw new KccError({
      kind: 'PERMISSION_DENIED',
      code,
      message: `The ${what} in the evidence does not match the expected value`,
      details: { expected: toHex(want), actual: toHex(actual) },
    });
  }
}
