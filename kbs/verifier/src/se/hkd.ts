/**
 * Host-key document (HKD) checks before an SE challenge is encrypted to it, in the spirit of
 * libpv's CertVerifier (s390-tools, public): the HKD is issued and signed by an IBM Z host-key
 * signing-key certificate (O = International Business Machines Corporation, OU = IBM Z Host Key
 * Signing Service), that certificate chains through the configured intermediates to the
 * configured root CA, everything is valid now, and a current CRL signed by the signing key is
 * present and does not list the HKD (nor a CRL of the signing key's issuer list the signing key).
 * Not done: CRL download from distribution points (offline files only), libpv's legacy
 * issuer-name compatibility rules, and HKD host/model (PLM) checks.
 */
import { readFileSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import { crlSignedBy, isSignedBy, parseCertificate, parseCrl, pemBlocks, sameBytes, verifyChain, type Certificate, type Crl } from '../common/x509.js';

export interface HkdTrust {
  /** Root CA certificate file (PEM), e.g. DigiCert's root as IBM documents. */
  rootCa: string;
  /** PEM files with the IBM Z signing-key certificate and the intermediates up to the root. */
  caCerts: readonly string[];
  /** CRL files (DER or PEM) of the signing key and its issuers. */
  crls: readonly string[];
}

const CODE = 'VERIFIER_SE_HKD_UNTRUSTED';

function fail(message: string): never {
  throw new KccError({ kind: 'UNAUTHENTICATED', code: CODE, message });
}

function certs(file: string): Certificate[] {
  return pemBlocks(readFileSync(file, 'latin1')).map((d) => parseCertificate(d, 'VERIFIER_SE_CONFIG_INVALID'));
}

function crl(file: string): Crl {
  const raw = readFileSync(file);
  const text = raw.toString('latin1');
  const der = text.includes('-----BEGIN X509 CRL-----') ? pemBlocks(text, 'X509 CRL')[0] : new Uint8Array(raw);
  if (!der) throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_SE_CONFIG_INVALID', message: 'An SE CRL file holds no CRL' });
  return parseCrl(der, 'VERIFIER_SE_CONFIG_INVALID');
}

const current = (c: Crl, at: Date): boolean => c.thisUpdate <= at && (c.nextUpdate === undefined || c.nextUpdate > at);

/** SECURITY: an SE challenge is only encrypted to host keys IBM vouches for (else the host could read the measurement key). */
export function verifyHostKeyDocument(hkd: Certificate, trust: HkdTrust, at: Date): void {
  const roots = certs(trust.rootCa);
  const pool = trust.caCerts.flatMap(certs);
  const crls = trust.crls.map(crl);
  const signer = pool.find((c) => sameBytes(c.subjectDer, hkd.issuerDer));
  if (!signer) fail(`No IBM Z signing-key certificate issued the host-key document "${hkd.subject}"`);
  if (!/O=International Business Machines Corporation/.test(signer.subject) || !/OU=IBM Z Host Key Signing Service/.test(signer.subject)) {
    fail(`"${signer.subject}" is not an IBM Z Host Key Signing Service certificate`);
  }
  if (!isSignedBy(hkd, signer)) fail(`The host-key document "${hkd.subject}" is not signed by "${signer.subject}"`);
  if (hkd.notBefore > at || hkd.notAfter <= at) fail(`The host-key document "${hkd.subject}" is not valid at ${at.toISOString()}`);
  const path = verifyChain(signer, pool.filter((c) => c !== signer), roots, at, { untrusted: CODE, signature: CODE, expired: CODE });
  const own = crls.filter((c) => sameBytes(c.issuerDer, signer.subjectDer) && crlSignedBy(c, signer) && current(c, at));
  if (own.length === 0) fail(`No current CRL signed by "${signer.subject}" is configured`);
  if (own.some((c) => c.revoked.has(hkd.serialHex))) fail(`The host-key document "${hkd.subject}" is revoked`);
  const issuer = path[1];
  if (issuer !== undefined) {
    for (const c of crls) {
      if (sameBytes(c.issuerDer, issuer.subjectDer) && crlSignedBy(c, issuer) && current(c, at) && c.revoked.has(signer.serialHex)) fail(`The signing key "${signer.subject}" is revoked`);
    }
  }
}
