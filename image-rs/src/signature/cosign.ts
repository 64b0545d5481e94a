import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { isKccError } from '@kata-cc/errors';
import { imgError } from '../errors.js';
import type { ImageReference } from '../reference.js';
import type { RegistryClient } from '../registry/client.js';
import { MEDIA, type ImageManifest } from '../types.js';
import type { SignedIdentity } from './policy-types.js';
import { checkPayload, type SignaturePayload } from './simple.js';

export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

/** A cosign public key (PEM SPKI; ECDSA P-256 as cosign generates, RSA/Ed25519 also work). */
export function loadCosignKey(data: Uint8Array): KeyObject {
  try {
    return createPublicKey(Buffer.from(data).toString('utf8'));
  } catch {
    throw imgError('IMG_POLICY_INVALID', 'sigstoreSigned key is not a PEM public key');
  }
}

/**
 * Verifies cosign signatures stored in the registry as `<repo>:sha256-<hex>.sig` (one layer per
 * signature: the simplesigning payload, signature in an annotation). Returns undefined on the
 * first valid one, else the reasons.
 */
export async function verifyCosign(
  client: RegistryClient, ref: ImageReference, digest: string, digests: string[], key: KeyObject, rule: SignedIdentity | undefined,
): Promise<string | undefined> {
  const tag = `${digest.replace(':', '-')}.sig`;
  let sigManifest: ImageManifest;
  try {
    const m = await client.getManifest(ref, tag);
    sigManifest = JSON.parse(m.bytes.toString('utf8')) as ImageManifest;
  } catch (err) {
    if (isKccError(err) && err.code === 'IMG_MANIFEST_NOT_FOUND') return 'no cosign signature exists';
    throw err;
  }
  const reasons: string[] = [];
  for (const layer of sigManifest.layers ?? []) {
    if (layer.mediaType !== MEDIA.cosignPayload) continue;
    const sigB64 = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (sigB64 === undefined) {
      reasons.push('signature layer without signature annotation');
      continue;
    }
    const payload = await client.getSmallBlob(ref, layer, 1024 * 1024);
    const ok = (() => {
      try {
        return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, key, Buffer.from(sigB64, 'base64'));
      } catch {
        return false;
      }
    })();
    if (!ok) {
      reasons.push('cryptographic signature verification failed');
      continue;
    }
    let p: SignaturePayload;
    try {
      p = JSON.parse(payload.toString('utf8')) as SignaturePayload;
    } catch {
      reasons.push('payload is not JSON');
      continue;
    }
    const why = checkPayload(p, 'cosign container image signature', ref, digests, rule);
    if (why === undefined) return undefined;
    reasons.push(why);
  }
  return reasons.length === 0 ? 'no cosign signature exists' : reasons.join('; ');
}
