/**
 * The encryption side of ocicrypt (github.com/containers/ocicrypt), written from its spec
 * (docs/spec.md, "Encrypted layer" and "Keywrap"): each layer blob is encrypted with a fresh
 * 32-byte symmetric key and 16-byte nonce by the block cipher AES_256_CTR_HMAC_SHA256
 * (AES-256 in CTR mode, HMAC-SHA256 keyed with the same key over the CIPHERTEXT). The public
 * options (`org.opencontainers.image.enc.pubopts`) carry the cipher name and the HMAC; the
 * private options `{symkey, digest, cipheroptions: {nonce}}` (digest = of the plaintext blob)
 * are wrapped per recipient: here for the CoCo `attestation-agent` key provider (A256GCM under
 * a KEK the KBS holds, as guest-components' coco_keyprovider does) and optionally as a JWE.
 */
import { createCipheriv, createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FlattenedEncrypt } from 'jose';

export const ANN_PUBOPTS = 'org.opencontainers.image.enc.pubopts';
export const ANN_KEYS_JWE = 'org.opencontainers.image.enc.keys.jwe';
export const ANN_KEYS_COCO = 'org.opencontainers.image.enc.keys.provider.attestation-agent';
export const CIPHER = 'AES_256_CTR_HMAC_SHA256';

export interface EncryptedLayer {
  /** PrivateLayerBlockCipherOptions JSON (secret: holds the symmetric key). */
  privateOpts: Buffer;
  /** base64 of the PublicLayerBlockCipherOptions JSON. */
  pubopts: string;
  /** Digest and size of the ciphertext written to `dst`. */
  digest: string;
  size: number;
}

/**
 * Encrypts one layer blob file into `dst`, streaming (memory stays flat whatever the layer
 * size); key and nonce are fresh per layer, as ocicrypt does.
 */
export async function encryptFile(src: string, dst: string): Promise<EncryptedLayer> {
  const symkey = randomBytes(32);
  const nonce = randomBytes(16);
  const hmac = createHmac('sha256', symkey);
  const plainSha = createHash('sha256');
  const encSha = createHash('sha256');
  let size = 0;
  const tap = (fn: (c: Buffer) => void): Transform => new Transform({ transform(c: Buffer, _e, cb) { fn(c); cb(null, c); } });
  await pipeline(createReadStream(src), tap((c) => plainSha.update(c)), createCipheriv('aes-256-ctr', symkey, nonce),
    tap((c) => { hmac.update(c); encSha.update(c); size += c.length; }), createWriteStream(dst, { mode: 0o644 }));
  const digest = `sha256:${plainSha.digest('hex')}`;
  // Field names and order as Go's encoding/json writes ocicrypt's structs ([]byte -> base64).
  const privateOpts = Buffer.from(JSON.stringify({ symkey: symkey.toString('base64'), digest, cipheroptions: { nonce: nonce.toString('base64') } }));
  symkey.fill(0);
  const pubopts = Buffer.from(JSON.stringify({ cipher: CIPHER, hmac: hmac.digest().toString('base64'), cipheroptions: {} })).toString('base64');
  return { privateOpts, pubopts, digest: `sha256:${encSha.digest('hex')}`, size };
}

/**
 * The `attestation-agent` key provider annotation: base64 of `{kid, wrapped_data, iv,
 * wrap_type: "A256GCM"}`, wrapped_data = AES-256-GCM(KEK, iv) ciphertext || 16-byte tag; the CDH
 * fetches the KEK from the KBS at `kid` and unwraps.
 */
export function wrapForKbs(privateOpts: Buffer, kek: Buffer, kid: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  const wrapped = Buffer.concat([c.update(privateOpts), c.final(), c.getAuthTag()]);
  return Buffer.from(JSON.stringify({ kid, wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' })).toString('base64');
}

/**
 * A JWE recipient (ocicrypt `jwe:` keywrap): flattened JSON serialization, RSA-OAEP for RSA
 * keys and ECDH-ES+A256KW for EC keys (what ocicrypt's go-jose choice yields), enc A256GCM;
 * the annotation holds base64 of the JWE JSON (several recipients: comma-separated).
 */
export async function wrapJwe(privateOpts: Buffer, pub: KeyObject): Promise<string> {
  const alg = pub.asymmetricKeyType === 'rsa' ? 'RSA-OAEP' : 'ECDH-ES+A256KW';
  const jwe = await new FlattenedEncrypt(privateOpts).setProtectedHeader({ alg, enc: 'A256GCM' }).encrypt(pub);
  return Buffer.from(JSON.stringify(jwe)).toString('base64');
}
