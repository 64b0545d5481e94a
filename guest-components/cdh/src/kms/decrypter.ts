/**
 * A KMS that unwraps envelope data-encryption keys (guest-components `kms::Decrypter`), used by
 * envelope sealed secrets. One folder per provider, picked by `kms/registry.ts`.
 */
export interface Decrypter {
  /** Decrypts `ciphertext` (the wrapped DEK) with the key `keyId`; `annotations` are provider-specific. */
  decrypt(ciphertext: Uint8Array, keyId: string, annotations: Readonly<Record<string, unknown>>): Promise<Uint8Array>;
}
