/**
 * @kata-cc/testing: helpers for tests only (fixtures beside sources, temporary dirs, the
 * shared vectors and peers, tool lookup). Never a runtime dependency.
 */
export { fixturePath, repoRoot, requireTool, sharedDir, tempDir } from './paths.js';
export { packageErrorCodes } from './error-codes.js';
export { initdataDisk, startGuestVm, type GuestBootFiles, type GuestVm, type GuestVmOptions } from './qemu.js';
export { startPostgres, type TestPostgres } from './postgres.js';
export { buildTar, freePort, httpRaw, imageBlobs, pushImage, pushIndex, pushManifest, sha256, startRegistry, writeOciLayout, type PushedImage, type TarSpec, type TestImage, type TestLayer, type TestRegistry } from './registry.js';
export { CRI_CONTAINER_STATE, busyboxImage, criClient, shimDirFor, startContainerd, type ContainerdOptions, type CriClient, type TestContainerd } from './containerd.js';
export {
  fakeAzSnpHclReport, fakeAzTdxParavisor, hclRuntimeData, fakeSnpCa, fakeSnpPlatform, fakeTdxCa, fakeTdxCollateral, fakeTdxPlatform, fakeTsm, INTEL_QE_VENDOR_ID,
  type FakeAzTdx, type FakeCert, type FakeSnpCa, type FakeSnpPlatform, type FakeSnpPlatformOptions, type FakeTdxCa, type FakeTdxCollateral,
  type FakeTdxCollateralOptions, type FakeTdxPlatform, type FakeTdxPlatformOptions, type FakeTsmFs, type FakeTsmOptions, type SnpGeneration, type SnpTcb,
} from './fake-tee/index.js';
export { KBS_BIN, startKbsProcess, startNodeProcess, type KbsProcess, type KbsProcessOptions, type NodeProcess, type NodeProcessOptions } from './processes.js';
