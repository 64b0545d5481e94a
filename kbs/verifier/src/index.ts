/**
 * @kata-cc/verifier: Verifier interface and one folder per TEE.
 */
export { createVerifier } from './registry.js';
export { SampleVerifier } from './sample/sample-verifier.js';
export type { ExpectedBinding, VerifyOptions, VerifiedEvidence, Verifier, VerifierConfig } from './verifier.js';
export { isHardwareVerifier } from './common/hardware-verifier.js';
export type { HardwareVerified, HardwareVerifier, OptionalBinding } from './common/hardware-verifier.js';
