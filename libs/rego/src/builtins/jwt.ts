/**
 * io.jwt.verify_*, io.jwt.decode_verify, io.jwt.encode_sign(_raw) on node:crypto.
 * Verification keys are what OPA accepts: a PEM certificate, a PEM public key, or a JWK /
 * JWK Set as JSON text (every key of the set is tried; a `kid` in the header narrows it).
 */
import { createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, X509Certificate, constants } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Value } from '../value.js';
import { fromJson, RObject, toJson } from '../value.js';
import { obj, str } from './check.js';
import { jsonMarshal } from './encoding.js';
import { b, BuiltinError } from './types-api.js';
import type { BuiltinCtx, Table } from './types-api.js';

type Family = 'RS' | 'PS' | 'ES' | 'HS' | 'EdDSA';
const ALGS: Record<string, { fam: Family; hash: string | null }> = {
  RS256: { fam: 'RS', hash: 'sha256' }, RS384: { fam: 'RS', hash: 'sha384' }, RS512: { fam: 'RS', hash: 'sha512' },
  PS256: { fam: 'PS', hash: 'sha256' }, PS384: { fam: 'PS', hash: 'sha384' }, PS512: { fam: 'PS', hash: 'sha512' },
  ES256: { fam: 'ES', hash: 'sha256' }, ES384: { fam: 'ES', hash: 'sha384' }, ES512: { fam: 'ES', hash: 'sha512' },
  HS256: { fam: 'HS', hash: 'sha256' }, HS384: { fam: 'HS', hash: 'sha384' }, HS512: { fam: 'HS', hash: 'sha512' },
  EdDSA: { fam: 'EdDSA', hash: null },
};

interface Jws {
  header: Record<string, unknown>;
  payload: unknown;
  signingInput: Buffer;
  sig: Buffer;
}

function parseJws(token: string): Jws {
  const parts = token.split('.');
  if (parts.length !== 3) throw new BuiltinError('io.jwt: a JWS compact token has three parts');
  try {
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8')) as unknown;
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error('header');
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as unknown;
    return { header: header as Record<string, unknown>, payload, signingInput: Buffer.from(`${parts[0]}.${parts[1]}`), sig: Buffer.from(parts[2] as string, 'base64url') };
  } catch {
    throw new BuiltinError('io.jwt: invalid JWT segment');
  }
}

/** Public keys from a PEM certificate / public key, or a JWK / JWK Set JSON text. */
function publicKeys(text: string, kid: unknown): KeyObject[] {
  const t = text.trim();
  try {
    if (t.startsWith('{')) {
      const j = JSON.parse(t) as { keys?: Record<string, unknown>[] } & Record<string, unknown>;
      const jwks = Array.isArray(j.keys) ? j.keys : [j];
      const chosen = typeof kid === 'string' && jwks.some((k) => k['kid'] === kid) ? jwks.filter((k) => k['kid'] === kid) : jwks;
      return chosen.map((k) => createPublicKey({ key: k as never, format: 'jwk' }));
    }
    if (t.includes('CERTIFICATE')) return [new X509Certificate(t).publicKey];
    return [createPublicKey(t)];
  } catch {
    throw new BuiltinError('io.jwt: failed to parse a PEM certificate, PEM public key or JWK');
  }
}

function verifyWith(alg: string, jws: Jws, keyText: string): boolean {
  const a = ALGS[alg];
  if (!a) return false;
  if (a.fam === 'HS') {
    const mac = createHmac(a.hash as string, keyText).update(jws.signingInput).digest();
    return mac.length === jws.sig.length && timingSafeEqual(mac, jws.sig);
  }
  for (const key of publicKeys(keyText, jws.header['kid'])) {
    try {
      if (verify(a.hash, jws.signingInput, keyOpts(a.fam, key), jws.sig)) return true;
    } catch {
      // A key of another type simply does not verify.
    }
  }
  return false;
}

function keyOpts(fam: Family, key: KeyObject) {
  if (fam === 'PS') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  if (fam === 'ES') return { key, dsaEncoding: 'ieee-p1363' as const };
  if (fam === 'RS') return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key };
}

const verifier = (alg: string) =>
  b(2, (a) => {
    const jws = parseJws(str(a, 0));
    // SECURITY: the algorithm is fixed by the builtin, never taken from the token header alone.
    if (jws.header['alg'] !== alg) return false;
    return verifyWith(alg, jws, str(a, 1));
  });

const CONSTRAINTS = new Set(['cert', 'secret', 'alg', 'iss', 'aud', 'time']);

