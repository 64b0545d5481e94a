/**
 * Minimal KBS client steps for this package's tests and the benchmark (the real client is
 * attestation-agent/kbs-client, which the tenant column may not import). It plays the
 * `sample` TEE: evidence `{"svn","report_data"}` carrying the unpadded binding digest.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, flattenedDecrypt } from 'jose';
import { b64Encode, expectedReportData, KBS_PROTOCOL_VERSION } from '@kata-cc/kbs-types';
import type { TeePubKey } from '@kata-cc/kbs-types';

export type KeyKind = 'P-256' | 'P-521' | 'RSA';

export interface TeeKey {
  jwk: TeePubKey;
  privateKey: KeyObject;
}

export function teeKey(kind: KeyKind = 'P-256'): TeeKey {
  if (kind === 'RSA') {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const j = publicKey.export({ format: 'jwk' });
    return { privateKey, jwk: { kty: 'RSA', alg: 'RSA-OAEP-256', n: String(j.n), e: String(j.e) } };
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: kind });
  const j = publicKey.export({ format: 'jwk' });
  return { privateKey, jwk: { kty: 'EC', crv: kind, alg: 'ECDH-ES+A256KW', x: String(j.x), y: String(j.y) } };
}

export interface HttpResult {
  status: number;
  body: string;
  cookie?: string;
  json(): unknown;
}

export async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  const setCookie = r.headers.get('set-cookie');
  const m = setCookie === null ? null : /kbs-session-id=([0-9a-f]+)/.exec(setCookie);
  const out: HttpResult = { status: r.status, body: text, json: () => JSON.parse(text) as unknown };
  if (m?.[1] !== undefined) out.cookie = `kbs-session-id=${m[1]}`;
  return out;
}

/** auth + attest with the sample TEE; returns the session cookie and token. */
export async function handshake(base: string, key: TeeKey, authUrl = base): Promise<{ cookie: string; token: string }> {
  const a = await call(`${authUrl}/kbs/v0/auth`, 'POST', { version: KBS_PROTOCOL_VERSION, tee: 'sample', 'extra-params': '' });
  if (a.status !== 200 || a.cookie === undefined) throw new Error(`auth failed ${a.status} ${a.body}`);
  const nonce = (a.json() as { nonce: string }).nonce;
  const rd = expectedReportData(nonce, key.jwk, '', 'sha384');
  const att = {
    'init-data': null,
    'runtime-data': { nonce, 'tee-pubkey': key.jwk },
    'tee-evidence': { primary_evidence: { svn: '1', report_data: b64Encode(rd) }, additional_evidence: '' },
  };
  const t = await call(`${base}/kbs/v0/attest`, 'POST', att, { cookie: a.cookie });
  if (t.status !== 200) throw new Error(`attest failed ${t.status} ${t.body}`);
  return { cookie: a.cookie, token: (t.json() as { token: string }).token };
}

/** GET a resource and decrypt the JWE with the TEE private key (jose, an independent JWE implementation). */
export async function getResource(base: string, path: string, key: TeeKey, auth: { cookie?: string; token?: string }): Promise<Uint8Array> {
  const headers: Record<string, string> = {};
  if (auth.cookie !== undefined) headers['cookie'] = auth.cookie;
  if (auth.token !== undefined) headers['authorization'] = `Bearer ${auth.token}`;
  const r = await call(`${base}/kbs/v0/resource/${path}`, 'GET', undefined, headers);
  if (r.status !== 200) throw new Error(`resource failed ${r.status} ${r.body}`);
  const jwe = r.json() as { protected: string; encrypted_key: string; iv: string; ciphertext: string; tag: string };
  const out = await flattenedDecrypt(jwe, key.privateKey);
  return out.plaintext;
}

export interface AdminKeys {
  publicPem: string;
  token(opts?: { expiresIn?: string | number; noExp?: boolean }): Promise<string>;
}

export function adminKeys(kind: 'ed25519' | 'P-256' = 'ed25519'): AdminKeys {
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = kind === 'ed25519' ? 'EdDSA' : 'ES256';
  return {
    publicPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    async token(opts = {}) {
      let jwt = new SignJWT({ role: 'admin' }).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt();
      if (opts.noExp !== true) jwt = jwt.setExpirationTime(opts.expiresIn ?? '1h');
      return jwt.sign(pair.privateKey);
    },
  };
}

export function policyBody(rego: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, policy: Buffer.from(rego).toString('base64url') };
}
