import { b64Strict, decryptWith, parseWrapType } from '../../crypto.js';
import { cdhError } from '../../errors.js';
import type { ResourceGetter } from '../../kbc/resource-getter.js';
import type { Decrypter } from '../decrypter.js';

/**
 * The `kbs` KMS: the key-encryption key is a KBS resource (`key_id` = `kbs:///repo/type/tag`,
 * 32 bytes) released after attestation; `encrypted_key` is the DEK wrapped with it using
 * `annotations.wrap_type` (default A256GCM, `ciphertext || tag`) and `annotations.iv` (base64).
 *
 * Note to future maintainers: guest-components has no `kbs` Decrypter (its KBS provider only
 * gets secrets); this is kata-cc's way to seal envelopes without a cloud KMS, built from the
 * same primitives as the image key annotation packet.
 */
export class KbsDecrypter implements Decrypter {
  readonly #resources: ResourceGetter;

  constructor(resources: ResourceGetter) {
    this.#resources = resources;
  }

  async decrypt(ciphertext: Uint8Array, keyId: string, annotations: Readonly<Record<string, unknown>>): Promise<Uint8Array> {
    if (!keyId.startsWith('kbs:')) throw cdhError('CDH_SEALED_SECRET_MALFORMED', `Invalid envelope key_id "${keyId}" for provider kbs: expected a kbs:/// resource URI`);
    const iv = b64Strict(annotations['iv'], 'envelope annotations.iv');
    const wrapType = parseWrapType(annotations['wrap_type'] ?? 'A256GCM', 'envelope annotations');
    const kek = await this.#resources.getResource(keyId);
    return decryptWith(kek, ciphertext, iv, wrapType);
  }
}
