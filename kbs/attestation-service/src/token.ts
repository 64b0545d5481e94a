import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { KccError } from '@kata-cc/errors';

/** The public JWK of an ES256 token signer, as embedded in the JWT header. */
export interface SignerJwk {
  kty: 'EC';
  crv: 'P-256';
  alg: 'ES256';
  x: string;
  y: string;
}

/**
 * Signs and verifies attestation tokens (JWS compact, ES256), with the signer key embedded as
 * `jwk` in the header like trustee's EAR broker. Verification trusts only the configured key(s),
 * NEVER the header `jwk` (trustee's `insecure_header_jwk = false`).
 */
export class TokenSigner {
  readonly #key: KeyObject;
  readonly #header: string;
  readonly #trusted: KeyObject[];
  readonly jwk: SignerJwk;

  constructor(privateKeyPem: string, extraTrusted: KeyObject[] = []) {
    const key = createPrivateKey(privateKeyPem);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'AS_TOKEN_SIGNER_INVALID', message: 'The attestation token signer must be an EC P-256 private key (PEM)' });
    }
    this.#key = key;
    const pub = createPublicKey(key).export({ format: 'jwk' });
    this.jwk = { kty: 'EC', crv: 'P-256', alg: 'ES256', x: String(pub.x), y: String(pub.y) };
    this.#header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256', jwk: this.jwk })).toString('base64url');
    this.#trusted = [createPublicKey(key), ...extraTrusted];
  }

  /** A fresh P-256 private key in PKCS#8 PEM (used when no signer is configured). */
  static generatePem(): string {
    return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  sign(claims: Record<string, unknown>): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const input = `${this.#header}.${payload}`;
    const sig = sign('sha256', Buffer.from(input), { key: this.#key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
  }

  /**
   * Verifies signature, `alg` and `exp`/`nbf`, and returns the claims.
   * SECURITY: only tokens signed by a trusted key are accepted; an expired token is refused.
   */
  verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> {
    const parts = token.split('.');
    if (parts.length !== 3) throw bad('The attestation token is not a compact JWS');
    const [h, p, s] = parts as [string, string, string];
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString());
      claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    } catch {
      throw bad('The attestation token header or payload is not JSON');
    }
    if (typeof header !== 'object' || header === null || (header as Record<string, unknown>)['alg'] !== 'ES256') {
      throw bad('The attestation token must be signed with ES256');
    }
    const sig = Buffer.from(s, 'base64url');
    const data = Buffer.from(`${h}.${p}`);
    const ok = this.#trusted.some((k) => verify('sha256', data, { key: k, dsaEncoding: 'ieee-p1363' }, sig));
    if (!ok) throw bad('The attestation token signature does not verify with a trusted key');
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw bad('The attestation token claims are not an object');
    const c = claims as Record<string, unknown>;
    if (typeof c['exp'] !== 'number' || c['exp'] <= nowSeconds) throw bad('The attestation token is expired or has no exp', 'AS_TOKEN_EXPIRED');
    if (typeof c['nbf'] === 'number' && c['nbf'] > nowSeconds + 60) throw bad('The attestation token is not valid yet');
    return c;
  }
}

function bad(message: string, code = 'AS_TOKEN_INVALID'): KccError {
  return new KccError({ kind: 'UNAUTHENTICATED', code, message });
}

/** JSON pointer lookup (RFC 6901) used for the TEE key paths in token claims. */
export function jsonPointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  let cur: unknown = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Where trustee looks for the TEE public key in verified token claims; first hit wins. */
export const TEE_PUBKEY_PATHS = [
  '/tdx/attester_runtime_data/tee-pubkey',
  '/tdx/attester_user_data/tee-pubkey',
  '/customized_claims/runtime_data/tee-pubkey',
  '/submods/cpu0/ear.veraison.annotated-evidence/runtime_data_claims/tee-pubkey',
  '/tee-pubkey',
] as const;
