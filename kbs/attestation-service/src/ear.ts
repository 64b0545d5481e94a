/**
 * EAR (draft-ietf-rats-ear) appraisal helpers: AR4SI trust-vector tiers and the status the
 * worst claim gives, as rust-ear's `update_status_from_trust_vector` computes it.
 */
export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;

export type TrustClaim = (typeof TRUST_CLAIMS)[number];
export type TrustVector = Partial<Record<TrustClaim, number>>;
export type EarStatus = 'none' | 'affirming' | 'warning' | 'contraindicated';

const RANK: Record<EarStatus, number> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** AR4SI tier of one claim value: 0/±1 none, 2..31 affirming, 32..95 warning, 96..127 contraindicated (negatives mirror). */
export function tierOf(value: number): EarStatus {
  const v = Math.abs(value);
  if (v <= 1) return 'none';
  if (v <= 31) return 'affirming';
  if (v <= 95) return 'warning';
  return 'contraindicated';
}

/** The worst tier over the claims that are set. */
export function statusOf(vector: TrustVector): EarStatus {
  let worst: EarStatus = 'none';
  for (const claim of TRUST_CLAIMS) {
    const v = vector[claim];
    if (v === undefined) continue;
    const t = tierOf(v);
    if (RANK[t] > RANK[worst]) worst = t;
  }
  return worst;
}

/** True when at least one claim is set to a non-zero value (rust-ear refuses otherwise). */
export function anyClaimSet(vector: TrustVector): boolean {
  return TRUST_CLAIMS.some((c) => vector[c] !== undefined && vector[c] !== 0);
}

export const EAR_PROFILE = 'tag:github.com,2024:confidential-containers/Trustee';
export const DEFAULT_ISSUER = 'CoCo-Attestation-Service';
export const VERIFIER_ID = { developer: 'https://confidentialcontainers.org', build: 'kata-cc attestation-service 0.1.0' };
