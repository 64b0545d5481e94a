import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { hasCode } from '@kata-cc/errors';
import { decryptJweResponse, parseJweResponse } from './jwe.js';
import { TeeKeyPair, type TeePubKeyJwk } from './tee-key.js';

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/**
 * Encrypts like trustee's KBS (kbs/src/jwe/mod.rs): protected header serialized compact in the
 * order alg, enc, epk{crv,kty,x,y}; Concat KDF; AES-KW; A256GCM with AAD = b64url(protected).
 * Written independently of jose so the test checks interoperability, not jose against itself.
 */
function trusteeEncrypt(pub: TeePubKeyJwk, plaintext: Buffer): Record<string, string> {
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  let header: string;
  let encryptedKey: Buffer;
  if (pub.kty === 'RSA') {
    header = JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM' });
    encryptedKey = publicEncrypt({ key: createPublicKey({ key: pub, format: 'jwk' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  } else {
    const eph = generateKeyPairSync('ec', { namedCurve: pub.crv });
    const epk = eph.publicKey.export({ format: 'jwk' });
    const z = diffieHellman({ privateKey: eph.privateKey, publicKey: createPublicKey({ key: pub, format: 'jwk' }) });
    const algId = Buffer.from('ECDH-ES+A256KW');
    const be32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
    const kek = createHash('sha256').update(Buffer.concat([be32(1), z, be32(algId.length), algId, be32(0), be32(0), be32(256)])).digest();
    const kw = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    encryptedKey = Buffer.concat([kw.update(cek), kw.final()]);
    header = JSON.stringify({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: { crv: epk.crv, kty: 'EC', x: epk.x, y: epk.y } });
  }
  const protectedB64 = b64u(Buffer.from(header));
  const gcm = createCipheriv('aes-256-gcm', cek, iv);
  gcm.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()]);
  return { protected: protectedB64, encrypted_key: b64u(encryptedKey), iv: b64u(iv), ciphertext: b64u(ciphertext), tag: b64u(gcm.getAuthTag()) };
}

for (const alg of ['ECDH-ES+A256KW-P256', 'ECDH-ES+A256KW-P521', 'RSA-OAEP-256'] as const) {
  test(`decryptJweResponse() decrypts a trustee-style JWE for ${alg}`, async () => {
    const key = TeeKeyPair.generate(alg);
    const secret = Buffer.from('top secret \u00e9\u0000 bytes');
    const jwe = parseJweResponse(trusteeEncrypt(key.publicJwk(), secret));
    assert.deepEqual(Buffer.from(await decryptJweResponse(jwe, key)), secret);
  });
}

test('decryptJweResponse() rejects a tampered protected header (AAD) and a foreign key', async () => {
  const key = TeeKeyPair.generate();
  const jwe = trusteeEncrypt(key.publicJwk(), Buffer.from('x'));
  const header = JSON.parse(Buffer.from(jwe['protected']!, 'base64url').toString());
  const reordered = { ...jwe, protected: b64u(Buffer.from(JSON.stringify({ enc: header.enc, alg: header.alg, epk: header.epk }))) };
  await assert.rejects(decryptJweResponse(parseJweResponse(reordered), key), (e) => hasCode(e, 'KBC_JWE_DECRYPT_FAILED'));
  await assert.rejects(decryptJweResponse(parseJweResponse(jwe), TeeKeyPair.generate()), (e) => hasCode(e, 'KBC_JWE_DECRYPT_FAILED'));
});

test('decryptJweResponse() refuses an RSA JWE for an EC key (no algorithm downgrade)', async () => {
  const rsa = TeeKeyPair.generate('RSA-OAEP-256');
  const jwe = trusteeEncrypt(rsa.publicJwk(), Buffer.from('x'));
  await assert.rejects(decryptJweResponse(parseJweResponse(jwe), TeeKeyPair.generate()), (e) => hasCode(e, 'KBC_JWE_DECRYPT_FAILED'));
});

test('parseJweResponse() rejects malformed responses', () => {
  assert.throws(() => parseJweResponse([]), (e) => hasCode(e, 'KBC_PROTOCOL_ERROR'));
  assert.throws(() => parseJweResponse({ protected: 'a', iv: 'b', ciphertext: 'c', tag: 'd' }), (e) => hasCode(e, 'KBC_PROTOCOL_ERROR'));
  assert.throws(() => parseJweResponse({ protected: 'a+', encrypted_key: '', iv: 'b', ciphertext: 'c', tag: 'd' }), (e) => hasCode(e, 'KBC_PROTOCOL_ERROR'));
});

test('TeeKeyPair.fromPem() round-trips and reports the algorithm from the key', () => {
  for (const alg of ['ECDH-ES+A256KW-P256', 'ECDH-ES+A256KW-P521', 'RSA-OAEP-256'] as const) {
    const k = TeeKeyPair.generate(alg);
    const back = TeeKeyPair.fromPem(k.privateKeyPem());
    assert.equal(back.algorithm, alg);
    assert.deepEqual(back.publicJwk(), k.publicJwk());
  }
  const p521 = TeeKeyPair.generate('ECDH-ES+A256KW-P521').publicJwk();
  assert.equal(p521.kty === 'EC' && Buffer.from(p521.x, 'base64url').length, 66);
  assert.throws(() => TeeKeyPair.fromPem('nope'), (e) => hasCode(e, 'KBC_TEE_KEY_INVALID'));
  const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  assert.throws(() => TeeKeyPair.fromPem(ed), (e) => hasCode(e, 'KBC_TEE_KEY_INVALID'));
});
