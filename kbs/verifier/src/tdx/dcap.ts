/**
 * Native DCAP verification of a TDX quote: quote signature, QE report, PCK chain to the
 * bundled Intel SGX Root CA, CRLs, TCB info and QE identity. Each failed check throws a
 * KccError whose code names it (README table). No network: collateral is passed in.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { isZero } from '../common/bytes.js';
import {
  crlSignedBy,
  p256RawKey,
  parseCertificate,
  parseCrl,
  pemBlocks,
  verifyChain,
  verifyP1363,
  type Certificate,
  type ChainCodes,
  type Crl,
} from '../common/x509.js';
import type { QuoteCollateral } from './collateral.js';
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root.js';
import { trustAnchorCerts } from '../common/trust-anchors.js';
import { parsePckExtensions, type PckExtensions } from './pck.js';
import type { TdxQuote } from './quote.js';
import { converge, maskedEqual, matchIsvLevel, matchTcbLevel, parseQeIdentity, parseTcbInfo, relaunchStatus, sgxTcbStatus, type Matched, type TcbStatus } from './tcb.js';

export interface DcapOptions {
  readonly at: Date;
  readonly collateral?: QuoteCollateral | undefined;
  /** Skip (and report) the checks whose collateral is missing instead of failing. */
  readonly allowMissingCollateral?: boolean;
  /** Trust anchors; defaults to the bundled Intel SGX Root CA. */
  readonly roots?: readonly Certificate[];
}

export interface DcapResult {
  readonly pck: PckExtensions;
  readonly pckLeaf: Certificate;
  readonly tcb?: Matched;
  readonly collateralInfo: Record<string, unknown>;
  /** Checks not performed because their collateral was absent (only with allowMissingCollateral). */
  readonly skipped: readonly string[];
}

let bundledRoots: Certificate[] | undefined;
export function intelRoots(): readonly Certificate[] {
  bundledRoots ??= [parseCertificate(INTEL_SGX_ROOT_CA_PEM)];
  return bundledRoots;
}

/**
 * The DCAP trust anchors: the bundled Intel SGX Root CA, or, when the operator configured
 * `trustAnchors` (PEM text or PEM file paths), exactly those roots instead (Intel's
 * pre-production/SBX root, a private test CA). Parsed once per configured list.
 */
const configuredRoots = new WeakMap<readonly string[], readonly Certificate[]>();
export function tdxRoots(trustAnchors: readonly string[] | undefined): readonly Certificate[] {
  if (trustAnchors === undefined) return intelRoots();
  let roots = configuredRoots.get(trustAnchors);
  if (!roots) {
    roots = trustAnchors.flatMap((a) => trustAnchorCerts(a, 'TDX trustAnchors'));
    if (roots.length === 0) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_TRUST_ANCHOR_INVALID', message: 'TDX trustAnchors is empty: no root would be trusted' });
    configuredRoots.set(trustAnchors, roots);
  }
  return roots;
}

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new KccError({ kind: 'UNAUTHENTICATED', code, message, ...(details ? { details } : {}) });
}

const PCK_CODES: ChainCodes = {
  untrusted: 'VERIFIER_TDX_PCK_CHAIN_UNTRUSTED',
  signature: 'VERIFIER_TDX_PCK_CHAIN_SIGNATURE',
  expired: 'VERIFIER_TDX_CERT_EXPIRED',
};
const COLLATERAL_CODES: ChainCodes = {
  untrusted: 'VERIFIER_TDX_COLLATERAL_CHAIN_UNTRUSTED',
  signature: 'VERIFIER_TDX_COLLATERAL_CHAIN_SIGNATURE',
  expired: 'VERIFIER_TDX_CERT_EXPIRED',
};

function chainFromPem(pem: string, code: string): Certificate[] {
  const certs = pemBlocks(pem).map((d) => parseCertificate(d, code));
  if (certs.length === 0) fail(code, 'Certificate chain has no certificate');
  return certs;
}

