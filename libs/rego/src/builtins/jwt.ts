/**
 * io.jwt.verify_*, io.jwt.decode_verify, io.jwt.encode_sign(_raw) on node:crypto.
 * Verification keys are what OPA accepts: a PEM certificate, a PEM public key, or a JWK /
 * JWK Set as JSON text (every key of the set is tried; a `kid` in the header narrows it).
 */
import { createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, X509Certificate, constants } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Value } from '../value.js';
import { fromJson, RObject } from '../value.js';
import { parseJson } from '../json.js';
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
  /** The decoded payload text (JSON, or a nested JWT when the header says `cty: JWT`). */
  payloadText: string;
  signingInput: Buffer;
  sig: Buffer;
}

function parseJws(token: string): Jws {
  const parts = token.split('.');
  if (parts.length !== 3) throw new BuiltinError('io.jwt: a JWS compact token has three parts');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new BuiltinError('io.jwt: invalid JWT header');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new BuiltinError('io.jwt: the JWT header is not an object');
  if ('enc' in header) throw new BuiltinError('io.jwt: JWT is a JWE object, which is not supported');
  return {
    header: header as Record<string, unknown>,
    payloadText: Buffer.from(parts[1] as string, 'base64url').toString('utf8'),
    signingInput: Buffer.from(`${parts[0]}.${parts[1]}`),
    sig: Buffer.from(parts[2] as string, 'base64url'),
  };
}

/** The claims object of a token (JSON object, big integers exact). */
function claimsOf(jws: Jws): RObject {
  let v: Value;
  try {
    v = fromJson(parseJson(jws.payloadText));
  } catch {
    throw new BuiltinError('io.jwt: the JWT payload is not valid JSON');
  }
  if (!(v instanceof RObject)) throw new BuiltinError('io.jwt: the JWT payload is not a JSON object');
  return v;
}

const KNOWN_HEADERS = new Set(['alg', 'kid', 'typ', 'cty', 'crit']);

/** RFC 7515: `alg` present, and no `crit` parameter that we do not understand. */
function headerValid(h: Record<string, unknown>): boolean {
  if (typeof h['alg'] !== 'string' || h['alg'] === '') return false;
  const crit = h['crit'];
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0) return false;
  return !Object.keys(h).some((k) => !KNOWN_HEADERS.has(k) && crit.includes(k));
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

function verifyWith(alg: string, jws: Pick<Jws, 'signingInput' | 'sig'>, keyText: string, kid?: unknown): boolean {
  const a = ALGS[alg];
  if (!a) return false;
  if (a.fam === 'HS') {
    const mac = createHmac(a.hash as string, keyText).update(jws.signingInput).digest();
    return mac.length === jws.sig.length && timingSafeEqual(mac, jws.sig);
  }
  for (const key of publicKeys(keyText, kid)) {
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

/**
 * io.jwt.verify_<alg> as OPA: only the signature is checked, with the builtin's algorithm
 * against every key given (the header is not read; claims are not checked).
 */
const verifier = (alg: string) =>
  b(2, (a) => {
    const parts = str(a, 0).split('.');
    if (parts.length !== 3) throw new BuiltinError('io.jwt: a JWS compact token has three parts');
    // SECURITY: the algorithm is fixed by the builtin, never taken from the token header.
    const signed = { signingInput: Buffer.from(`${parts[0]}.${parts[1]}`), sig: Buffer.from(parts[2] as string, 'base64url') };
    return verifyWith(alg, signed, str(a, 1));
  });

const CONSTRAINTS = new Set(['cert', 'secret', 'alg', 'iss', 'aud', 'time']);

function constraintString(c: RObject, name: string): string | undefined {
  const v = c.getStr(name);
  if (v !== undefined && typeof v !== 'string') throw new BuiltinError(`io.jwt.decode_verify: ${name} constraint: must be a string`);
  return v;
}

/** OPA's decode_verify: constraint errors are errors; anything the token fails is [false, {}, {}]. */
function decodeVerify(a: Value[], ctx: BuiltinCtx): Value {
  const c = obj(a, 1);
  for (const k of c.sortedKeys()) if (typeof k !== 'string' || !CONSTRAINTS.has(k)) throw new BuiltinError(`io.jwt.decode_verify: unknown token validation constraint ${jsonMarshal(k)}`);
  const cert = constraintString(c, 'cert');
  const secret = constraintString(c, 'secret');
  const want = constraintString(c, 'alg');
  const iss = constraintString(c, 'iss');
  const aud = constraintString(c, 'aud');
  if (cert !== undefined && secret !== undefined) throw new BuiltinError('io.jwt.decode_verify: duplicate key constraints');
  if (cert === undefined && secret === undefined) throw new BuiltinError('io.jwt.decode_verify: no key constraint');
  const t = c.getStr('time');
  if (t !== undefined && ((typeof t !== 'number' && typeof t !== 'bigint') || t < 0)) throw new BuiltinError('io.jwt.decode_verify: token time constraint: must be a non-negative number');
  const nowSec = t !== undefined ? Number(t) / 1e9 : Number(ctx.nowNs / 1000n) / 1e6;
  const invalid: Value = [false, new RObject(), new RObject()];
  let jws = parseJws(str(a, 0));
  // Nested tokens (`cty: JWT`): each level must verify, the innermost carries the claims.
  for (let depth = 0; ; depth++) {
    if (!headerValid(jws.header)) return invalid;
    const alg = jws.header['alg'] as string;
    if ((want !== undefined && want !== alg) || !ALGS[alg]) return invalid;
    // SECURITY: an HMAC token only verifies with a secret and a public-key token only with a
    // cert, so a public key can never be misused as an HMAC secret (alg confusion).
    const hmac = ALGS[alg]?.fam === 'HS';
    if (hmac !== (secret !== undefined)) return invalid;
    if (!verifyWith(alg, jws, String(hmac ? secret : cert), jws.header['kid'])) return invalid;
    const cty = jws.header['cty'];
    if (typeof cty !== 'string' || cty.toUpperCase() !== 'JWT') break;
    if (depth >= 8) throw new BuiltinError('io.jwt.decode_verify: too many nested tokens');
    jws = parseJws(jws.payloadText);
  }
  const claims = claimsOf(jws);
  const tokIss = claims.getStr('iss');
  if (iss !== undefined && tokIss !== undefined && tokIss !== iss) return invalid;
  const tokAud = claims.getStr('aud');
  if (tokAud !== undefined) {
    const ok = typeof tokAud === 'string' ? tokAud === aud : Array.isArray(tokAud) && aud !== undefined && tokAud.includes(aud);
    if (!ok) return invalid;
  } else if (aud !== undefined) return invalid;
  const exp = claims.getStr('exp');
  if ((typeof exp === 'number' || typeof exp === 'bigint') && nowSec >= Number(exp)) return invalid;
  const nbf = claims.getStr('nbf');
  if ((typeof nbf === 'number' || typeof nbf === 'bigint') && nowSec < Number(nbf)) return invalid;
  return [true, fromJson(jws.header), claims];
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
  const typ = header['typ'];
  if (typ === undefined || typ === '' || typ === 'JWT') {
    try {
      JSON.parse(payloadText);
    } catch {
      throw new BuiltinError('io.jwt.encode_sign: type is JWT but payload is not JSON');
    }
  }
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
