import { flattenedDecrypt } from 'jose';
import { kbcError } from './errors.js';
import type { TeeKeyPair } from './tee-key.js';

/** The KBS resource response: a JWE in flattened JSON serialization (kbs-types `Response`). */
export interface JweResponse {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
  aad?: string;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Checks that `value` has the shape of a KBS JWE response; throws KBC_PROTOCOL_ERROR otherwise. */
export function parseJweResponse(value: unknown): JweResponse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw kbcError('KBC_PROTOCOL_ERROR', 'Cannot parse the KBS resource response: expected a JWE JSON object');
  }
  const v = value as Record<string, unknown>;
  for (const field of ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag'] as const) {
    const f = v[field];
    if (typeof f !== 'string' || !B64URL.test(f)) {
      throw kbcError('KBC_PROTOCOL_ERROR', `Cannot parse the KBS resource response: field "${field}" is missing or not base64url`);
    }
  }
  return v as unknown as JweResponse;
}

/**
 * Decrypts a KBS resource JWE with the TEE private key.
 *
 * `alg` must match the TEE key (ECDH-ES+A256KW for EC keys, RSA-OAEP-256 for RSA) and `enc`
 * must be A256GCM. The AAD is the ASCII of the `protected` string exactly as received (RFC 7516
 * §5.2 step 14), which is what the Rust client's re-serialization of the header yields for a
 * trustee KBS. A trailing `aad` member is ignored, as the Rust client ignores it.
 */
export async function decryptJweResponse(response: JweResponse, key: TeeKeyPair): Promise<Uint8Array> {
  const alg = key.algorithm === 'RSA-OAEP-256' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
  try {
    const { plaintext } = await flattenedDecrypt(
      {
        protected: response.protected,
        encrypted_key: response.encrypted_key,
        iv: response.iv,
        ciphertext: response.ciphertext,
        tag: response.tag,
      },
      key.privateKey(),
      // SECURITY: accept only the key-wrap algorithm of our own key and AES-256-GCM, so a KBS
      // (or a man in the middle) cannot downgrade to a weaker or unauthenticated scheme.
      { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: ['A256GCM'] },
    );
    return plaintext;
  } catch (cause) {
    const reason = cause instanceof Error && 'code' in cause ? String((cause as { code: unknown }).code) : 'decryption failed';
    throw kbcError('KBC_JWE_DECRYPT_FAILED', `Cannot decrypt the KBS resource response (${reason}): it was not encrypted to this TEE key with ${alg}/A256GCM`, {
      cause,
    });
  }
}