/** Signature, QE and PCK checks that need no collateral. */
export function verifyQuoteSignatures(quote: TdxQuote, at: Date, roots: readonly Certificate[]): Certificate[] {
  const certs = chainFromPem(quote.pckChainPem, 'VERIFIER_TDX_PCK_CHAIN_MALFORMED');
  const leaf = certs[0]!;
  // SECURITY: the PCK leaf is trusted only through a chain to the Intel SGX Root CA.
  const path = verifyChain(leaf, certs.slice(1), roots, at, PCK_CODES);
  // SECURITY: the QE report is signed by the PCK key, so it speaks for genuine Intel hardware.
  if (!verifyP1363('sha256', quote.qeReport.raw, leaf.publicKey, quote.qeReportSignature)) {
    fail('VERIFIER_TDX_QE_REPORT_SIGNATURE', 'QE report signature does not verify with the PCK certificate');
  }
  // SECURITY: the QE report binds the attestation key: report_data = SHA-256(AK || auth data) || 0^32.
  const h = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const rd = quote.qeReport.reportData;
  if (!timingSafeEqual(h, rd.subarray(0, 32)) || !isZero(rd.subarray(32))) {
    fail('VERIFIER_TDX_QE_REPORT_BINDING', 'QE report does not bind the attestation key');
  }
  // SECURITY: the TD report (header + body) is signed by that attestation key.
  if (!verifyP1363('sha256', quote.signedRegion, p256RawKey(quote.attestationKey), quote.signature)) {
    fail('VERIFIER_TDX_QUOTE_SIGNATURE', 'Quote signature does not verify with the attestation key');
  }
  return path;
}

/** Collateral issuer chains: to the root, and the signer must be Intel's TCB Signing key. */
function tcbSigningChain(pem: string, roots: readonly Certificate[], at: Date): Certificate {
  const chain = chainFromPem(pem, 'VERIFIER_TDX_COLLATERAL_MALFORMED');
  verifyChain(chain[0]!, chain.slice(1), roots, at, COLLATERAL_CODES);
  // SECURITY: any certificate under the Intel root (a PCK leaf, say) chains; only TCB Signing may sign collateral.
  if (!/^CN=Intel SGX TCB Signing$/m.test(chain[0]!.subject)) {
    fail('VERIFIER_TDX_COLLATERAL_CHAIN_UNTRUSTED', `Collateral is signed by "${chain[0]!.subject.split('\n')[0]}", not Intel SGX TCB Signing`);
  }
  return chain[0]!;
}

function checkWindow(what: string, issue: Date, next: Date | undefined, at: Date): void {
  // SECURITY: collateral outside its issue/nextUpdate window is stale and must not be used.
  if (at < issue || (next !== undefined && at > next)) {
    fail('VERIFIER_TDX_COLLATERAL_EXPIRED', `${what} is not valid at ${at.toISOString()}`, {
      issueDate: issue.toISOString(),
      nextUpdate: next?.toISOString(),
    });
  }
}

function checkCrl(crl: Crl, issuer: Certificate, at: Date, what: string): void {
  if (!crlSignedBy(crl, issuer)) fail('VERIFIER_TDX_CRL_SIGNATURE', `${what} is not signed by "${issuer.subject}"`);
  checkWindow(what, crl.thisUpdate, crl.nextUpdate, at);
}

/** Throws VERIFIER_TDX_PCK_REVOKED when `cert`'s serial is listed in `crl`. */
export function assertNotRevoked(crl: Crl, cert: Certificate): void {
  // SECURITY: a revoked PCK certificate means the platform key is compromised.
  if (crl.revoked.has(cert.serialHex)) fail('VERIFIER_TDX_PCK_REVOKED', `Certificate "${cert.subject}" is revoked`, { serial: cert.serialHex });
}

