/**
 * The SEV-SNP verifier: report v2-v5 (binary or the AA's serde JSON), ECDSA P-384 signature by
 * the VCEK/VLEK, VEK chain to the bundled ARK, reported TCB and chip ID against the VEK,
 * guest policy (debug, migration agent), VMPL, and the report_data / HOST_DATA bindings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import type { VerifyOptions } from '../verifier.js';
import { toHex } from '../common/bytes.js';
import { checkBinding, decodeBase64, evidenceObject } from '../common/evidence.js';
import { ConfiguredHardwareVerifier, type HardwareVerified, type OptionalBinding } from '../common/hardware-verifier.js';
import { parseCertificate, verifyP1363, type Crl } from '../common/x509.js';
import { generationFromCpuid, parseSnpReport, REPORT_SIZE, SIGNED_SIZE, type SnpReport } from './report.js';
import { snpClaims } from './claims.js';
import { GENERATIONS, checkVekMatchesReport, findVek, signingKeyType, vendorChain, verifyVekChain, type SnpTrustAnchors } from './vek.js';
import { certTableFromJson, reportFromJson, type CertEntry } from './wire.js';
import { fetchVcek } from './kds.js';
import { checkArkCrl, findArkCrl } from './crl.js';

export interface SnpVerifierConfig {
  /** A VCEK/VLEK (DER or PEM bytes, or a file path) used when the evidence has none. */
  vek?: Uint8Array | string;
  /** Offline VCEK store root (`<dir>/vcek/<hwid>/<tcb>_vcek.der`). */
  vcekStoreDir?: string;
  /** Accept guests whose policy allows debugging. Off by default. */
  allowDebug?: boolean;
  /** Accept guests whose policy allows a migration agent. Off by default. */
  allowMigrationAgent?: boolean;
  /** Highest VMPL accepted (trustee accepts 0 only). Default 0. */
  maxVmpl?: number;
  /** Refuse platforms running with SMT enabled (PLATFORM_INFO.SMT_EN). Default false. */
  refuseSmt?: boolean;
  /** KDS-compatible URL (https://kdsintf.amd.com) to fetch VCEKs from when none is at hand; cached in `vcekStoreDir`. */
  kdsUrl?: string;
  /** ARK CRL files (DER or PEM), offline; each applies to the ARK that signed it. */
  arkCrls?: string[];
  /** Refuse when no ARK CRL is at hand (files or `kdsUrl`). Default false: the check is listed as skipped. */
  requireArkCrl?: boolean;
  /** Injected fetch (tests). */
  fetch?: typeof fetch;
  /** ASK/ARK/ASVK per generation REPLACING the bundled AMD chains (README "Trust anchors"). */
  trustAnchors?: SnpTrustAnchors;
}

const MALFORMED = 'VERIFIER_SNP_EVIDENCE_MALFORMED';

export interface SnpEvidence {
  report: Uint8Array;
  certTable: CertEntry[];
}

export function decodeSnpEvidence(evidence: unknown): SnpEvidence {
  if (evidence instanceof Uint8Array) {
    const obj = evidenceObject(evidence, MALFORMED);
    if (!obj) return { report: evidence, certTable: [] };
    evidence = obj;
  }
  const o = evidenceObject(evidence, MALFORMED)!;
  const rep = o['attestation_report'];
  let report: Uint8Array;
  if (typeof rep === 'string') report = decodeBase64(rep, MALFORMED, 'attestation_report');
  else if (Array.isArray(rep) && rep.length >= REPORT_SIZE) report = Uint8Array.from(rep as number[]);
  else report = reportFromJson(rep);
  return { report, certTable: certTableFromJson(o['cert_chain']) };
}

/** r and s are 72-byte little-endian values; P-384 uses the low 48 bytes. */
export function reportSignatureP1363(report: SnpReport): Uint8Array {
  const be = (le: Uint8Array): Uint8Array => Uint8Array.from(le.subarray(0, 48)).reverse();
  return Buffer.concat([be(report.signatureR), be(report.signatureS)]);
}

function fail(kind: 'UNAUTHENTICATED' | 'PERMISSION_DENIED', code: string, message: string): never {
  throw new KccError({ kind, code, message });
}

export class SnpVerifier extends ConfiguredHardwareVerifier<SnpVerifierConfig> {
  readonly tee: Tee = 'snp';

  async inspect(evidence: unknown, expected: OptionalBinding, options: VerifyOptions = {}): Promise<HardwareVerified> {
    const ev = decodeSnpEvidence(evidence);
    const report = parseSnpReport(ev.report);
    const at = options.now ?? new Date();
    const c0 = this.config;
    const c = { ...c0, arkCrlList: await loadArkCrls(c0, report, at) };
    if (c.kdsUrl !== undefined && c.vek === undefined) {
      try {
        findVek(report, signingKeyType(report), generationFromCpuid(report), { certTable: ev.certTable, storeDir: c.vcekStoreDir });
      } catch (err) {
        if (!(err instanceof KccError && err.code === 'VERIFIER_SNP_VEK_MISSING') || signingKeyType(report) !== 'VCEK') throw err;
        const vek = await fetchVcek({ url: c.kdsUrl, ...(c.vcekStoreDir ? { storeDir: c.vcekStoreDir } : {}) }, report, generationFromCpuid(report));
        return verifySnpReport(report, ev.certTable, expected, { ...c, vek, at });
      }
    }
    return verifySnpReport(report, ev.certTable, expected, { ...c, at });
  }
}

