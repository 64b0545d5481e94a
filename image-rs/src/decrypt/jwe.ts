import { createDecipheriv, createHash, createPublicKey, diffieHellman, privateDecrypt, constants, type KeyObject } from 'node:crypto';

/** A JWE in JSON serialization, general or flattened (RFC 7516 §7.2). */
export interface JweJson {
  protected?: string;
  unprotected?: Record<string, unknown>;
  header?: Record<string, unknown>;
  encrypted_key?: string;
  recipients?: { header?: Record<string, unknown>; encrypted_key?: string }[];
  iv: string;
  ciphertext: string;
  tag: string;
  aad?: string;
}

export interface RecipientFailure {
  alg: string;
  reason: string;
}

const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');

function concatKdf(z: Buffer, bits: number, algId: string, apu: Buffer, apv: Buffer): Buffer {
  const len = (b: Buffer): Buffer => {
    const l = Buffer.alloc(4);
    l.writeUInt32BE(b.length);
    return Buffer.concat([l, b]);
  };
  const supp = Buffer.alloc(4);
  supp.writeUInt32BE(bits);
  const other = Buffer.concat([len(Buffer.from(algId)), len(apu), len(apv), supp]);
  const out: Buffer[] = [];
  for (let i = 1; out.length * 32 < bits / 8; i++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(i);
    out.push(createHash('sha256').update(c).update(z).update(other).digest());
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

function aesUnwrap(kek: Buffer, wrapped: Buffer): Buffer {
  const d = createDecipheriv(`id-aes${kek.length * 8}-wrap`, kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  return Buffer.concat([d.update(wrapped), d.final()]);
}

const ENC_BITS: Record<string, number> = { A128GCM: 128, A192GCM: 192, A256GCM: 256 };

/** The content-encryption key for one recipient; throws with a short, key-free reason. */
function cekFor(header: Record<string, unknown>, encryptedKey: Buffer, key: KeyObject): Buffer {
  const alg = String(header['alg'] ?? '');
  const enc = String(header['enc'] ?? '');
  if (alg === 'RSA-OAEP' || alg === 'RSA-OAEP-256') {
    if (key.asymmetricKeyType !== 'rsa') throw new Error('key is not RSA');
    // go-jose's RSA-OAEP is OAEP with SHA-1 and MGF1-SHA1 (what ocicrypt emits).
    try {
      return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === 'RSA-OAEP' ? 'sha1' : 'sha256' }, encryptedKey);
    } catch {
      throw new Error('RSA-OAEP unwrap failed: not the recipient key');
    }
  }
  const m = /^ECDH-ES(?:\+A(128|192|256)KW)?$/.exec(alg);
  if (m !== null) {
    if (key.asymmetricKeyType !== 'ec') throw new Error('key is not EC');
    const epk = header['epk'] as import('node:crypto').JsonWebKey | undefined;
    if (epk === undefined) throw new Error('missing epk');
    const jwk = key.export({ format: 'jwk' });
    if (epk.crv !== jwk.crv) throw new Error(`key curve ${jwk.crv ?? '?'} does not match ${String(epk.crv)}`);
    const z = diffieHellman({ privateKey: key, publicKey: createPublicKey({ key: epk, format: 'jwk' }) });
    const apu = b64u(header['apu'] as string | undefined);
    const apv = b64u(header['apv'] as string | undefined);
    if (m[1] === undefined) {
      const bits = ENC_BITS[enc];
      if (bits === undefined) throw new Error(`unsupported enc ${enc}`);
      return concatKdf(z, bits, enc, apu, apv);
    }
    try {
      return aesUnwrap(concatKdf(z, Number(m[1]), alg, apu, apv), encryptedKey);
    } catch {
      throw new Error('AES key unwrap failed: not the recipient key');
    }
  }
  throw new Error(`unsupported alg ${alg}`);
}

/**
 * Decrypts a JWE JSON with any of `keys` (every recipient x every key). Returns the plaintext,
 * or undefined plus one failure per recipient tried.
 */
export function decryptJwe(jwe: JweJson, keys: KeyObject[]): { plaintext?: Buffer; failures: RecipientFailure[] } {
  const protectedHeader = jwe.protected === undefined ? {} : (JSON.parse(b64u(jwe.protected).toString('utf8')) as Record<string, unknown>);
  const shared = { ...protectedHeader, ...(jwe.unprotected ?? {}) };
  const recipients = jwe.recipients ?? [{ ...(jwe.header === undefined ? {} : { header: jwe.header }), ...(jwe.encrypted_key === undefined ? {} : { encrypted_key: jwe.encrypted_key }) }];
  const failures: RecipientFailure[] = [];
  for (const r of recipients) {
    const header = { ...shared, ...(r.header ?? {}) };
    const alg = String(header['alg'] ?? '?');
    const reasons: string[] = [];
    for (const key of keys) {
      try {
        const cek = cekFor(header, b64u(r.encrypted_key), key);
        const enc = String(header['enc'] ?? '');
        const bits = ENC_BITS[enc];
        if (bits === undefined || cek.length * 8 !== bits) throw new Error(`unsupported enc ${enc}`);
        const d = createDecipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', cek, b64u(jwe.iv));
        d.setAAD(Buffer.from(jwe.aad === undefined ? (jwe.protected ?? '') : `${jwe.protected ?? ''}.${jwe.aad}`, 'ascii'));
        d.setAuthTag(b64u(jwe.tag));
        try {
          return { plaintext: Buffer.concat([d.update(b64u(jwe.ciphertext)), d.final()]), failures };
        } catch {
          throw new Error('content decryption failed: wrong key or corrupted JWE');
        }
      } catch (err) {
        reasons.push(sanitize(err));
      }
    }
    failures.push({ alg, reason: keys.length === 0 ? 'no private key configured' : [...new Set(reasons)].join('; ') });
  }
  return { failures };
}

function sanitize(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // OpenSSL messages ("oaep decoding error", "unsupported state or unable to authenticate data") carry no key bytes.
  return msg.split('\n')[0]?.slice(0, 120) ?? 'failed';
}