export function verifyDcap(quote: TdxQuote, options: DcapOptions): DcapResult {
  const { at } = options;
  const roots = options.roots ?? intelRoots();
  const path = verifyQuoteSignatures(quote, at, roots);
  const leaf = path[0]!;
  const pck = parsePckExtensions(leaf);
  const c = options.collateral ?? {};
  const skipped: string[] = [];
  const info: Record<string, unknown> = {};
  const missing = (what: string): boolean => {
    if (options.allowMissingCollateral) {
      skipped.push(what);
      return true;
    }
    throw new KccError({
      kind: 'FAILED_PRECONDITION',
      code: 'VERIFIER_TDX_COLLATERAL_MISSING',
      message: `DCAP collateral is missing: ${what} (configure a collateral file or directory, or allow missing collateral)`,
      details: { missing: what },
    });
  };

  // Root CA CRL: the PCK CA on the path must not be revoked.
  if (c.rootCaCrl) {
    const crl = parseCrl(c.rootCaCrl, 'VERIFIER_TDX_COLLATERAL_MALFORMED');
    checkCrl(crl, roots.find((r) => Buffer.from(r.subjectDer).equals(Buffer.from(crl.issuerDer))) ?? roots[0]!, at, 'Root CA CRL');
    for (const cert of path.slice(1, -1)) {
      assertNotRevoked(crl, cert);
    }
    info['root_ca_crl_num'] = crl.number;
  } else missing('root_ca_crl');

  // PCK CRL: issued by the PCK leaf's issuer, which it must not list.
  if (c.pckCrl) {
    const crl = parseCrl(c.pckCrl, 'VERIFIER_TDX_COLLATERAL_MALFORMED');
    const chain = c.pckCrlIssuerChain ? chainFromPem(c.pckCrlIssuerChain, 'VERIFIER_TDX_COLLATERAL_MALFORMED') : path.slice(1);
    verifyChain(chain[0]!, chain.slice(1), roots, at, COLLATERAL_CODES);
    if (!Buffer.from(crl.issuerDer).equals(Buffer.from(leaf.issuerDer))) {
      fail('VERIFIER_TDX_CRL_ISSUER_MISMATCH', 'PCK CRL is not issued by the PCK certificate\'s CA');
    }
    checkCrl(crl, chain[0]!, at, 'PCK CRL');
    assertNotRevoked(crl, leaf);
    info['pck_crl_num'] = crl.number;
  } else missing('pck_crl');

  let qeMatched: Matched | undefined;
  if (c.qeIdentity && c.qeIdentitySignature && c.qeIdentityIssuerChain) {
    const signer = tcbSigningChain(c.qeIdentityIssuerChain, roots, at);
    if (!verifyP1363('sha256', Buffer.from(c.qeIdentity, 'utf8'), signer.publicKey, c.qeIdentitySignature)) {
      fail('VERIFIER_TDX_QE_IDENTITY_SIGNATURE', 'QE identity signature does not verify with the TCB signing certificate');
    }
    const qe = parseQeIdentity(c.qeIdentity);
    checkWindow('QE identity', new Date(qe.issueDate), new Date(qe.nextUpdate), at);
    const r = quote.qeReport;
    const misc = Buffer.alloc(4);
    misc.writeUInt32LE(r.miscSelect);
    // SECURITY: only Intel's TD Quoting Enclave (signer, product, masked attributes) may sign AKs.
    const miscOk = maskedEqual(new Uint8Array(misc.reverse()), qe.miscselect, qe.miscselectMask);
    if (!Buffer.from(qe.mrsigner, 'hex').equals(Buffer.from(r.mrSigner)) || qe.isvprodid !== r.isvProdId || !miscOk || !maskedEqual(r.attributes, qe.attributes, qe.attributesMask)) {
      fail('VERIFIER_TDX_QE_IDENTITY_MISMATCH', 'The Quoting Enclave does not match the QE identity');
    }
    const qeLevel = matchIsvLevel(qe.tcbLevels, r.isvSvn, 'VERIFIER_TDX_QE_IDENTITY_MISMATCH', 'QE identity');
    if (qeLevel.status === 'Revoked') fail('VERIFIER_TDX_QE_REVOKED', `Quoting Enclave SVN ${r.isvSvn} is revoked`);
    qeMatched = qeLevel;
    info['qe_tcb_status'] = qeLevel.status;
  } else missing('qe_identity');

  let tcb: Matched | undefined;
  if (c.tcbInfo && c.tcbInfoSignature && c.tcbInfoIssuerChain) {
    const signer = tcbSigningChain(c.tcbInfoIssuerChain, roots, at);
    // SECURITY: Intel signs the exact tcbInfo text; we check that text, then parse it.
    if (!verifyP1363('sha256', Buffer.from(c.tcbInfo, 'utf8'), signer.publicKey, c.tcbInfoSignature)) {
      fail('VERIFIER_TDX_TCB_INFO_SIGNATURE', 'TCB info signature does not verify with the TCB signing certificate');
    }
    const tcbInfo = parseTcbInfo(c.tcbInfo);
    checkWindow('TCB info', new Date(tcbInfo.issueDate), new Date(tcbInfo.nextUpdate), at);
    if (tcbInfo.fmspc.toLowerCase() !== pck.fmspc) {
      fail('VERIFIER_TDX_FMSPC_MISMATCH', `TCB info is for FMSPC ${tcbInfo.fmspc.toLowerCase()}, the PCK certificate has ${pck.fmspc}`);
    }
    if (tcbInfo.pceId.toLowerCase() !== pck.pceId) {
      fail('VERIFIER_TDX_PCEID_MISMATCH', `TCB info is for PCE ID ${tcbInfo.pceId}, the PCK certificate has ${pck.pceId}`);
    }
    const m = tcbInfo.tdxModule;
    if (m && (!Buffer.from(m.mrsigner, 'hex').equals(Buffer.from(quote.body.mrSignerSeam)) || !maskedEqual(quote.body.seamAttributes, m.attributes, m.attributesMask))) {
      fail('VERIFIER_TDX_MODULE_MISMATCH', 'TDX module signer or SEAM attributes do not match the TCB info');
    }
    tcb = matchTcbLevel(tcbInfo, pck.components, pck.pceSvn, quote.body.teeTcbSvn);
    const platformStatus = tcb.status;
    // Module major version 0: the module SVN is TDX component 0 of the level, so its status is the level's.
    let moduleStatus: TcbStatus | undefined = quote.body.teeTcbSvn[1] === 0 ? platformStatus : undefined;
    const major = quote.body.teeTcbSvn[1]!;
    if (major > 0 && tcbInfo.tdxModuleIdentities) {
      const id = `TDX_${major.toString(16).padStart(2, '0').toUpperCase()}`;
      const mod = tcbInfo.tdxModuleIdentities.find((x) => x.id === id);
      if (!mod) fail('VERIFIER_TDX_MODULE_MISMATCH', `TCB info has no TDX module identity ${id}`);
      if (!Buffer.from(mod.mrsigner, 'hex').equals(Buffer.from(quote.body.mrSignerSeam)) || !maskedEqual(quote.body.seamAttributes, mod.attributes, mod.attributesMask)) {
        fail('VERIFIER_TDX_MODULE_MISMATCH', `TDX module does not match identity ${id}`);
      }
      const modLevel = matchIsvLevel(mod.tcbLevels, quote.body.teeTcbSvn[0]!, 'VERIFIER_TDX_MODULE_MISMATCH', `TDX module ${id}`);
      moduleStatus = modLevel.status;
      tcb = converge(tcb, modLevel);
    }
    // TDX 1.5: QVL's relaunch check with TEE_TCB_SVN2 (the module a relaunched TD would get).
    const svn2 = quote.body.teeTcbSvn2;
    if (svn2 !== undefined) {
      const relaunch = relaunchStatus(tcbInfo, svn2, { sgx: sgxTcbStatus(tcbInfo, pck.components, pck.pceSvn), tdx: platformStatus, module: moduleStatus, qe: qeMatched?.status });
      if (relaunch !== undefined) tcb = { ...tcb, status: relaunch };
    }
    info['tcb_eval_num'] = tcbInfo.tcbEvaluationDataNumber;
    info['tcb_info_issue_date'] = tcbInfo.issueDate;
    info['tcb_info_next_update'] = tcbInfo.nextUpdate;
  } else missing('tcb_info');


  if (tcb && qeMatched) tcb = converge(tcb, qeMatched);
  // SECURITY: a revoked platform TCB is never accepted, whatever the policy says.
  if (tcb?.status === 'Revoked') fail('VERIFIER_TDX_TCB_REVOKED', 'The platform TCB level is revoked', { advisoryIds: tcb.advisoryIds });
  return { pck, pckLeaf: leaf, ...(tcb ? { tcb } : {}), collateralInfo: info, skipped };
}

