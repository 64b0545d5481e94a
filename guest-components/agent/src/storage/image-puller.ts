/**
 * The seam for guest pull: CreateContainer carries a Storage with driver `image_guest_pull`
 * whose `source` is the image reference; an ImagePuller fetches, verifies, decrypts and unpacks
 * it into the container's bundle directory, inside the TEE.
 */
export interface PulledImage {
  /** Directory holding the unpacked root filesystem. */
  rootfs: string;
  /** The image's config (`config` section of the OCI image config), for defaults the spec lacks. */
  config?: { Env?: string[]; Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string; User?: string };
  /** The OCI process image-rs derived from the image config (args, env, cwd, user). */
  process?: { args?: string[]; env?: string[]; cwd?: string; user?: { uid?: number; gid?: number; additionalGids?: number[] } };
  /** Manifest digest that was pulled (logged, and visible to tests). */
  digest?: string;
}

export interface ImagePuller {
  pull(image: string, bundleDir: string, signal: AbortSignal): Promise<PulledImage>;
}
