/**
 * Guest pull (kata `handleImageGuestPullBlockVolume` / `forceGuestPull`): the container's image
 * reference travels to the agent as an `image_guest_pull` Storage, and the agent (through CDH
 * and image-rs) pulls, verifies and decrypts it inside the TEE. The host rootfs is never shared.
 */
export const CRI_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
export const CRI_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
export const CRI_IMAGE_NAME = 'io.kubernetes.cri.image-name';
export const CRI_SANDBOX_NAME = 'io.kubernetes.cri.sandbox-name';
export const CRI_SANDBOX_NAMESPACE = 'io.kubernetes.cri.sandbox-namespace';

/** Guest path where the agent mounts a container's pulled rootfs. */
export function guestRootfsPath(containerId: string): string {
  return `/run/kata-containers/${containerId}/rootfs`;
}

/**
 * The Storage for one container: `source` is the image reference, or `pause` for the sandbox
 * container (the agent unpacks the pause bundle baked into the measured guest image).
 */
export function guestPullStorage(containerId: string, imageRef: string, annotations: Record<string, string>): Record<string, unknown> {
  const volume = { metadata: { ...annotations } };
  return {
    driver: 'image_guest_pull',
    driver_options: [`image_guest_pull=${JSON.stringify(volume)}`],
    source: imageRef,
    fstype: 'overlay',
    options: [],
    mount_point: guestRootfsPath(containerId),
  };
}