function decodeVerify(a: Value[], ctx: BuiltinCtx): Value {
  const jws = parseJws(str(a, 0));
  const c = obj(a, 1);
  for (const k of c.sortedKeys()) if (typeof k !== 'string' || !CONSTRAINTS.has(k)) throw new BuiltinError(`io.jwt.decode_verify: unknown constraint ${JSON.stringify(toJson(k))}`);
  const cert = c.getStr('cert');
  const secret = c.getStr('secret');
  if ((cert === undefined) === (secret === undefined)) throw new BuiltinError('io.jwt.decode_verify: exactly one of the cert and secret constraints is required');
  const invalid: Value = [false, new RObject(), new RObject()];
  const alg = jws.header['alg'];
  const want = c.getStr('alg');
  if (typeof alg !== 'string' || !ALGS[alg] || (want !== undefined && want !== alg)) return invalid;
  // SECURITY: an HMAC token only verifies with a secret and a public-key token only with a cert,
  // so a public key can never be misused as an HMAC secret (alg confusion).
  const hmac = ALGS[alg]?.fam === 'HS';
  if (hmac !== (secret !== undefined)) return invalid;
  if (!verifyWith(alg, jws, String(hmac ? secret : cert))) return invalid;
  const p = jws.payload;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return invalid;
  const claims = p as Record<string, unknown>;
  const t = c.getStr('time');
  const nowSec = typeof t === 'number' ? t / 1e9 : Number(ctx.nowNs / 1000n) / 1e6;
  if (typeof claims['exp'] === 'number' && nowSec >= claims['exp']) return invalid;
  if (typeof claims['nbf'] === 'number' && nowSec < claims['nbf']) return invalid;
  const iss = c.getStr('iss');
  if (iss !== undefined && claims['iss'] !== iss) return invalid;
  const aud = c.getStr('aud');
  const tokAud = claims['aud'];
  if (tokAud !== undefined || aud !== undefined) {
    if (aud === undefined || tokAud === undefined) return invalid;
    const list = Array.isArray(tokAud) ? tokAud : [tokAud];
    if (!list.includes(aud)) return invalid;
  }
  return [true, fromJson(jws.header), fromJson(p)];
}

/** Signs header.payload (already base64url-encoded) with a JWK. */
function signJws(headerText: string, payloadText: string, jwkText: string): string {
  let header: Record<string, unknown>;
  let jwk: Record<string, unknown>;
  try {
    header = JSON.parse(headerText) as Record<string, unknown>;
    jwk = JSON.parse(jwkText) as Record<string, unknown>;
  } catch {
    throw new BuiltinError('io.jwt.encode_sign: header and key must be JSON objects');
  }
  const alg = String(header['alg'] ?? '');
  const a = ALGS[alg];
  if (!a) throw new BuiltinError(`io.jwt.encode_sign: unsupported alg ${JSON.stringify(alg)}`);
  const input = `${Buffer.from(headerText).toString('base64url')}.${Buffer.from(payloadText).toString('base64url')}`;
  let sig: Buffer;
  try {
    if (a.fam === 'HS') {
      if (jwk['kty'] !== 'oct' || typeof jwk['k'] !== 'string') throw new Error('oct');
      sig = createHmac(a.hash as string, Buffer.from(jwk['k'], 'base64url')).update(input).digest();
    } else {
      const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
      sig = sign(a.hash, Buffer.from(input), keyOpts(a.fam, key) as never);
    }
  } catch {
    throw new BuiltinError(`io.jwt.encode_sign: the key is not a private JWK usable with ${alg}`);
  }
  return `${input}.${sig.toString('base64url')}`;
}

export const JWT: Table = {
  'io.jwt.verify_rs256': verifier('RS256'),
  'io.jwt.verify_rs384': verifier('RS384'),
  'io.jwt.verify_rs512': verifier('RS512'),
  'io.jwt.verify_ps256': verifier('PS256'),
  'io.jwt.verify_ps384': verifier('PS384'),
  'io.jwt.verify_ps512': verifier('PS512'),
  'io.jwt.verify_es256': verifier('ES256'),
  'io.jwt.verify_es384': verifier('ES384'),
  'io.jwt.verify_es512': verifier('ES512'),
  'io.jwt.verify_hs256': verifier('HS256'),
  'io.jwt.verify_hs384': verifier('HS384'),
  'io.jwt.verify_hs512': verifier('HS512'),
  'io.jwt.verify_eddsa': verifier('EdDSA'),
  'io.jwt.decode_verify': b(2, decodeVerify),
  'io.jwt.encode_sign': b(3, (a) => signJws(jsonMarshal(obj(a, 0)), jsonMarshal(obj(a, 1)), jsonMarshal(obj(a, 2)))),
  'io.jwt.encode_sign_raw': b(3, (a) => signJws(str(a, 0), str(a, 1), str(a, 2))),
};
