import { parseReference, repoName, formatReference, type ImageReference } from '../reference.js';
import type { SignedIdentity } from './policy-types.js';

/**
 * Does the identity claimed by a signature (`critical.identity.docker-reference`) satisfy the
 * requirement's signedIdentity for the image being pulled? (containers/image
 * policy_reference_match.go; default matchRepoDigestOrExact.)
 */
export function identityMatches(rule: SignedIdentity | undefined, image: ImageReference, signed: string): boolean {
  let sig: ImageReference;
  try {
    sig = parseReference(signed);
  } catch {
    return false;
  }
  const r = rule ?? { type: 'matchRepoDigestOrExact' };
  const exact = (a: ImageReference, b: ImageReference): boolean =>
    (a.tag !== undefined || a.digest !== undefined) && formatReference(a) === formatReference(b);
  switch (r.type) {
    case 'matchExact':
      return exact(image, sig);
    case 'matchRepoDigestOrExact':
      if (image.digest !== undefined) return repoName(image) === repoName(sig);
      return exact(image, sig);
    case 'matchRepository':
      return repoName(image) === repoName(sig);
    case 'exactReference': {
      try {
        return exact(parseReference(r.dockerReference), sig);
      } catch {
        return false;
      }
    }
    case 'exactRepository': {
      try {
        return repoName(parseReference(r.dockerRepository)) === repoName(sig);
      } catch {
        return false;
      }
    }
    case 'remapIdentity': {
      const full = formatReference(image);
      const p = r.prefix;
      if (!(full === p || full.startsWith(`${p}/`) || full.startsWith(`${p}:`) || full.startsWith(`${p}@`))) {
        return identityMatches({ type: 'matchRepoDigestOrExact' }, image, signed);
      }
      try {
        const remapped = parseReference(r.signedPrefix + full.slice(p.length));
        return identityMatches({ type: 'matchRepoDigestOrExact' }, remapped, signed);
      } catch {
        return false;
      }
    }
  }
}
