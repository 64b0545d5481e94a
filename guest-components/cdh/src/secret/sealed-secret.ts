import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { realpath, readFile } from 'node:fs/promises';
import path from 'node:path';
import { b64Strict, decryptWith, parseWrapType } from '../crypto.js';
import { cdhError } from '../errors.js';
import type { ResourceGetter } from '../kbc/resource-getter.js';
import { createDecrypter } from '../kms/registry.js';

/** Local verification keys for sealed secrets whose `kid` is a file name (guest-components). */
export const SEALED_SECRET_KEYS_DIR = '/run/confidential-containers/cdh/sealed-secret';
export const SEALED_SECRET_VERSION = '0.1.0';
const PREFIX = 'sealed.';

export interface UnsealOptions {
  resources: ResourceGetter;
  /** Skip signature verification (cdh.toml `skip_sealed_secret_verification`, env SKIP_SEALED_SECRET_VERIFICATION=true). */
  skipVerification: boolean;
  /** Directory of local verification keys; default SEALED_SECRET_KEYS_DIR. */
  keysDir?: string;
}

const malformed = (why: string): Error => cdhError('CDH_SEALED_SECRET_MALFORMED', `Malformed sealed secret: ${why}`);

function b64url(part: string, what: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw malformed(`${what} is not base64url`);
  return Buffer.from(part, 'base64url');
}

function json(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw malformed(`${what} is not a JSON object`);
}

/** The verification key named by `kid`: a KBS resource (JWK JSON) or a file under the keys dir. */
async function verificationKey(kid: string, options: UnsealOptions): Promise<KeyObject> {
  let bytes: Uint8Array;
  if (kid.startsWith('kbs://') || kid.startsWith('kbs+')) {
    bytes = await options.resources.getResource(kid);
  } else {
    const dir = options.keysDir ?? SEALED_SECRET_KEYS_DIR;
    let base: string;
    let file: string;
    try {
      base = await realpath(dir);
      file = await realpath(path.join(base, kid));
    } catch (cause) {
      throw cdhError('CDH_SEALED_SECRET_KEY', `Cannot find the sealed secret verification key "${kid}": not a KBS URI nor a file in ${dir}`, { cause });
    }
    // SECURITY: the kid comes from the (not yet verified) header: it must not escape the keys dir.
    if (!file.startsWith(base + path.sep)) throw cdhError('CDH_SEALED_SECRET_KEY', `Invalid sealed secret kid "${kid}": outside ${dir}`);
    bytes = await readFile(file);
  }
  let jwk: JsonWebKey;
  try {
    jwk = JSON.parse(Buffer.from(bytes).toString('utf8')) as JsonWebKey;
  } catch (cause) {
    throw cdhError('CDH_SEALED_SECRET_KEY', `Cannot parse the sealed secret verification key "${kid}": not a JWK`, { cause });
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw cdhError('CDH_SEALED_SECRET_KEY', `Cannot use verification key "${kid}": it must be an EC P-256 JWK`);
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' });
  } catch (cause) {
    throw cdhError('CDH_SEALED_SECRET_KEY', `Cannot use verification key "${kid}": invalid EC point`, { cause });
  }
}

/** Verifies `sealed.<header>.<payload>.<signature>` and returns the secret JSON. */
async function openJws(secret: string, options: UnsealOptions): Promise<Record<string, unknown>> {
  if (!secret.startsWith(PREFIX)) throw malformed('it must start with "sealed."');
  const parts = secret.split('.');
  if (parts.length !== 4) throw malformed('expected sealed.<header>.<payload>.<signature>');
  const [, h = '', p = '', s = ''] = parts;
  if (!options.skipVerification) {
    const header = json(b64url(h, 'header'), 'header');
    if (header['alg'] !== 'ES256') throw cdhError('CDH_SEALED_SECRET_SIGNATURE', 'Cannot verify the sealed secret: the JWS algorithm must be ES256');
    if (typeof header['kid'] !== 'string' || header['kid'] === '') throw malformed('the JWS header has no kid');
    const key = await verificationKey(header['kid'], options);
    // SECURITY: nothing from the payload is used before the signature over header.payload verifies.
    const ok = verify('sha256', Buffer.from(`${h}.${p}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, b64url(s, 'signature'));
    if (!ok) throw cdhError('CDH_SEALED_SECRET_SIGNATURE', `Sealed secret signature does not verify with key "${header['kid']}"`);
  }
  return json(b64url(p, 'payload'), 'payload');
}

/**
 * UnsealSecret (guest-components `unseal_secret`): verifies the JWS, then either fetches the
 * named resource (`vault`) or decrypts the data with a KMS-unwrapped key (`envelope`).
 */
export async function unsealSecret(secret: Uint8Array | string, options: UnsealOptions): Promise<Uint8Array> {
  const text = typeof secret === 'string' ? secret : Buffer.from(secret).toString('utf8');
  const payload = await openJws(text.trim(), options);
  // Names a bad field by its JSON type (strings bounded): JSON.stringify overflows on hostile nesting.
  const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.slice(0, 64)) : Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v}`);
  if (payload['version'] !== SEALED_SECRET_VERSION) {
    throw cdhError('CDH_SEALED_SECRET_VERSION', `Unsupported sealed secret version ${shown(payload['version'])}: expected "${SEALED_SECRET_VERSION}"`);
  }
  const provider = payload['provider'];
  if (typeof provider !== 'string') throw malformed('"provider" must be a string');
  switch (payload['type']) {
    case 'vault': {
      const name = payload['name'];
      if (typeof name !== 'string') throw malformed('vault secret needs a "name"');
      if (provider !== 'kbs') throw cdhError('CDH_UNSUPPORTED', `Vault provider "${provider}" is not built into this CDH; use provider "kbs"`);
      return options.resources.getResource(name);
    }
    case 'envelope': {
      const keyId = payload['key_id'];
      if (typeof keyId !== 'string') throw malformed('envelope secret needs a "key_id"');
      const annotations = (payload['annotations'] ?? {}) as Record<string, unknown>;
      if (typeof annotations !== 'object' || annotations === null) throw malformed('"annotations" must be an object');
      const dek = await createDecrypter(provider, { resources: options.resources }).decrypt(b64Strict(payload['encrypted_key'], 'envelope encrypted_key'), keyId, annotations);
      const wrapType = parseWrapType(payload['wrap_type'], 'envelope');
      return decryptWith(dek, b64Strict(payload['encrypted_data'], 'envelope encrypted_data'), b64Strict(payload['iv'], 'envelope iv'), wrapType);
    }
    default:
      throw malformed(`unknown secret type ${shown(payload['type'])}; expected vault or envelope`);
  }
}
