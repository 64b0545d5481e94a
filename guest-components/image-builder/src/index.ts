/**
 * @kata-cc/image-builder: reproducible guest image builder: kernel (Debian, PVH vmlinux),
 * erofs rootfs protected by dm-verity, initramfs, and the kernel command line fragment that
 * carries the root hash.
 */
export { buildGuest } from './build.js';
export type { BuildGuestOptions, GuestImage } from './build.js';
export { DEFAULT_PINS, GUEST_MODULES } from './pins.js';
export type { GuestPins } from './pins.js';
export { vmlinuxFromBzImage } from './kernel.js';
export { formatVerity, verifyVerity } from './verity.js';
export { GUEST_COMPONENTS } from './bundle.js';
