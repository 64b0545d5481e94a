import { createDecipheriv, createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { Redacted } from '@kata-cc/log';
import { isKccError } from '@kata-cc/errors';
import { imgError } from '../errors.js';
import type { Descriptor } from '../types.js';
import { decryptJwe, type JweJson } from './jwe.js';
import type { KeyUnwrapper } from './key-unwrapper.js';

export const ENC_KEYS_JWE = 'org.opencontainers.image.enc.keys.jwe';
export const ENC_KEYS_PROVIDER = 'org.opencontainers.image.enc.keys.provider.';
export const ENC_PUBOPTS = 'org.opencontainers.image.enc.pubopts';

/** What decrypts layers: private keys (JWE recipients) and/or a keyprovider. */
export interface DecryptionKeys {
  privateKeys?: KeyObject[];
  keyProvider?: KeyUnwrapper;
  /** DecryptConfig parameters passed to the keyprovider (ocicrypt `provider:<name>:<params>`). */
  providerParameters?: Uint8Array[];
}

/** PrivateLayerBlockCipherOptions: the symmetric key material for one layer. */
export interface LayerKey {
  symkey: Redacted<Buffer>;
  nonce: Buffer;
  /** Digest of the plaintext (still compressed) layer, or of the uncompressed tar (= diff_id) when the encryptor compressed it in the same copy (skopeo). */
  digest: string;
  hmac: Buffer;
}

export function isEncrypted(mediaType: string): boolean {
  return mediaType.endsWith('+encrypted');
}

function b64json(value: string | undefined, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(value ?? '', 'base64').toString('utf8'));
  } catch {
    throw imgError('IMG_DECRYPT_ANNOTATION_INVALID', `Encrypted layer annotation ${what} is not base64 JSON`);
  }
}

function parsePrivateOpts(json: Uint8Array, hmac: Buffer, layer: string): LayerKey {
  let o: { symkey?: unknown; digest?: unknown; cipheroptions?: { nonce?: unknown } };
  try {
    o = JSON.parse(Buffer.from(json).toString('utf8')) as typeof o;
  } catch {
    throw imgError('IMG_DECRYPT_FAILED', `Unwrapped key material of layer ${layer} is not JSON`);
  }
  const symkey = Buffer.from(String(o.symkey ?? ''), 'base64');
  const nonce = Buffer.from(String(o.cipheroptions?.nonce ?? ''), 'base64');
  if (symkey.length !== 32 || nonce.length !== 16 || typeof o.digest !== 'string') {
    throw imgError('IMG_DECRYPT_FAILED', `Unwrapped key material of layer ${layer} is malformed (need a 32-byte symkey, a 16-byte nonce and a digest)`);
  }
  return { symkey: new Redacted(symkey), nonce, digest: o.digest, hmac };
}

/**
 * Opens the layer's key: each JWE recipient with each private key, then each keyprovider
 * annotation with the keyprovider. The error lists every recipient type tried and why it
 * failed (never key bytes).
 */
