import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { KccError, messageOf } from '@kata-cc/errors';
import { b64urlEncode, encodeProtectedHeader } from '@kata-cc/kbs-types';
import type { Response, TeePubKey } from '@kata-cc/kbs-types';

const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/**
 * Encrypts `plaintext` to the TEE key as trustee's KBS does (`kbs/src/jwe`): A256GCM content,
 * CEK wrapped with ECDH-ES+A256KW (P-256/P-521, empty apu/apv) or RSA-OAEP-256. The protected
 * header is serialized `{"alg","enc","epk":{crv,kty,x,y}}` because the Rust client recomputes
 * the AAD by re-serializing it in that order.
 */
export function encryptToTeeKey(key: TeePubKey, plaintext: Uint8Array): Response {
  try {
    const cek = randomBytes(32);
    let protectedB64: string;
    let encryptedKey: Buffer;
    if (key.kty === 'EC') {
      const recipient = createPublicKey({ key: { kty: 'EC', crv: key.crv, x: key.x, y: key.y }, format: 'jwk' });
      const eph = generateKeyPairSync('ec', { namedCurve: key.crv });
      const z = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
      const kek = concatKdf(z, 'ECDH-ES+A256KW', 256);
      const wrap = createCipheriv('id-aes256-wrap', kek, AES_KW_IV);
      encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
      const epk = eph.publicKey.export({ format: 'jwk' });
      protectedB64 = encodeProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: { crv: key.crv, kty: 'EC', x: String(epk.x), y: String(epk.y) } });
    } else {
      if (key.alg !== 'RSA-OAEP-256') {
        throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_JWE_UNSUPPORTED_ALG', message: `Key wrapping "${key.alg}" is not supported; use RSA-OAEP-256` });
      }
      const recipient = createPublicKey({ key: { kty: 'RSA', n: key.n, e: key.e }, format: 'jwk' });
      encryptedKey = publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
      protectedB64 = encodeProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' });
    }
    const iv = randomBytes(12);
    const gcm = createCipheriv('aes-256-gcm', cek, iv);
    gcm.setAAD(Buffer.from(protectedB64, 'ascii'));
    const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()]);
    return {
      protected: protectedB64,
      encrypted_key: b64urlEncode(encryptedKey),
      iv: b64urlEncode(iv),
      ciphertext: b64urlEncode(ciphertext),
      tag: b64urlEncode(gcm.getAuthTag()),
    };
  } catch (e) {
    if (e instanceof KccError) throw e;
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_JWE_FAILED', message: `Cannot encrypt the resource to the TEE key: ${messageOf(e)}`, cause: e });
  }
}

/** NIST SP 800-56A Concat KDF with SHA-256 as RFC 7518 §4.6.2 uses it (empty apu/apv). */
export function concatKdf(z: Buffer, alg: string, keyBits: number): Buffer {
  const be32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const algId = Buffer.from(alg, 'ascii');
  const otherInfo = Buffer.concat([be32(algId.length), algId, be32(0), be32(0), be32(keyBits)]);
  // One round of SHA-256 gives 256 bits, exactly what A256KW needs.
  return createHash('sha256').update(Buffer.concat([be32(1), z, otherInfo])).digest().subarray(0, keyBits / 8);
}
