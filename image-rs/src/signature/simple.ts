import type * as OpenPgp from 'openpgp';
import type { ImageReference } from '../reference.js';
import { identityMatches } from './identity.js';
import type { SignedIdentity } from './policy-types.js';

/** The signed payload both simple signing and cosign use. */
export interface SignaturePayload {
  critical?: { type?: string; image?: { 'docker-manifest-digest'?: string }; identity?: { 'docker-reference'?: string } };
}

/** Reads OpenPGP public keys (armored or binary keyrings). */
// openpgp is large: loaded only when a signedBy requirement is evaluated.
const pgp = (): Promise<typeof OpenPgp> => import('openpgp');

export async function readGpgKeys(data: Uint8Array): Promise<OpenPgp.Key[]> {
  const openpgp = await pgp();
  const text = Buffer.from(data).toString('utf8');
  if (text.includes('-----BEGIN PGP')) return openpgp.readKeys({ armoredKeys: text });
  return openpgp.readKeys({ binaryKeys: data });
}

/**
 * Checks one payload's claims: type, manifest digest (one of `digests`) and identity.
 * Returns a reason on failure.
 */
export function checkPayload(p: SignaturePayload, type: string, image: ImageReference, digests: string[], rule: SignedIdentity | undefined): string | undefined {
  if (p.critical?.type !== type) return `signature type is "${String(p.critical?.type)}", expected "${type}"`;
  const d = p.critical.image?.['docker-manifest-digest'];
  if (d === undefined || !digests.includes(d)) return `signature is for manifest ${String(d)}, not ${digests.join(' / ')}`;
  const id = p.critical.identity?.['docker-reference'] ?? '';
  if (!identityMatches(rule, image, id)) return `signature identity "${id.slice(0, 200)}" does not match the image (${rule?.type ?? 'matchRepoDigestOrExact'})`;
  return undefined;
}

/**
 * Verifies one simple-signing ("atomic container signature") OpenPGP message. Returns
 * undefined when valid for this image, else why not.
 */
export async function verifySimpleSignature(sig: Uint8Array, keys: OpenPgp.Key[], image: ImageReference, digests: string[], rule: SignedIdentity | undefined): Promise<string | undefined> {
  let payload: Uint8Array;
  const openpgp = await pgp();
  try {
    const message = await openpgp.readMessage({ binaryMessage: sig });
    const result = await openpgp.verify({ message, verificationKeys: keys, expectSigned: true, format: 'binary' });
    payload = result.data as Uint8Array;
  } catch (err) {
    return `invalid GPG signature (${(err as Error).message.split('\n')[0]?.slice(0, 150) ?? ''})`;
  }
  let p: SignaturePayload;
  try {
    p = JSON.parse(Buffer.from(payload).toString('utf8')) as SignaturePayload;
  } catch {
    return 'signature payload is not JSON';
  }
  return checkPayload(p, 'atomic container signature', image, digests, rule);
}
