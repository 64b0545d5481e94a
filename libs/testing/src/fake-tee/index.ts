/**
 * FAKE TEE HARDWARE for tests: a TEST CA standing in for Intel's and AMD's, because there is
 * no TDX or SEV-SNP hardware here. Everything is signed with keys generated in the test; a
 * verifier trusts it only when its `trustAnchors` option names these test roots (never by
 * default). Tests using it say "fake" in their names.
 */
export { fakeSnpCa, fakeSnpPlatform, type FakeSnpCa, type FakeSnpPlatform, type FakeSnpPlatformOptions, type SnpGeneration, type SnpTcb } from './snp.js';
export { fakeTdxCa, fakeTdxCollateral, fakeTdxPlatform, INTEL_QE_VENDOR_ID, type FakeTdxCa, type FakeTdxCollateral, type FakeTdxCollateralOptions, type FakeTdxPlatform, type FakeTdxPlatformOptions } from './tdx.js';
export { fakeTsm, type FakeTsmFs, type FakeTsmOptions } from './tsm.js';
export { fakeAzSnpHclReport, fakeAzTdxParavisor, hclRuntimeData, type FakeAzTdx } from './azure.js';
export type { FakeCert } from './ca.js';
