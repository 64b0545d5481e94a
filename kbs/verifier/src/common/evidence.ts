/**
 * Shared evidence decoding and binding checks for the hardware verifiers. Evidence reaches a
 * verifier as the KBS wire JSON value, as raw bytes (kbs-cli verify), or as JSON text.
 */
import { timingSafeEqual } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { regularizeData } from '@kata-cc/kbs-types';
import type { ExpectedBinding, VerifiedEvidence, VerifyOptions, Verifier } from '../verifier.js';
import { toHex } from './bytes.js';

/** Binding for inspection: both parts optional (kbs-cli verify without --report-data). */
export type OptionalBinding = Partial<ExpectedBinding>;

/** Result of a hardware verifier: the KBS result plus what was not checked and why. */
export interface HardwareVerified extends VerifiedEvidence {
  /** Checks skipped because the caller allowed it (missing collateral, no binding given). */
  skipped: string[];
}

/**
 * A hardware verifier. `verify` (the KBS path) always checks the binding; `inspect` lets
 * kbs-cli verify evidence whose runtime data it does not know.
 */
export interface HardwareVerifier extends Verifier {
  inspect(evidence: unknown, expected: OptionalBinding, options?: VerifyOptions): Promise<HardwareVerified>;
}

export function isHardwareVerifier(v: Verifier): v is HardwareVerifier {
  return typeof (v as Partial<HardwareVerifier>).inspect === 'function';
}

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

/** The KBS path: refuses to run without a report_data binding. */
export async function verifyWithBinding(v: HardwareVerifier, evidence: unknown, expected: ExpectedBinding, options?: VerifyOptions): Promise<VerifiedEvidence> {
  // SECURITY: the KBS always passes the handshake digest; an empty one would disable binding.
  if (expected.reportData.length === 0) {
    throw new KccError({ kind: 'INTERNAL', code: 'VERIFIER_BINDING_MISSING', message: 'Expected report_data is empty' });
  }
  const r = await v.inspect(evidence, expected, options);
  const out: VerifiedEvidence = { claims: r.claims, teeClass: r.teeClass };
  if (r.tcbStatus !== undefined) out.tcbStatus = r.tcbStatus;
  return out;
}
