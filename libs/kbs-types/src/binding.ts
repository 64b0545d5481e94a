import { canonicalize } from './canonical-json.js';
import { digest, type HashAlgorithm } from './hash.js';
import type { PrimaryRuntimeData, TeePubKey } from './messages.js';

/**
 * The runtime data bound into the primary evidence: `{tee-pubkey, nonce, additional-evidence}`
 * (trustee `__attest`). `additionalEvidence` is the string from `tee-evidence`, not parsed JSON.
 */
export function primaryRuntimeData(nonce: string, teePubKey: TeePubKey, additionalEvidence: string): PrimaryRuntimeData {
  return { 'tee-pubkey': teePubKey, nonce, 'additional-evidence': additionalEvidence };
}

/** `H(JCS(runtimeData))`: the raw digest before any TEE-specific padding. */
export function runtimeDataDigest(runtimeData: unknown, alg: HashAlgorithm): Uint8Array {
  return digest(alg, canonicalize(runtimeData));
}

/**
 * Pads with zero bytes or truncates to `size` (trustee `regularize_data`). TDX/SNP/CCA/SGX
 * report_data are 64 bytes; SNP HOST_DATA is 32 (an SHA-384 init-data digest is truncated).
 */
export function regularizeData(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, size));
  return out;
}

/**
 * The report_data a TEE must carry for this handshake: `pad(H(JCS(runtime data)), size)`.
 * With `size` undefined the raw digest is returned (the sample TEE binds it unpadded).
 */
export function expectedReportData(
  nonce: string,
  teePubKey: TeePubKey,
  additionalEvidence: string,
  alg: HashAlgorithm,
  size?: number,
): Uint8Array {
  const raw = runtimeDataDigest(primaryRuntimeData(nonce, teePubKey, additionalEvidence), alg);
  return size === undefined ? raw : regularizeData(raw, size);
}

/** report_data size of each TEE whose evidence carries a fixed-size field. */
export const REPORT_DATA_SIZE: Partial<Record<string, number>> = {
  tdx: 64,
  snp: 64,
  cca: 64,
  sgx: 64,
};
