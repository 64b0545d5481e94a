/**
 * @kata-cc/image-rs: Pull, verify, decrypt and unpack OCI images.
 */
export {};
