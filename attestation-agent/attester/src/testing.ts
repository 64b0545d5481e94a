/**
 * @kata-cc/attester/testing: test support for packages that exercise real attesters without
 * TEE hardware (a provisioned software TPM). Not for production code.
 */
export { startSwtpm } from './tpm/swtpm-fixture.js';
export type { Swtpm, SwtpmOptions } from './tpm/swtpm-fixture.js';
