/**
 * Chain verification for crypto.x509.parse_and_verify_certificates(_with_options), with
 * Go's x509.Verify rules that OPA inherits: root first, leaf last; every link issued and
 * signed by the previous certificate, which must be a CA; all valid at the time; extended
 * key usages allowed along the chain (server auth unless told otherwise); the leaf's DNS/IP
 * SANs matching DNSName; at least two certificates.
 */
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { Value } from '../value.js';
import { RObject } from '../value.js';
import { BuiltinError } from './types-api.js';

export const EKU_ANY = 0;
/** Go's x509.Verify default when no KeyUsages are given (OPA passes none without options). */
export const EKU_SERVER_AUTH = 1;
/** Go's x509.ExtKeyUsage names as OPA's KeyUsages option spells them. */
const USAGES = [
  'KeyUsageAny', 'KeyUsageServerAuth', 'KeyUsageClientAuth', 'KeyUsageCodeSigning', 'KeyUsageEmailProtection',
  'KeyUsageIPSECEndSystem', 'KeyUsageIPSECTunnel', 'KeyUsageIPSECUser', 'KeyUsageTimeStamping', 'KeyUsageOCSPSigning',
  'KeyUsageMicrosoftServerGatedCrypto', 'KeyUsageNetscapeServerGatedCrypto', 'KeyUsageMicrosoftCommercialCodeSigning',
  'KeyUsageMicrosoftKernelCodeSigning',
];

export interface VerifyOptions {
  nowMs: number;
  dnsName?: string;
  usages: number[];
}

export function verifyOptions(o: RObject, nowNs: bigint): VerifyOptions {
  const out: VerifyOptions = { nowMs: Number(nowNs / 1000000n), usages: [] };
  for (const k of o.sortedKeys()) {
    const v = o.get(k) as Value;
    switch (k) {
      case 'DNSName':
        if (typeof v !== 'string') throw new BuiltinError('crypto.x509: DNSName must be a string');
        out.dnsName = v;
        break;
      case 'CurrentTime':
        if (typeof v !== 'number' && typeof v !== 'bigint') throw new BuiltinError('crypto.x509: CurrentTime must be a number of ns');
        out.nowMs = Number(BigInt(typeof v === 'bigint' ? v : Math.trunc(v)) / 1000000n);
        break;
      case 'KeyUsages':
        if (!Array.isArray(v)) throw new BuiltinError('crypto.x509: KeyUsages must be an array of strings');
        for (const u of v) {
          const i = typeof u === 'string' ? USAGES.indexOf(u) : -1;
          if (i < 0) throw new BuiltinError(`crypto.x509: unknown key usage ${JSON.stringify(u)}`);
          out.usages.push(i);
        }
        break;
      case 'MaxConstraintComparisons':
        break; // name constraints are not evaluated, so there is nothing to bound
      default:
        throw new BuiltinError(`crypto.x509: invalid option ${JSON.stringify(k)}`);
    }
  }
  // Go: no KeyUsages means server authentication.
  if (out.usages.length === 0) out.usages.push(EKU_SERVER_AUTH);
  return out;
}

/** A certificate's EKUs allow one of `wanted` (no EKU extension, or Any, allows everything). */
function usageOk(cert: RObject, wanted: number[]): boolean {
  if (wanted.includes(EKU_ANY)) return true;
  const ekus = cert.getStr('ExtKeyUsage');
  const unknown = cert.getStr('UnknownExtKeyUsage');
  if (!Array.isArray(ekus)) return !Array.isArray(unknown);
  return ekus.some((e) => e === EKU_ANY || wanted.includes(e as number));
}

function hostOk(leaf: RObject, name: string): boolean {
  const want = name.toLowerCase().replace(/\.$/, '');
  if (isIP(want)) {
    const ips = leaf.getStr('IPAddresses');
    return Array.isArray(ips) && ips.some((ip) => typeof ip === 'string' && ip.toLowerCase() === want);
  }
  const names = leaf.getStr('DNSNames');
  if (!Array.isArray(names)) return false;
  return names.some((n) => {
    if (typeof n !== 'string') return false;
    const pat = n.toLowerCase().replace(/\.$/, '');
    if (pat === want) return true;
    // A wildcard only covers the whole leftmost label.
    if (!pat.startsWith('*.')) return false;
    const dot = want.indexOf('.');
    return dot > 0 && want.slice(dot) === pat.slice(1);
  });
}

export function verifyChain(list: Buffer[], values: RObject[], opts: VerifyOptions): boolean {
  // OPA needs a root and a leaf at least (a lone self-signed certificate is not a chain).
  if (list.length < 2) return false;
  const certs = list.map((d) => new X509Certificate(d));
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i] as X509Certificate;
    if (Date.parse(c.validFrom) > opts.nowMs || Date.parse(c.validTo) < opts.nowMs) return false;
    const issuer = certs[i === 0 ? 0 : i - 1] as X509Certificate;
    // SECURITY: every link must be signed by the previous certificate, which must be a CA.
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) return false;
    if (i < certs.length - 1 && !c.ca) return false;
    if (!usageOk(values[i] as RObject, opts.usages)) return false;
  }
  return opts.dnsName === undefined || hostOk(values[values.length - 1] as RObject, opts.dnsName);
}
