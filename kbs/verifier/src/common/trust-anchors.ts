/**
 * Operator-configured trust anchors (`trustAnchors` in the TDX and SNP verifier configs): PEM
 * text inline, or the path of a PEM file. They REPLACE the bundled vendor roots, so a verifier
 * can be pointed at Intel's pre-production/SBX root or at a private test CA; the bundled roots
 * stay the default when nothing is configured.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import { parseCertificate, pemBlocks, type Certificate } from './x509.js';

const CODE = 'VERIFIER_TRUST_ANCHOR_INVALID';

/** The certificates of one configured anchor (inline PEM or a PEM file), in file order. */
export function trustAnchorCerts(anchor: string, what: string): Certificate[] {
  let text = anchor;
  if (!anchor.includes('-----BEGIN')) {
    if (!existsSync(anchor)) throw new KccError({ kind: 'INVALID_ARGUMENT', code: CODE, message: `${what}: "${anchor}" is neither PEM text nor an existing file` });
    text = readFileSync(anchor, 'latin1');
  }
  const ders = pemBlocks(text);
  if (ders.length === 0) throw new KccError({ kind: 'INVALID_ARGUMENT', code: CODE, message: `${what}: no PEM certificate found` });
  return ders.map((d) => parseCertificate(d, CODE));
}
