/**
 * @kata-cc/attestation-service: Evidence to claims to policy to EAR token; RVPS.
 */
export {};
