import { KccError } from '@kata-cc/errors';
import { isTee, TEES } from './tee.js';
import { KBS_PROTOCOL_VERSION } from './messages.js';
import type {
  Attestation,
  Challenge,
  CompositeEvidence,
  ErrorInformation,
  InitData,
  Request,
  Response,
  RuntimeData,
  TeePubKey,
} from './messages.js';

/*
 * Validation of KBS messages received from the network. Each failure is a KccError with a
 * stable code (see README). kbs-types (Rust) silently ignores unknown fields; we reject them in
 * the fixed-shape objects (never in `extra-params` or evidence) because a field we drop is a
 * field an attacker can smuggle past the binding; a Rust peer never sends extra fields there.
 */

type Json = Record<string, unknown>;

function fail(code: string, message: string, field?: string): never {
  throw new KccError({
    kind: 'INVALID_ARGUMENT',
    code,
    message,
    ...(field === undefined ? {} : { details: { field } }),
  });
}

/** Parses JSON text or bytes; malformed input gets `KBS_MALFORMED_JSON`. */
export function parseJson(text: string | Uint8Array): unknown {
  const s = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: false }).decode(text);
  try {
    return JSON.parse(s) as unknown;
  } catch (e) {
    return fail('KBS_MALFORMED_JSON', `Malformed JSON: ${(e as Error).message}`);
  }
}

function object(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('KBS_INVALID_MESSAGE', `Field "${field}" must be a JSON object`, field);
  }
  return value as Json;
}

function onlyKeys(obj: Json, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      const where = field === '' ? k : `${field}.${k}`;
      fail('KBS_UNKNOWN_FIELD', `Unknown field "${where}"; expected only ${allowed.map((a) => `"${a}"`).join(', ')}`, where);
    }
  }
}

