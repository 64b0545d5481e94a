import { createPublicKey, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { KccError, messageOf } from '@kata-cc/errors';

interface AdminKey {
  key: KeyObject;
  alg: 'EdDSA' | 'ES256' | 'ES384' | 'RS256';
}

/**
 * Admin authentication: `Authorization: Bearer <JWT>` signed by one of the configured public
 * keys (Ed25519 -> EdDSA, P-256 -> ES256, P-384 -> ES384, RSA -> RS256), `exp` required.
 * SECURITY: with no key configured every admin call is refused; the admin API is never open.
 */
export class AdminAuth {
  readonly #keys: AdminKey[];

  constructor(publicKeyPems: string[]) {
    this.#keys = publicKeyPems.map(parseAdminKey);
  }

  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  async check(authorization: string | undefined): Promise<void> {
    if (this.#keys.length === 0) throw deny('KBS_ADMIN_DISABLED', 'The admin API is disabled: start the KBS with --admin-key to enable it');
    const m = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(authorization ?? '');
    if (m === null || m[1] === undefined) throw deny('KBS_ADMIN_TOKEN_MISSING', 'Admin call without an "Authorization: Bearer <JWT>" header');
    const token = m[1];
    let lastError: unknown;
    for (const k of this.#keys) {
      try {
        await jwtVerify(token, k.key, { algorithms: [k.alg], requiredClaims: ['exp'], clockTolerance: 5 });
        return;
      } catch (e) {
        // A claim failure means the signature verified with this key: that is the reason to report.
        const c = (e as { code?: string }).code;
        if (lastError === undefined || c === 'ERR_JWT_EXPIRED' || c === 'ERR_JWT_CLAIM_VALIDATION_FAILED') lastError = e;
      }
    }
    const code = (lastError as { code?: string } | undefined)?.code;
    if (code === 'ERR_JWT_EXPIRED') throw deny('KBS_ADMIN_TOKEN_EXPIRED', 'The admin token is expired');
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') throw deny('KBS_ADMIN_TOKEN_INVALID', `The admin token is invalid: ${messageOf(lastError)}`);
    throw deny('KBS_ADMIN_TOKEN_INVALID', 'The admin token is not signed by a configured admin key');
  }
}

function parseAdminKey(pem: string): AdminKey {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_ADMIN_KEY_INVALID', message: `The admin public key is not a PEM public key: ${messageOf(e)}`, cause: e });
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type === 'ed25519') return { key, alg: 'EdDSA' };
  if (type === 'ec' && curve === 'prime256v1') return { key, alg: 'ES256' };
  if (type === 'ec' && curve === 'secp384r1') return { key, alg: 'ES384' };
  if (type === 'rsa') return { key, alg: 'RS256' };
  throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_ADMIN_KEY_INVALID', message: `Unsupported admin key type ${type ?? '?'}; use Ed25519, EC P-256/P-384 or RSA` });
}

function deny(code: string, message: string): KccError {
  return new KccError({ kind: 'UNAUTHENTICATED', code, message, details: { variant: 'AdminAuthAccess' } });
}
