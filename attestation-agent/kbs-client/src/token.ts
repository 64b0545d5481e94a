import { kbcError } from './errors.js';

/** An attestation token (EAR JWT) as the client caches it; the client cannot verify it. */
export interface CachedToken {
  /** The compact JWT. */
  readonly jwt: string;
  /** `exp` in milliseconds since the epoch, or undefined when the token has none. */
  readonly expiresAt: number | undefined;
}

/**
 * Reads `exp` from a JWT without verifying it: the KBS verifies its own tokens; the client only
 * needs to know when to stop reusing one (guest-components `Token::check_valid`).
 */
export function parseToken(jwt: string): CachedToken {
  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) {
    throw kbcError('KBC_TOKEN_INVALID', 'Cannot parse the attestation token: expected a compact JWT (three base64url parts)');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
  } catch (cause) {
    throw kbcError('KBC_TOKEN_INVALID', 'Cannot parse the attestation token claims: not JSON', { cause });
  }
  if (typeof claims !== 'object' || claims === null) {
    throw kbcError('KBC_TOKEN_INVALID', 'Cannot parse the attestation token claims: not a JSON object');
  }
  const exp = (claims as Record<string, unknown>)['exp'];
  return { jwt, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}

/** True while the token may still be used; `skewMs` renews it a little before it expires. */
export function tokenValid(token: CachedToken | undefined, now: number, skewMs = 5_000): token is CachedToken {
  return token !== undefined && (token.expiresAt === undefined || token.expiresAt - skewMs > now);
}
