import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { kbcError } from './errors.js';

/** The TEE key algorithms of aa.toml `tee_key_algorithm` (guest-components `TeeKeyAlgorithm`). */
export const TEE_KEY_ALGORITHMS = ['ECDH-ES+A256KW-P256', 'ECDH-ES+A256KW-P521', 'RSA-OAEP-256'] as const;
export type TeeKeyAlgorithm = (typeof TEE_KEY_ALGORITHMS)[number];

/** The default of the Rust client (`TeeKeyAlgorithm::default()`): EC P-256. */
export const DEFAULT_TEE_KEY_ALGORITHM: TeeKeyAlgorithm = 'ECDH-ES+A256KW-P256';

/** The `tee-pubkey` JWK sent in `runtime-data` (kbs-types `TeePubKey`, tagged by `kty`). */
export type TeePubKeyJwk =
  | { kty: 'EC'; crv: 'P-256' | 'P-521'; alg: 'ECDH-ES+A256KW'; x: string; y: string }
  | { kty: 'RSA'; alg: 'RSA-OAEP-256'; n: string; e: string };

/** Parses an aa.toml `tee_key_algorithm` value. */
export function parseTeeKeyAlgorithm(value: string): TeeKeyAlgorithm {
  if ((TEE_KEY_ALGORITHMS as readonly string[]).includes(value)) return value as TeeKeyAlgorithm;
  throw kbcError('KBC_INVALID_CONFIG', `Invalid TEE key algorithm "${value}": expected one of ${TEE_KEY_ALGORITHMS.join(', ')}`);
}

/**
 * The ephemeral key pair of the TEE: its public half goes to the KBS in `runtime-data`
 * (bound into the evidence), its private half decrypts the resources the KBS wraps to it.
 * The private key never leaves this object except through `privateKeyPem()`, which the AA
 * uses to hand the key to the CDH in `GetToken` (as guest-components does).
 */
export class TeeKeyPair {
  readonly algorithm: TeeKeyAlgorithm;
  readonly #privateKey: KeyObject;
  readonly #publicJwk: TeePubKeyJwk;

  private constructor(algorithm: TeeKeyAlgorithm, privateKey: KeyObject) {
    this.algorithm = algorithm;
    this.#privateKey = privateKey;
    this.#publicJwk = toPubKeyJwk(algorithm, createPublicKey(privateKey).export({ format: 'jwk' }));
  }

  /** Generates a fresh key pair (RSA keys are 2048 bits, as in the Rust client). */
  static generate(algorithm: TeeKeyAlgorithm = DEFAULT_TEE_KEY_ALGORITHM): TeeKeyPair {
    switch (algorithm) {
      case 'ECDH-ES+A256KW-P256':
        return new TeeKeyPair(algorithm, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
      case 'ECDH-ES+A256KW-P521':
        return new TeeKeyPair(algorithm, generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey);
      case 'RSA-OAEP-256':
        return new TeeKeyPair(algorithm, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    }
  }

  /**
   * Loads a private key (PEM: PKCS#8, SEC1 or PKCS#1), e.g. the `tee_keypair` handed out by
   * the AA's GetToken or kbs-client's `--tee-key-file`. The algorithm follows from the key.
   */
  static fromPem(pem: string): TeeKeyPair {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (cause) {
      throw kbcError('KBC_TEE_KEY_INVALID', 'Cannot parse the TEE private key: expected a PEM EC (P-256/P-521) or RSA private key', { cause });
    }
    const details = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType === 'rsa') return new TeeKeyPair('RSA-OAEP-256', key);
    if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return new TeeKeyPair('ECDH-ES+A256KW-P256', key);
    if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'secp521r1') return new TeeKeyPair('ECDH-ES+A256KW-P521', key);
    throw kbcError('KBC_TEE_KEY_INVALID', `Cannot use a ${key.asymmetricKeyType ?? 'unknown'} ${details?.namedCurve ?? ''} key as TEE key: expected EC P-256, EC P-521 or RSA`.replace('  ', ' '));
  }

  /** The public key as the `tee-pubkey` JWK of `runtime-data`. */
  publicJwk(): TeePubKeyJwk {
    return { ...this.#publicJwk };
  }

  /** The private key object, for JWE decryption inside this package. */
  privateKey(): KeyObject {
    return this.#privateKey;
  }

  /** The private key as PKCS#8 PEM (what the AA's GetToken returns as `tee_keypair`). */
  privateKeyPem(): string {
    return this.#privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }
}

function toPubKeyJwk(algorithm: TeeKeyAlgorithm, jwk: JsonWebKey): TeePubKeyJwk {
  if (algorithm === 'RSA-OAEP-256') {
    return { kty: 'RSA', alg: 'RSA-OAEP-256', n: String(jwk.n), e: String(jwk.e) };
  }
  const crv = algorithm === 'ECDH-ES+A256KW-P256' ? 'P-256' : 'P-521';
  return { kty: 'EC', crv, alg: 'ECDH-ES+A256KW', x: String(jwk.x), y: String(jwk.y) };
}