function string(obj: Json, key: string, field: string): string {
  const v = obj[key];
  const where = field === '' ? key : `${field}.${key}`;
  if (v === undefined) fail('KBS_INVALID_MESSAGE', `Missing field "${where}"`, where);
  if (typeof v !== 'string') fail('KBS_INVALID_MESSAGE', `Field "${where}" must be a string`, where);
  return v;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function b64url(obj: Json, key: string, field: string): string {
  const v = string(obj, key, field);
  if (!B64URL.test(v)) fail('KBS_INVALID_MESSAGE', `Field "${field}.${key}" must be base64url without padding`, `${field}.${key}`);
  return v;
}

/** Checks the protocol version; a mismatch names both versions (trustee's wording). */
export function checkProtocolVersion(version: string): void {
  if (version !== KBS_PROTOCOL_VERSION) {
    fail(
      'KBS_PROTOCOL_VERSION_MISMATCH',
      `KBS Client Protocol Version Mismatch: expect =${KBS_PROTOCOL_VERSION} while the request is ${version}`,
      'version',
    );
  }
}

export function parseRequest(value: unknown): Request {
  const obj = object(value, 'request');
  onlyKeys(obj, ['version', 'tee', 'extra-params'], '');
  const version = string(obj, 'version', '');
  checkProtocolVersion(version);
  const tee = string(obj, 'tee', '');
  if (!isTee(tee)) fail('KBS_UNKNOWN_TEE', `Unknown TEE "${tee}"; expected one of ${TEES.join(', ')}`, 'tee');
  if (!('extra-params' in obj)) fail('KBS_INVALID_MESSAGE', 'Missing field "extra-params"', 'extra-params');
  return { version, tee, 'extra-params': obj['extra-params'] };
}

export function parseChallenge(value: unknown): Challenge {
  const obj = object(value, 'challenge');
  onlyKeys(obj, ['nonce', 'extra-params'], '');
  const nonce = string(obj, 'nonce', '');
  if (!('extra-params' in obj)) fail('KBS_INVALID_MESSAGE', 'Missing field "extra-params"', 'extra-params');
  return { nonce, 'extra-params': obj['extra-params'] };
}

export function parseTeePubKey(value: unknown, field = 'tee-pubkey'): TeePubKey {
  const obj = object(value, field);
  const kty = obj['kty'];
  if (kty === 'EC') {
    onlyKeys(obj, ['kty', 'crv', 'alg', 'x', 'y'], field);
    const crv = string(obj, 'crv', field);
    const alg = string(obj, 'alg', field);
    if (crv !== 'P-256' && crv !== 'P-521') fail('KBS_INVALID_TEE_PUBKEY', `Unsupported EC curve "${crv}"; expected P-256 or P-521`, `${field}.crv`);
    if (alg !== 'ECDH-ES+A256KW') fail('KBS_INVALID_TEE_PUBKEY', `Unsupported EC key algorithm "${alg}"; expected ECDH-ES+A256KW`, `${field}.alg`);
    const x = b64url(obj, 'x', field);
    const y = b64url(obj, 'y', field);
    const len = crv === 'P-256' ? 43 : 88;
    if (x.length !== len || y.length !== len) fail('KBS_INVALID_TEE_PUBKEY', `EC coordinates have the wrong length for ${crv}`, field);
    return { kty, crv, alg, x, y };
  }
  if (kty === 'RSA') {
    onlyKeys(obj, ['kty', 'alg', 'n', 'e'], field);
    const alg = string(obj, 'alg', field);
    if (alg !== 'RSA-OAEP-256' && alg !== 'RSA1_5') fail('KBS_INVALID_TEE_PUBKEY', `Unsupported RSA key algorithm "${alg}"; expected RSA-OAEP-256`, `${field}.alg`);
    return { kty, alg, n: b64url(obj, 'n', field), e: b64url(obj, 'e', field) };
  }
  // Names a string kty (bounded) or only the JSON type: stringifying any value would echo (or overflow on) hostile nesting.
  const shown = typeof kty === 'string' ? JSON.stringify(kty.slice(0, 64)) : kty === null ? 'null' : Array.isArray(kty) ? 'an array' : `a ${typeof kty}`;
  return fail('KBS_INVALID_TEE_PUBKEY', `Unsupported key type ${shown}; expected "EC" or "RSA"`, `${field}.kty`);
}

function parseRuntimeData(value: unknown): RuntimeData {
  const obj = object(value, 'runtime-data');
  onlyKeys(obj, ['nonce', 'tee-pubkey'], 'runtime-data');
  const nonce = string(obj, 'nonce', 'runtime-data');
  if (!('tee-pubkey' in obj)) fail('KBS_INVALID_MESSAGE', 'Missing field "runtime-data.tee-pubkey"', 'runtime-data.tee-pubkey');
  return { nonce, 'tee-pubkey': parseTeePubKey(obj['tee-pubkey'], 'runtime-data.tee-pubkey') };
}

function parseInitData(value: unknown): InitData | null {
  if (value === null || value === undefined) return null;
  const obj = object(value, 'init-data');
  onlyKeys(obj, ['format', 'body'], 'init-data');
  return { format: string(obj, 'format', 'init-data'), body: string(obj, 'body', 'init-data') };
}

function parseCompositeEvidence(value: unknown): CompositeEvidence {
  const obj = object(value, 'tee-evidence');
  onlyKeys(obj, ['primary_evidence', 'additional_evidence'], 'tee-evidence');
  if (!('primary_evidence' in obj)) fail('KBS_INVALID_MESSAGE', 'Missing field "tee-evidence.primary_evidence"', 'tee-evidence.primary_evidence');
  return { primary_evidence: obj['primary_evidence'], additional_evidence: string(obj, 'additional_evidence', 'tee-evidence') };
}

export function parseAttestation(value: unknown): Attestation {
  const obj = object(value, 'attestation');
  onlyKeys(obj, ['init-data', 'runtime-data', 'tee-evidence'], '');
  if (!('runtime-data' in obj)) fail('KBS_INVALID_MESSAGE', 'Missing field "runtime-data"', 'runtime-data');
  if (!('tee-evidence' in obj)) fail('KBS_INVALID_MESSAGE', 'Missing field "tee-evidence"', 'tee-evidence');
  return {
    'init-data': parseInitData(obj['init-data']),
    'runtime-data': parseRuntimeData(obj['runtime-data']),
    'tee-evidence': parseCompositeEvidence(obj['tee-evidence']),
  };
}

/** Parses the `additional_evidence` string into a TEE -> evidence map (empty for `""`). */
export function parseAdditionalEvidence(text: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (text === '') return out;
  const obj = object(parseJson(text), 'tee-evidence.additional_evidence');
  for (const [k, v] of Object.entries(obj)) {
    if (!isTee(k)) fail('KBS_UNKNOWN_TEE', `Unknown TEE "${k}" in additional evidence`, 'tee-evidence.additional_evidence');
    out.set(k, v);
  }
  return out;
}

export function parseResponse(value: unknown): Response {
  const obj = object(value, 'response');
  onlyKeys(obj, ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag', 'aad'], '');
  const r: Response = {
    protected: b64url(obj, 'protected', ''),
    encrypted_key: b64url(obj, 'encrypted_key', ''),
    iv: b64url(obj, 'iv', ''),
    ciphertext: b64url(obj, 'ciphertext', ''),
    tag: b64url(obj, 'tag', ''),
  };
  if (obj['aad'] !== undefined && obj['aad'] !== null) r.aad = string(obj, 'aad', '');
  return r;
}

export function parseErrorInformation(value: unknown): ErrorInformation {
  const obj = object(value, 'error');
  return { type: string(obj, 'type', ''), detail: string(obj, 'detail', '') };
}
