/**
 * The validated runtime configuration (what a kata-style `configuration-*.toml` becomes after
 * `parseConfig`). Constructors take these types; nothing re-validates them.
 */

/** TEE profiles: the confidential-guest-support object QEMU gets (`none` = CoCo "coco-dev"). */
export const TEE_PROFILES = ['tdx', 'snp', 'se', 'none'] as const;
export type TeeProfile = (typeof TEE_PROFILES)[number];

/** kata `kernel_verity_params`: the dm-verity description of the rootfs image. */
export interface VerityParams {
  rootHash: string;
  salt: string;
  dataBlocks: number;
  dataBlockSize: number;
  hashBlockSize: number;
  /**
   * kata-cc extension: the hash tree appended to the data at this byte offset on one disk
   * (our image builder's layout). Absent = kata's two-partition layout (vda1 data, vda2 hash).
   */
  hashOffset?: number;
}

/** A TCP port the guest may reach through QEMU user networking (`guestfwd`). */
export interface GuestForward {
  guestAddress: string;
  guestPort: number;
  hostAddress: string;
  hostPort: number;
}

export interface QemuConfig {
  type: 'qemu';
  profile: TeeProfile;
  /** The QEMU binary. */
  path: string;
  kernel: string;
  initrd?: string;
  /** Read-only rootfs disk (virtio-blk, /dev/vda in the guest). */
  image?: string;
  firmware?: string;
  machineType: string;
  /** `kvm` on TEE hosts; `tcg` where KVM is missing (CI, nested VMs): only valid with `none`. */
  accel: 'kvm' | 'tcg';
  /** Overrides the profile's CPU model (`host`, `EPYC-v4` for SNP, `max` under TCG). */
  cpuModel?: string;
  cpuFeatures: string;
  vcpus: number;
  memoryMiB: number;
  kernelParams: string[];
  verity?: VerityParams;
  rootfsType: string;
  /** SEV-SNP launch parameters (`sev-snp-guest`). */
  snp: { policy: number; cbitpos: number; reducedPhysBits: number; idBlock?: string; idAuth?: string };
  /** TDX: 0 = QGS unix socket `tdxQgsSocket` when present, else vsock CID 2 port 4050. */
  tdx: { qgsPort: number; qgsSocket: string };
  /** How the shim reaches the agent: vsock (production) or virtio-serial (no /dev/vhost-vsock). */
  agentChannel: 'vsock' | 'virtio-serial';
  network: 'none' | 'user';
  guestForwards: GuestForward[];
  /** Keys X allowed as `io.katacontainers.config.hypervisor.X` pod annotations. */
  enableAnnotations: string[];
  debug: boolean;
}

export interface FakeHypervisorConfig {
  type: 'fake';
  profile: TeeProfile;
  /** The "guest": a process serving the agent API on the socket path given as its last argument. */
  guestCommand: string[];
  vcpus: number;
  memoryMiB: number;
  kernelParams: string[];
  enableAnnotations: string[];
}

export type HypervisorConfig = QemuConfig | FakeHypervisorConfig;

export interface AgentConfig {
  /** How long to keep dialling the agent after the VM started (kata `dial_timeout`). */
  dialTimeoutMs: number;
  /** Default per-request timeout (kata `defaultRequestTimeout`, 60 s). */
  requestTimeoutMs: number;
  /** CreateContainer includes the guest pull (kata `create_container_timeout`). */
  createContainerTimeoutMs: number;
}

export interface RuntimeSection {
  /** Guest pull without nydus (kata `experimental_force_guest_pull`): our only mode; kept for config compatibility. */
  forceGuestPull: boolean;
  /** Where per-sandbox state lives (sockets, console log, initdata image). */
  stateDir: string;
}

export interface RuntimeConfig {
  hypervisor: HypervisorConfig;
  agent: AgentConfig;
  runtime: RuntimeSection;
}
