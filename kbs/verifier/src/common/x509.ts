/**
 * X.509 helpers shared by the hardware verifiers: certificate parsing (node:crypto for keys and
 * signatures, our DER reader for vendor extensions), chain building to a bundled root with a
 * validity check at a given time, and CRL parsing/verification (node:crypto has no CRL API).
 */
import { X509Certificate, constants, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { TAG, children, expectTag, intHex, oidToString, parseDer, timeValue, type DerNode } from './der.js';

export interface Extension {
  readonly critical: boolean;
  /** The extnValue OCTET STRING contents. */
  readonly value: Uint8Array;
}

export interface Certificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  readonly serialHex: string;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subject: string;
  readonly extensions: ReadonlyMap<string, Extension>;
}

/** Codes the caller wants for each way a chain can fail. */
export interface ChainCodes {
  readonly untrusted: string;
  readonly expired: string;
  readonly signature: string;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** All PEM blocks of `label` (default CERTIFICATE) in a text, as DER. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    if (m[1] === label) out.push(new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

function certError(code: string, message: string, cause?: unknown): KccError {
  return new KccError({ kind: 'UNAUTHENTICATED', code, message, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Parsed certificates by DER: the same PCK CAs, AMD ASK/ARK and VCEKs come back with every
 * verification, and parsing (OpenSSL X509 + key objects) costs more than the signature checks.
 * Parsing is a pure function of the bytes, so caching it changes no trust decision.
 */
const certCache = new Map<string, Certificate>();
const CERT_CACHE_MAX = 512;

export function parseCertificate(input: Uint8Array | string, code = 'VERIFIER_CERT_MALFORMED'): Certificate {
  const der = typeof input === 'string' ? pemBlocks(input)[0] : input;
  if (!der) throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'No PEM certificate found' });
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const hit = certCache.get(key);
  if (hit) return hit;
  const cert = parseUncached(new Uint8Array(der), code);
  if (certCache.size >= CERT_CACHE_MAX) certCache.delete(certCache.keys().next().value!);
  certCache.set(key, cert);
  return cert;
}

function parseUncached(der: Uint8Array, code: string): Certificate {
  try {
    const x509 = new X509Certificate(der);
    const root = parseDer(der);
    const [tbs] = children(root);
    const fields = children(expectTag(tbs, TAG.SEQUENCE, 'tbsCertificate'));
    let i = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
    const serial = expectTag(fields[i++], TAG.INTEGER, 'serialNumber');
    i++; // signature algorithm
    const issuer = expectTag(fields[i++], TAG.SEQUENCE, 'issuer');
    const validity = children(expectTag(fields[i++], TAG.SEQUENCE, 'validity'));
    const subject = expectTag(fields[i++], TAG.SEQUENCE, 'subject');
    const extensions = new Map<string, Extension>();
    for (const f of fields.slice(i)) {
      if (f.tag !== 0xa3) continue;
      for (const ext of children(expectTag(children(f)[0], TAG.SEQUENCE, 'extensions'))) {
        const parts = children(ext);
        const oid = oidToString(expectTag(parts[0], TAG.OID, 'extnID').value);
        const critical = parts[1]?.tag === TAG.BOOLEAN ? parts[1].value[0] !== 0 : false;
        const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue').value;
        extensions.set(oid, { critical, value });
      }
    }
    return {
      der,
      x509,
      publicKey: x509.publicKey,
      serialHex: intHex(serial.value),
      issuerDer: issuer.raw,
      subjectDer: subject.raw,
      notBefore: timeValue(validity[0]!),
      notAfter: timeValue(validity[1]!),
      subject: x509.subject,
      extensions,
    };
  } catch (err) {
    if (err instanceof KccError && err.code === code) throw err;
    throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'Certificate cannot be parsed', cause: err });
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/** Signature check of `cert` by `issuer`'s key (RSA, RSA-PSS, ECDSA: whatever OpenSSL supports). */
export function isSignedBy(cert: Certificate, issuer: Certificate): boolean {
  if (!sameBytes(cert.issuerDer, issuer.subjectDer)) return false;
  try {
    return cert.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Verifies leaf -> intermediates -> one of `roots`, every certificate valid at `at`.
 * Returns the path, leaf first, ending with the trusted root.
 */
export function verifyChain(
  leaf: Certificate,
  intermediates: readonly Certificate[],
  roots: readonly Certificate[],
  at: Date,
  codes: ChainCodes,
): Certificate[] {
  const path: Certificate[] = [leaf];
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    // SECURITY: the chain ends only at a bundled root, compared byte for byte; a
    // self-signed certificate presented in the evidence is never trusted by itself.
    const root = roots.find((r) => isSignedBy(current, r));
    if (root) {
      if (!sameBytes(current.der, root.der)) path.push(root);
      for (const c of path) checkValidity(c, at, codes.expired);
      return path;
    }
    const next = intermediates.find((c) => c !== current && sameBytes(current.issuerDer, c.subjectDer));
    if (!next) {
      const namedRoot = roots.some((r) => sameBytes(current.issuerDer, r.subjectDer));
      throw certError(namedRoot ? codes.signature : codes.untrusted, namedRoot
        ? `Certificate "${current.subject}" is not signed by the trusted root`
        : `Certificate "${current.subject}" does not chain to a trusted root`);
    }
    if (!isSignedBy(current, next)) {
      throw certError(codes.signature, `Signature of certificate "${current.subject}" does not verify`);
    }
    if (sameBytes(next.subjectDer, next.issuerDer)) {
      throw certError(codes.untrusted, `Chain ends at self-signed "${next.subject}", which is not a trusted root`);
    }
    path.push(next);
    current = next;
  }
  throw certError(codes.untrusted, 'Certificate chain is too long');
}

export function checkValidity(cert: Certificate, at: Date, code: string): void {
  // SECURITY: every certificate on the path must be inside its validity window at `at`.
  if (at < cert.notBefore || at > cert.notAfter) {
    throw new KccError({
      kind: 'UNAUTHENTICATED',
      code,
      message: `Certificate "${cert.subject}" is not valid at ${at.toISOString()}`,
      details: { notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() },
    });
  }
}

export interface Crl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly signatureOid: string;
  /** DER of the signature AlgorithmIdentifier parameters (RSASSA-PSS carries hash and salt). */
  readonly signatureParams: Uint8Array | undefined;
  readonly signature: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly revoked: ReadonlySet<string>;
  /** cRLNumber extension (hex), when present. */
  readonly number: string | undefined;
}

export function parseCrl(der: Uint8Array, code = 'VERIFIER_CRL_MALFORMED'): Crl {
  try {
    const [tbsNode, algNode, sigNode] = children(parseDer(der));
    const tbs = expectTag(tbsNode, TAG.SEQUENCE, 'tbsCertList');
    const fields = children(tbs);
    let i = fields[0]?.tag === TAG.INTEGER ? 1 : 0;
    i++; // signature algorithm
    const issuer = expectTag(fields[i++], TAG.SEQUENCE, 'issuer');
    const thisUpdate = timeValue(fields[i++]!);
    let nextUpdate: Date | undefined;
    const maybeNext = fields[i];
    if (maybeNext && (maybeNext.tag === TAG.UTC_TIME || maybeNext.tag === TAG.GENERALIZED_TIME)) {
      nextUpdate = timeValue(maybeNext);
      i++;
    }
    const revoked = new Set<string>();
    let number: string | undefined;
    for (const f of fields.slice(i)) {
      if (f.tag === TAG.SEQUENCE) {
        for (const entry of children(f)) revoked.add(intHex(expectTag(children(entry)[0], TAG.INTEGER, 'serial').value));
      } else if (f.tag === 0xa0) {
        for (const ext of children(children(f)[0]!)) {
          const parts = children(ext);
          if (oidToString(parts[0]!.value) === '2.5.29.20') number = intHex(parseDer(parts[parts.length - 1]!.value).value);
        }
      }
    }
    const alg = children(expectTag(algNode, TAG.SEQUENCE, 'signatureAlgorithm'));
    const bits = expectTag(sigNode, TAG.BIT_STRING, 'signature').value;
    return {
      der,
      tbs: tbs.raw,
      signatureOid: oidToString(expectTag(alg[0], TAG.OID, 'algorithm').value),
      signatureParams: alg[1]?.raw,
      signature: bits.subarray(1),
      issuerDer: issuer.raw,
      thisUpdate,
      nextUpdate,
      revoked,
      number,
    };
  } catch (err) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'CRL cannot be parsed', cause: err });
  }
}

