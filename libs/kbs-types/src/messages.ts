import type { Tee } from './tee.js';

/** The only protocol version this implementation speaks; the KBS requires `=0.4.0`. */
export const KBS_PROTOCOL_VERSION = '0.4.0';

/** Name of the session cookie (trustee `kbs/src/attestation/session.rs`). */
export const KBS_SESSION_COOKIE = 'kbs-session-id';

/** `POST /kbs/v0/auth` body. `extra-params` is any JSON value. */
export interface Request {
  version: string;
  tee: Tee;
  'extra-params': unknown;
}

/** `/auth` reply. `extra-params` is `""` except for IBM SE. */
export interface Challenge {
  nonce: string;
  'extra-params': unknown;
}

/** JWK of the TEE key pair (kbs-types `TeePubKey`, tagged by `kty`). */
export type TeePubKey = EcTeePubKey | RsaTeePubKey;

export interface EcTeePubKey {
  kty: 'EC';
  crv: 'P-256' | 'P-521';
  alg: 'ECDH-ES+A256KW';
  x: string;
  y: string;
}

export interface RsaTeePubKey {
  kty: 'RSA';
  alg: 'RSA-OAEP-256' | 'RSA1_5';
  n: string;
  e: string;
}

export interface RuntimeData {
  /** The challenge nonce, verbatim. */
  nonce: string;
  'tee-pubkey': TeePubKey;
}

export interface InitData {
  /** The built-in attestation service accepts only `toml`. */
  format: string;
  body: string;
}

export interface CompositeEvidence {
  primary_evidence: unknown;
  /** `""` or the JSON text of `{"<tee>": evidence}` for device TEEs. */
  additional_evidence: string;
}

/** `POST /kbs/v0/attest` body, protocol 0.4.0. */
export interface Attestation {
  'init-data'?: InitData | null;
  'runtime-data': RuntimeData;
  'tee-evidence': CompositeEvidence;
}

/** `/attest` reply. */
export interface AttestationResult {
  token: string;
}

/** The JWE protected header; the KBS emits `alg`, `enc`, then `epk` for ECDH-ES. */
export interface ProtectedHeader {
  alg: string;
  enc: string;
  epk?: { crv: string; kty: string; x: string; y: string };
  [other: string]: unknown;
}

/**
 * Resource reply: JWE flattened JSON serialization, every field base64url without padding.
 * `protected` is kept as the exact string received: it is the AAD.
 */
export interface Response {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
  aad?: string;
}

/** Error body of every KBS failure (RFC 7807-like). */
export interface ErrorInformation {
  type: string;
  detail: string;
}

/** The object whose canonical-JSON hash is bound into the primary evidence report_data. */
export interface PrimaryRuntimeData {
  'tee-pubkey': TeePubKey;
  nonce: string;
  'additional-evidence': string;
}
