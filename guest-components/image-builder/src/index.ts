/**
 * @kata-cc/image-builder: Reproducible guest image builder: kernel, dm-verity rootfs, kernel command line.
 */
export {};
