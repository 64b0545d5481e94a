/**
 * @kata-cc/hypervisor: the VM seam of the host runtime. QEMU with the TEE profiles tdx, snp, se
 * and none (kata's qemu-tdx/-snp/-se/-coco-dev), a fake for tests, kata-style TOML
 * configuration (validated once, errors name the key), the annotation allow-list, initdata
 * (decode, digest into MRCONFIGID/HOST_DATA, disk image) and host capability probes.
 * It does not talk to the guest: the agent client is in @kata-cc/sandbox.
 */
export { TEE_PROFILES } from './config.js';
export type { AgentConfig, FakeHypervisorConfig, GuestForward, HypervisorConfig, QemuConfig, RuntimeConfig, RuntimeSection, TeeProfile, VerityParams } from './config.js';
export { loadConfigFile, parseConfig, parseVerityParams } from './config-load.js';
export { applyAnnotations } from './annotations.js';
export type { SandboxOverrides } from './annotations.js';
export { INITDATA_ANNOTATION, INITDATA_MAGIC, decodeInitdata, initdataDiskImage, launchFieldDigest } from './initdata.js';
export type { Initdata, InitdataAlgorithm } from './initdata.js';
export type { AgentEndpoint, Hypervisor, VmExit, VmRequest, VmTimings } from './hypervisor.js';
export { AGENT_SERIAL_PORT_NAME, AGENT_VSOCK_PORT, kernelCommandLine, qemuCommandLine, rootParams, snpObject, tdxObject } from './qemu/cmdline.js';
export type { QemuLaunch, VmSpec } from './qemu/cmdline.js';
export { QemuHypervisor, randomGuestCid } from './qemu/qemu.js';
export { FakeHypervisor } from './fake/fake.js';
export { createHypervisor } from './registry.js';
export { reapVmDir, tail } from './process.js';
export { checkHost, qemuVersion, realHostProbe } from './host-check.js';
export type { CheckOptions, CheckResult, HostProbe } from './host-check.js';
