import type { Attester } from '@kata-cc/attester';
import type { Logger } from '@kata-cc/log';
import {
  DEFAULT_HASH_ALGORITHM,
  HASH_ALGORITHMS,
  KBS_PROTOCOL_VERSION,
  parseHashAlgorithm,
  primaryRuntimeData,
  runtimeDataDigest,
  type Attestation,
  type HashAlgorithm,
  type Request,
} from '@kata-cc/kbs-types';
import { kbcError } from './errors.js';
import type { KbsHttp } from './http.js';
import { replyError, replyJson } from './kbs-reply.js';
import type { TeeKeyPair } from './tee-key.js';

export interface RcarOptions {
  /** Device attesters whose evidence goes into `additional_evidence` (composite evidence). */
  additionalAttesters?: readonly Attester[];
  /** The initdata TOML document, sent verbatim as `init-data` (the KBS hashes these exact bytes). */
  initData?: string;
  logger: Logger;
}

/** The hash the KBS selected (`extra-params.selected-hash-algorithm`), else SHA-384 (Rust `get_hash_algorithm`). */
function selectedHash(extraParams: unknown): HashAlgorithm {
  if (typeof extraParams === 'object' && extraParams !== null && !Array.isArray(extraParams)) {
    const sel = (extraParams as Record<string, unknown>)['selected-hash-algorithm'];
    if (sel !== undefined) {
      try {
        return parseHashAlgorithm(sel);
      } catch (cause) {
        throw kbcError('KBC_PROTOCOL_ERROR', `KBS selected an unsupported hash algorithm ${JSON.stringify(sel)}`, { cause });
      }
    }
  }
  return DEFAULT_HASH_ALGORITHM;
}

/**
 * Reads the Challenge leniently, as serde does in the Rust client: `nonce` must be a string,
 * `extra-params` may be anything, and fields a newer KBS adds are ignored (the strict
 * `parseChallenge` of kbs-types is for the KBS side of the wire).
 */
function readChallenge(value: unknown): { nonce: string; 'extra-params': unknown } {
  const v = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  const nonce = v['nonce'];
  if (typeof nonce !== 'string' || nonce === '') throw kbcError('KBC_PROTOCOL_ERROR', 'Cannot parse the KBS challenge: no "nonce" string');
  return { nonce, 'extra-params': v['extra-params'] };
}

/**
 * The `additional_evidence` string: `""` without devices, else the JSON text of
 * `{"<tee>": evidence}` where each device binds `H(JCS({nonce, tee-pubkey}))` (kbs_protocol
 * `get_composite_evidence`).
 */
export async function deviceEvidence(attesters: readonly Attester[], deviceDigest: Uint8Array): Promise<string> {
  if (attesters.length === 0) return '';
  const map: Record<string, unknown> = {};
  for (const a of attesters) {
    try {
      map[a.tee] = await a.getEvidence(deviceDigest);
    } catch (cause) {
      throw kbcError('KBC_EVIDENCE_FAILED', `Cannot get ${a.tee} device evidence for the KBS challenge`, { cause });
    }
  }
  return JSON.stringify(map);
}

/**
 * One RCAR handshake (Request, Challenge, Attestation, Response): `/auth`, evidence bound to
 * the nonce and TEE public key, `/attest`. Returns the attestation token; the session cookie
 * stays in `http`'s jar for the resource requests that follow.
 */
export async function rcarHandshake(http: KbsHttp, attester: Attester, key: TeeKeyPair, options: RcarOptions): Promise<string> {
  http.clearCookies();
  const request: Request = {
    version: KBS_PROTOCOL_VERSION,
    tee: attester.tee,
    'extra-params': { 'supported-hash-algorithms': [...HASH_ALGORITHMS] },
  };
  const authReply = await http.send('POST', '/kbs/v0/auth', { json: request });
  if (authReply.status !== 200) throw replyError('KBC_AUTH_FAILED', 'the authentication request (/auth)', authReply);
  const challenge = readChallenge(replyJson('/auth', authReply));
  const hash = selectedHash(challenge['extra-params']);
  const teePubKey = key.publicJwk();
  const additionalEvidence = await deviceEvidence(options.additionalAttesters ?? [], runtimeDataDigest({ nonce: challenge.nonce, 'tee-pubkey': teePubKey }, hash));
  // SECURITY: the evidence binds H(JCS({tee-pubkey, nonce, additional-evidence})), so the KBS
  // releases secrets only to the holder of this key, for this fresh challenge, with these devices.
  const reportData = runtimeDataDigest(primaryRuntimeData(challenge.nonce, teePubKey, additionalEvidence), hash);
  let evidence: unknown;
  try {
    const input = attester.reportDataForChallenge === undefined ? reportData : await attester.reportDataForChallenge(challenge.nonce, reportData);
    evidence = await attester.getEvidence(input);
  } catch (cause) {
    throw kbcError('KBC_EVIDENCE_FAILED', `Cannot get ${attester.tee} evidence for the KBS challenge`, { cause });
  }
  const attestation: Attestation = {
    'init-data': options.initData === undefined ? null : { format: 'toml', body: options.initData },
    'runtime-data': { nonce: challenge.nonce, 'tee-pubkey': teePubKey },
    'tee-evidence': { primary_evidence: evidence, additional_evidence: additionalEvidence },
  };
  const attestReply = await http.send('POST', '/kbs/v0/attest', { json: attestation });
  if (attestReply.status !== 200) throw replyError('KBC_ATTEST_FAILED', `the ${attester.tee} evidence (/attest)`, attestReply);
  const body = replyJson('/attest', attestReply) as Record<string, unknown> | null;
  const token = body !== null && typeof body === 'object' ? body['token'] : undefined;
  if (typeof token !== 'string') throw kbcError('KBC_PROTOCOL_ERROR', 'Cannot parse the KBS reply to /attest: no "token" string');
  options.logger.debug({ tee: attester.tee, hash }, 'RCAR handshake completed');
  return token;
}
