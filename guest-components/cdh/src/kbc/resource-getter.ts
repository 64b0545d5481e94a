/**
 * Where the CDH gets KBS resources (guest-components `kms::Getter` for provider "kbs"): a
 * resource URI in, the plaintext bytes out. One implementation per KBC, picked by `registry.ts`.
 */
export interface ResourceGetter {
  /** Fetches `uri` (`kbs:///repo/type/tag`). Throws CDH_RESOURCE_NOT_FOUND when the KBS has none. */
  getResource(uri: string): Promise<Uint8Array>;
  /** Releases connections. */
  close(): Promise<void>;
}
