import { createCipheriv, randomBytes, sign, type KeyObject } from 'node:crypto';
import { SEALED_SECRET_VERSION } from './sealed-secret.js';

/**
 * Seals a secret payload (the tenant side, like guest-components' `secret seal`): a compact JWS
 * signed ES256 with `signingKey` (EC P-256 private key), prefixed with `sealed.`.
 */
export function sealSecret(payload: Record<string, unknown>, signingKey: KeyObject, kid: string): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const h = enc({ alg: 'ES256', kid });
  const p = enc({ version: SEALED_SECRET_VERSION, ...payload });
  const s = sign('sha256', Buffer.from(`${h}.${p}`), { key: signingKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `sealed.${h}.${p}.${s}`;
}

/**
 * Builds an envelope payload for provider `kbs`: a fresh DEK encrypts `plaintext` (A256GCM) and
 * is wrapped with `kek` (the 32-byte KBS resource at `keyId`).
 */
export function kbsEnvelope(plaintext: Uint8Array, kek: Uint8Array, keyId: string): Record<string, unknown> {
  const gcm = (key: Uint8Array, data: Uint8Array): { iv: Buffer; out: Buffer } => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const out = Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
    return { iv, out };
  };
  const dek = randomBytes(32);
  const wrapped = gcm(kek, dek);
  const data = gcm(dek, plaintext);
  return {
    type: 'envelope',
    provider: 'kbs',
    key_id: keyId,
    encrypted_key: wrapped.out.toString('base64'),
    encrypted_data: data.out.toString('base64'),
    wrap_type: 'A256GCM',
    iv: data.iv.toString('base64'),
    provider_settings: {},
    annotations: { iv: wrapped.iv.toString('base64'), wrap_type: 'A256GCM' },
  };
}