const ECDSA_HASH: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
};

const HASH_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** RSASSA-PSS-params (RFC 4055): [0] hashAlgorithm (default SHA-1), [2] saltLength (default 20). */
function pssParams(der: Uint8Array | undefined): { hash: string; saltLength: number } | undefined {
  let hash = 'sha1';
  let saltLength = 20;
  if (der === undefined) return { hash, saltLength };
  for (const f of children(parseDer(der))) {
    if (f.tag === 0xa0) {
      const h = HASH_OID[oidToString(expectTag(children(children(f)[0]!)[0], TAG.OID, 'hash').value)];
      if (h === undefined) return undefined;
      hash = h;
    } else if (f.tag === 0xa2) {
      saltLength = Number(BigInt(`0x${intHex(expectTag(children(f)[0], TAG.INTEGER, 'saltLength').value) || '0'}`));
    }
  }
  return { hash, saltLength };
}

/** True when `crl` is signed by `issuer` (ECDSA, PKCS#1 v1.5 or RSASSA-PSS: Intel's and AMD's ARK CRLs). */
export function crlSignedBy(crl: Crl, issuer: Certificate): boolean {
  if (!sameBytes(crl.issuerDer, issuer.subjectDer)) return false;
  try {
    if (crl.signatureOid === RSASSA_PSS) {
      const p = pssParams(crl.signatureParams);
      if (p === undefined) return false;
      return cryptoVerify(p.hash, crl.tbs, { key: issuer.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength }, crl.signature);
    }
    const hash = ECDSA_HASH[crl.signatureOid];
    if (!hash) return false;
    return cryptoVerify(hash, crl.tbs, issuer.publicKey, crl.signature);
  } catch {
    return false;
  }
}

const rawKeyCache = new Map<string, KeyObject>();

/** The raw 64-byte P-256 public key (x||y) of a quote as a KeyObject (cached per key). */
export function p256RawKey(xy: Uint8Array): KeyObject {
  const id = Buffer.from(xy).toString('base64');
  let k = rawKeyCache.get(id);
  if (!k) {
    const prefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
    k = createPublicKey({ key: Buffer.concat([prefix, Buffer.from([4]), Buffer.from(xy)]), format: 'der', type: 'spki' });
    if (rawKeyCache.size >= CERT_CACHE_MAX) rawKeyCache.delete(rawKeyCache.keys().next().value!);
    rawKeyCache.set(id, k);
  }
  return k;
}

/** ECDSA verification with an IEEE P1363 (r||s) signature. */
export function verifyP1363(hash: string, data: Uint8Array, key: KeyObject, sig: Uint8Array): boolean {
  try {
    return cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

export type { DerNode };
