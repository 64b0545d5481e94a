import type { ProtectedHeader } from './messages.js';

/** base64url without padding (every JWE/JWK field of the protocol). */
export function b64urlEncode(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64url');
}

export function b64urlDecode(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/** base64 STANDARD with padding (challenge nonce, sample report_data, RVPS payload). */
export function b64Encode(data: Uint8Array | string): string {
  return Buffer.from(data).toString('base64');
}

export function b64Decode(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * The protected header exactly as the Rust client re-serializes it to compute the AAD:
 * compact JSON, `alg`, `enc`, then `epk` with `crv, kty, x, y`, then any other fields in order.
 */
export function encodeProtectedHeader(header: ProtectedHeader): string {
  const { alg, enc, epk, ...rest } = header;
  const ordered: Record<string, unknown> = { alg, enc };
  if (epk !== undefined) ordered['epk'] = { crv: epk.crv, kty: epk.kty, x: epk.x, y: epk.y };
  Object.assign(ordered, rest);
  return b64urlEncode(JSON.stringify(ordered));
}
