/**
 * @kata-cc/attestation-service: Evidence to claims to policy to EAR token; RVPS.
 */
export { AttestationService } from './attestation-service.js';
export type { AsStore, AttestationServiceOptions, AttestInput } from './attestation-service.js';
export { TokenSigner, jsonPointer, TEE_PUBKEY_PATHS } from './token.js';
export type { SignerJwk } from './token.js';
export { PolicyEngine } from './policy-engine.js';
export { parseRvpsMessage, DEFAULT_REFERENCE_VALUE_LIFETIME_MS } from './rvps.js';
export type { ReferenceValue } from './rvps.js';
export { extractPolicyData, parseInitData } from './init-data.js';
export type { ParsedInitData } from './init-data.js';
export { TRUST_CLAIMS, tierOf, statusOf, anyClaimSet, EAR_PROFILE, DEFAULT_ISSUER } from './ear.js';
export type { EarStatus, TrustClaim, TrustVector } from './ear.js';
export { DEFAULT_CPU_POLICY, REFERENCE_VALUE_MODULE } from './policies/default-cpu.js';
export { DEFAULT_RESOURCE_POLICY, RESOURCE_POLICY_ID } from './policies/default-resource.js';
