/**
 * @kata-cc/attester/testing: test support for packages that exercise real attesters without
 * TEE hardware (a provisioned software TPM). Not for production code.
 */
export { startSwtpm } from './tpm/swtpm-fixture.js';
export type { Swtpm, SwtpmOptions } from './tpm/swtpm-fixture.js';
export { fakeUltravisor, hostKeyCoords } from './se/fake-uv.js';
export type { FakeUltravisor, FakeUltravisorOptions } from './se/fake-uv.js';
export { fakeSevGuest } from './snp/fake-sev-guest.js';
export type { FakeSevGuest, FakeSevGuestOptions } from './snp/fake-sev-guest.js';
