/**
 * Certificates and CRLs of the FAKE TEE test CA: keys generated in the test, DER written by
 * `der.ts`, signatures by node:crypto (ECDSA with DER signatures, or RSASSA-PSS/SHA-384 with a
 * 48-byte salt, the way AMD signs its ARK, ASK and VCEKs). Nothing here is trusted by a default
 * verifier: only one pointed at these roots with its `trustAnchors` option.
 */
import { constants, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { bits, bool, ctx, int, nul, octets, oid, seq, set, time, utf8 } from './der.js';

export type SigAlg = 'ecdsa-sha256' | 'ecdsa-sha384' | 'rsapss-sha384';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export const ecKey = (curve: 'P-256' | 'P-384'): KeyPair => generateKeyPairSync('ec', { namedCurve: curve });
export const rsaKey = (bits: number): KeyPair => generateKeyPairSync('rsa', { modulusLength: bits });

const SHA384 = seq(oid('2.16.840.1.101.3.4.2.2'), nul());

function algId(alg: SigAlg): Buffer {
  switch (alg) {
    case 'ecdsa-sha256': return seq(oid('1.2.840.10045.4.3.2'));
    case 'ecdsa-sha384': return seq(oid('1.2.840.10045.4.3.3'));
    case 'rsapss-sha384':
      // RSASSA-PSS-params as AMD writes them: SHA-384, MGF1(SHA-384), salt 48, trailer 1.
      return seq(oid('1.2.840.113549.1.1.10'), seq(ctx(0, SHA384), ctx(1, seq(oid('1.2.840.113549.1.1.8'), SHA384)), ctx(2, int(48)), ctx(3, int(1))));
    default: {
      const never: never = alg;
      throw new Error(`unknown algorithm ${String(never)}`);
    }
  }
}

function signWith(alg: SigAlg, key: KeyObject, data: Uint8Array): Buffer {
  if (alg === 'rsapss-sha384') return sign('sha384', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
  return sign(alg === 'ecdsa-sha256' ? 'sha256' : 'sha384', data, key);
}

const NAME_OIDS: Record<string, string> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11', L: '2.5.4.7', ST: '2.5.4.8', C: '2.5.4.6' };

/** A distinguished name from ordered [attribute, value] pairs, e.g. [['CN', 'x'], ['O', 'y']]. */
export function dn(attrs: readonly (readonly [keyof typeof NAME_OIDS, string])[]): Buffer {
  return seq(...attrs.map(([k, v]) => set(seq(oid(NAME_OIDS[k]!), utf8(v)))));
}

export interface Ext {
  readonly oid: string;
  readonly critical?: boolean;
  /** The DER inside extnValue. */
  readonly value: Uint8Array;
}

export const basicConstraintsCa = (): Ext => ({ oid: '2.5.29.19', critical: true, value: seq(bool(true)) });
export const keyUsage = (mask: number): Ext => ({ oid: '2.5.29.15', critical: true, value: bits(Buffer.from([mask])) });

export interface Issuer {
  readonly name: Buffer;
  readonly key: KeyObject;
  readonly alg: SigAlg;
}

export interface CertSpec {
  readonly subject: Buffer;
  readonly publicKey: KeyObject;
  readonly issuer: Issuer;
  readonly serial?: bigint;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions?: readonly Ext[];
}

export interface FakeCert {
  readonly der: Buffer;
  readonly pem: string;
  /** Serial as our verifier prints it (hex, no leading zeros beyond DER's). */
  readonly serial: bigint;
  readonly x509: X509Certificate;
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Issues an X.509 v3 certificate. */
export function issueCert(s: CertSpec): FakeCert {
  const serial = s.serial ?? BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n;
  const exts = s.extensions ?? [];
  const tbs = seq(
    ctx(0, int(2)),
    int(serial),
    algId(s.issuer.alg),
    s.issuer.name,
    seq(time(s.notBefore), time(s.notAfter)),
    s.subject,
    s.publicKey.export({ type: 'spki', format: 'der' }),
    ...(exts.length === 0 ? [] : [ctx(3, seq(...exts.map((e) => seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(e.value)))))]),
  );
  const der = seq(tbs, algId(s.issuer.alg), bits(signWith(s.issuer.alg, s.issuer.key, tbs)));
  return { der, pem: toPem(der), serial, x509: new X509Certificate(der) };
}

export interface CrlSpec {
  readonly issuer: Issuer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly revokedSerials?: readonly bigint[];
  readonly number?: number;
}

/** Issues an X.509 v2 CRL (cRLNumber extension, optional revoked entries). */
export function issueCrl(s: CrlSpec): Buffer {
  const revoked = s.revokedSerials ?? [];
  const tbs = seq(
    int(1),
    algId(s.issuer.alg),
    s.issuer.name,
    time(s.thisUpdate),
    time(s.nextUpdate),
    ...(revoked.length === 0 ? [] : [seq(...revoked.map((r) => seq(int(r), time(s.thisUpdate))))]),
    ctx(0, seq(seq(oid('2.5.29.20'), octets(int(s.number ?? 1))))),
  );
  return seq(tbs, algId(s.issuer.alg), bits(signWith(s.issuer.alg, s.issuer.key, tbs)));
}

/** A validity window around now: from a day ago to `days` ahead. */
export function window(days: number, now = new Date()): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + days * 86_400_000) };
}