/**
 * ARK CRLs for the report's generation (every generation when CPUID is absent: files only, as
 * the KDS is asked per product). Shared by every verifier of SNP reports (snp, az-snp-vtpm).
 */
export async function loadArkCrls(c: SnpVerifierConfig, report: SnpReport, at: Date): Promise<Crl[]> {
  if (c.arkCrls === undefined && c.kdsUrl === undefined) return [];
  const cpuGen = generationFromCpuid(report);
  const src = { arkCrls: c.arkCrls, kdsUrl: cpuGen === undefined ? undefined : c.kdsUrl, storeDir: c.vcekStoreDir, ...(c.fetch ? { fetch: c.fetch } : {}) };
  const out: Crl[] = [];
  for (const g of cpuGen === undefined ? GENERATIONS : [cpuGen]) {
    try {
      const crl = await findArkCrl(vendorChain(g, c.trustAnchors).ark, g, signingKeyType(report), src, at);
      if (crl) out.push(crl);
    } catch (err) {
      // An unreachable KDS leaves the check skipped (listed), unless the operator requires it.
      if (!(err instanceof KccError && err.code === 'VERIFIER_SNP_CRL_FETCH_FAILED') || c.requireArkCrl === true) throw err;
    }
  }
  return out;
}

export function verifySnpReport(
  report: SnpReport,
  certTable: readonly CertEntry[],
  expected: OptionalBinding,
  config: SnpVerifierConfig & { at: Date; arkCrlList?: readonly Crl[] },
): HardwareVerified {
  const type = signingKeyType(report);
  const cpuGen = generationFromCpuid(report);
  const vekConfig = typeof config.vek === 'string' && existsSync(config.vek) ? new Uint8Array(readFileSync(config.vek)) : config.vek;
  const vekBytes = findVek(report, type, cpuGen, {
    certTable,
    vek: typeof vekConfig === 'string' ? new Uint8Array(Buffer.from(vekConfig)) : vekConfig,
    storeDir: config.vcekStoreDir,
  });
  const vek = parseCertificate(vekBytes, 'VERIFIER_SNP_VEK_MALFORMED');
  const gen = verifyVekChain(vek, type, cpuGen, config.at, config.trustAnchors);
  // SECURITY: bytes 0x000-0x29F are signed by the VEK with ECDSA P-384 / SHA-384.
  if (!verifyP1363('sha384', report.raw.subarray(0, SIGNED_SIZE), vek.publicKey, reportSignatureP1363(report))) {
    fail('UNAUTHENTICATED', 'VERIFIER_SNP_REPORT_SIGNATURE', `The report signature does not verify with the ${type}`);
  }
  checkVekMatchesReport(vek, report, type, gen);
  checkSnpPolicy(report, config);
  const skipped: string[] = [];
  const chain = vendorChain(gen, config.trustAnchors);
  const crl = config.arkCrlList?.find((x) => Buffer.from(x.issuerDer).equals(Buffer.from(chain.ark.subjectDer)));
  if (crl) checkArkCrl(crl, chain.ark, [type === 'VCEK' ? chain.ask : chain.asvk, vek], config.at);
  else if (config.requireArkCrl === true) {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_SNP_CRL_MISSING', message: `No ARK CRL for ${gen} (configure arkCrls files or kdsUrl)` });
  } else skipped.push('ark_crl');
  if (expected.reportData) checkBinding(report.reportData, expected.reportData, 'VERIFIER_SNP_REPORT_DATA_MISMATCH', 'report_data');
  else skipped.push('report_data');
  if (expected.initDataHash) checkBinding(report.hostData, expected.initDataHash, 'VERIFIER_SNP_INIT_DATA_MISMATCH', 'HOST_DATA (init_data)');
  const claims = snpClaims(report, gen);
  claims['vek_type'] = type;
  claims['vek_subject_cn'] = /CN=([^\n]+)/.exec(vek.subject)?.[1] ?? '';
  claims['chip_id'] = toHex(report.chipId);
  return { claims, teeClass: 'cpu', skipped };
}

/** Guest policy and VMPL checks (after the signature, so the values are the firmware's). */
export function checkSnpPolicy(report: SnpReport, config: SnpVerifierConfig): void {
  const policy = report.policy;
  // SECURITY: debug lets the host read and write guest memory; migration agents can export it.
  if ((policy >> 19n) & 1n && config.allowDebug !== true) {
    fail('PERMISSION_DENIED', 'VERIFIER_SNP_DEBUG_NOT_ALLOWED', 'The guest policy allows debugging, which is not allowed');
  }
  if ((policy >> 18n) & 1n && config.allowMigrationAgent !== true) {
    fail('PERMISSION_DENIED', 'VERIFIER_SNP_MIGRATION_AGENT_NOT_ALLOWED', 'The guest policy allows a migration agent, which is not allowed');
  }
  // SECURITY: SMT siblings share core state with the host's threads; some operators refuse it.
  if (config.refuseSmt === true && (report.platInfo & 1n) === 1n) {
    fail('PERMISSION_DENIED', 'VERIFIER_SNP_SMT_NOT_ALLOWED', 'The platform runs with SMT enabled, which is not allowed');
  }
  if (report.vmpl > (config.maxVmpl ?? 0)) {
    fail('PERMISSION_DENIED', 'VERIFIER_SNP_VMPL_NOT_ALLOWED', `The report was requested at VMPL ${report.vmpl}; at most ${config.maxVmpl ?? 0} is allowed`);
  }
}
