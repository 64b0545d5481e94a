import type { Logger } from '@kata-cc/log';
import type { Tee, TeeClass } from '@kata-cc/kbs-types';

/**
 * What the evidence must bind. Values are RAW digests, exactly as trustee passes them: each
 * verifier pads or truncates them to its own field size with `regularizeData` from
 * @kata-cc/kbs-types (TDX/SNP REPORTDATA 64 bytes, SNP HOST_DATA 32, TDX MRCONFIGID 48...).
 */
export interface ExpectedBinding {
  /** `H(JCS(runtime data))` for this handshake (SHA-384, SHA-512 for SE). */
  reportData: Uint8Array;
  /** Digest of the init-data TOML body (algorithm from its `algorithm` field), when sent. */
  initDataHash?: Uint8Array;
}

export interface VerifyOptions {
  /** Verification time for certificate/CRL/TCB validity; defaults to now. */
  now?: Date;
  signal?: AbortSignal;
}

/** Claims in trustee's shape (`parse_tdx_claims` etc.): a JSON object, hex strings for bytes. */
export interface VerifiedEvidence {
  claims: Record<string, unknown>;
  /** EAR submod class; `cpu` for every primary TEE. */
  teeClass: TeeClass;
  /** TCB status from collateral (e.g. `UpToDate`, `OutOfDate`), when the TEE has one. */
  tcbStatus?: string;
}

/**
 * One verifier per TEE. `verify` checks the evidence signature chain, that it binds `expected`
 * (SECURITY: a verifier that cannot check the binding must throw, never return claims), and
 * returns the parsed claims. Throws KccError with a `VERIFIER_...` code on any failure.
 */
export interface Verifier {
  readonly tee: Tee;
  verify(evidence: unknown, expected: ExpectedBinding, options?: VerifyOptions): Promise<VerifiedEvidence>;
  /**
   * A TEE-specific /auth nonce (trustee `generate_supplemental_challenge`; only `se` has one).
   * Absent: the KBS uses 32 random bytes.
   */
  challenge?(): Promise<string>;
}

/** Configuration handed to `createVerifier`; TEE folders read their own section. */
export interface VerifierConfig {
  /** Dev mode: accept `sample`/`sampledevice` evidence. Never on by default. */
  allowSample?: boolean;
  logger?: Logger;
  /** Per-TEE settings (trust anchors, collateral dirs, PCCS/KDS URLs...), owned by each folder. */
  tees?: Partial<Record<Tee, Record<string, unknown>>>;
}