export async function unwrapLayerKey(desc: Descriptor, keys: DecryptionKeys): Promise<LayerKey> {
  const ann = desc.annotations ?? {};
  const layer = desc.digest;
  const pub = b64json(ann[ENC_PUBOPTS], ENC_PUBOPTS) as { cipher?: unknown; hmac?: unknown } | null;
  // SECURITY: annotations come from the (untrusted) manifest: shapes are checked before use.
  if (typeof pub !== 'object' || pub === null || (pub.hmac !== undefined && typeof pub.hmac !== 'string')) {
    throw imgError('IMG_DECRYPT_ANNOTATION_INVALID', `Encrypted layer annotation ${ENC_PUBOPTS} of ${layer} is not an object with a string hmac`);
  }
  if (pub.cipher !== 'AES_256_CTR_HMAC_SHA256') {
    throw imgError('IMG_MEDIA_TYPE_UNSUPPORTED', `Layer ${layer} uses cipher ${typeof pub.cipher === 'string' ? `"${pub.cipher.slice(0, 64)}"` : `of type ${Array.isArray(pub.cipher) ? 'array' : typeof pub.cipher}`}; only AES_256_CTR_HMAC_SHA256 is supported`);
  }
  const hmac = Buffer.from(pub.hmac ?? '', 'base64');
  const tried: { type: string; reason: string }[] = [];
  const jwe = ann[ENC_KEYS_JWE];
  if (jwe !== undefined) {
    for (const part of jwe.split(',')) {
      const obj = b64json(part, ENC_KEYS_JWE) as JweJson;
      let result: ReturnType<typeof decryptJwe>;
      try {
        result = decryptJwe(obj, keys.privateKeys ?? []);
      } catch {
        // A JWE of the wrong shape (not an object, protected header not JSON, recipients not a list).
        throw imgError('IMG_DECRYPT_ANNOTATION_INVALID', `Encrypted layer annotation ${ENC_KEYS_JWE} of ${layer} is not a JWE in JSON serialization`);
      }
      const { plaintext, failures } = result;
      if (plaintext !== undefined) return parsePrivateOpts(plaintext, hmac, layer);
      for (const f of failures) tried.push({ type: `jwe:${f.alg}`, reason: f.reason });
    }
  }
  for (const [k, v] of Object.entries(ann)) {
    if (!k.startsWith(ENC_KEYS_PROVIDER)) continue;
    const provider = k.slice(ENC_KEYS_PROVIDER.length);
    if (keys.keyProvider === undefined) {
      tried.push({ type: `provider:${provider}`, reason: 'no key provider configured' });
      continue;
    }
    try {
      const opts = await keys.keyProvider.unwrapKey({ provider, annotation: Buffer.from(v, 'base64'), ...(keys.providerParameters ? { parameters: keys.providerParameters } : {}) });
      return parsePrivateOpts(opts, hmac, layer);
    } catch (err) {
      tried.push({ type: `provider:${provider}`, reason: isKccError(err) ? err.message : String((err as Error).message ?? err).slice(0, 200) });
    }
  }
  for (const k of Object.keys(ann)) {
    if (k.startsWith('org.opencontainers.image.enc.keys.') && k !== ENC_KEYS_JWE && !k.startsWith(ENC_KEYS_PROVIDER)) {
      tried.push({ type: k.slice('org.opencontainers.image.enc.keys.'.length), reason: 'recipient type not supported' });
    }
  }
  if (tried.length === 0) throw imgError('IMG_DECRYPT_ANNOTATION_INVALID', `Encrypted layer ${layer} has no key recipients`);
  const noKey = tried.every((t) => t.reason === 'no private key configured' || t.reason === 'no key provider configured' || t.reason === 'recipient type not supported');
  throw imgError(
    noKey ? 'IMG_DECRYPT_NO_KEY' : 'IMG_DECRYPT_FAILED',
    `Cannot decrypt layer ${layer}: ${tried.map((t) => `${t.type} (${t.reason})`).join(', ')}`,
    { layer, recipients: tried },
  );
}

/**
 * AES-256-CTR decryption of a layer stream with HMAC-SHA256 over the ciphertext and the
 * plaintext digest from the private options, both checked at the end (ocicrypt
 * blockcipher_aes_ctr.go semantics).
 *
 * Which stream the options `digest` names depends on the encryptor: ocicrypt's EncryptLayer
 * stores the digest of the descriptor its caller passes in, not of what it encrypted.
 * containers/image (skopeo 1.9) passes the SOURCE blob's descriptor, so when it compresses an
 * uncompressed (`…tar`) layer in the same copy, `digest` is the uncompressed tar (= diff_id)
 * while the decrypted bytes are gzip. `diffId` lets that case through; the caller then MUST
 * check the decompressed stream against that same diff_id (applyLayer always does).
 */
export class DecryptTransform extends Transform {
  readonly #decipher;
  readonly #hmac;
  readonly #plainHash;
  readonly #key: LayerKey;
  readonly #layer: string;

  readonly #diffId: string | undefined;

  constructor(key: LayerKey, layer: string, diffId?: string) {
    super();
    this.#key = key;
    this.#layer = layer;
    this.#diffId = diffId;
    this.#decipher = createDecipheriv('aes-256-ctr', key.symkey.reveal(), key.nonce);
    this.#hmac = createHmac('sha256', key.symkey.reveal());
    const alg = key.digest.split(':')[0] === 'sha512' ? 'sha512' : 'sha256';
    this.#plainHash = createHash(alg);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hmac.update(chunk);
    const out = this.#decipher.update(chunk);
    this.#plainHash.update(out);
    cb(null, out);
  }

  override _flush(cb: TransformCallback): void {
    const tail = this.#decipher.final();
    if (tail.length > 0) this.#plainHash.update(tail);
    const mac = this.#hmac.digest();
    // SECURITY: the ciphertext is authenticated before the layer is accepted.
    if (mac.length !== this.#key.hmac.length || !timingSafeEqual(mac, this.#key.hmac)) {
      cb(imgError('IMG_DECRYPT_HMAC_MISMATCH', `HMAC of encrypted layer ${this.#layer} does not match`));
      return;
    }
    const got = `${this.#key.digest.split(':')[0]}:${this.#plainHash.digest('hex')}`;
    // SECURITY: `digest` must name either the decrypted blob or the uncompressed tar; in the
    // second case the diff_id check on the decompressed stream (caller) enforces it.
    if (got !== this.#key.digest && this.#key.digest !== this.#diffId) {
      cb(imgError('IMG_DIGEST_MISMATCH', `Decrypted layer ${this.#layer} does not match the digest in its key options`, { expected: this.#key.digest, actual: got }));
      return;
    }
    cb(null, tail);
  }
}
