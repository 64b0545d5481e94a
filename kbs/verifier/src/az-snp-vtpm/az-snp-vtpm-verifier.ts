/**
 * az-snp-vtpm (Azure SEV-SNP confidential VMs with a paravisor): the SNP report inside the HCL
 * report is verified like any SNP report (VCEK from the evidence, chain to the bundled ARK),
 * its report_data must hold the hash of the HCL runtime data, whose `HCLAkPub` signs the vTPM
 * quote that carries the nonce and PCRs. Evidence: `{"version", "tpm_quote", "hcl_report",
 * "vcek"}` (v1/v2) or `{"quote", "report", "vcek"}` (v0).
 */
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import type { VerifyOptions } from '../verifier.js';
import { binaryField, checkAzQuote, decodeAzQuote } from '../common/azure.js';
import { requireEvidenceObject } from '../common/evidence.js';
import { ConfiguredHardwareVerifier, type HardwareVerified, type OptionalBinding } from '../common/hardware-verifier.js';
import { checkHclBinding, hclAkPub, parseHclReport } from '../common/hcl.js';
import { parseSnpReport } from '../snp/report.js';
import { loadArkCrls, verifySnpReport, type SnpVerifierConfig } from '../snp/snp-verifier.js';

const MALFORMED = 'VERIFIER_AZ_SNP_EVIDENCE_MALFORMED';
const PREFIX = 'VERIFIER_AZ_SNP';

export type AzSnpVtpmVerifierConfig = SnpVerifierConfig;

export class AzSnpVtpmVerifier extends ConfiguredHardwareVerifier<AzSnpVtpmVerifierConfig> {
  readonly tee: Tee = 'az-snp-vtpm';

  async inspect(evidence: unknown, expected: OptionalBinding, options: VerifyOptions = {}): Promise<HardwareVerified> {
    const o = requireEvidenceObject(evidence, MALFORMED, 'az-snp-vtpm evidence');
    const hcl = parseHclReport(binaryField(o['hcl_report'] ?? o['report'], MALFORMED, 'hcl_report'), MALFORMED);
    if (hcl.reportType !== 'snp') throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: 'The HCL report does not hold an SNP report' });
    const vcek = o['vcek'];
    const vek = typeof vcek === 'string' ? (vcek.includes('-----BEGIN') ? new Uint8Array(Buffer.from(vcek)) : binaryField(vcek, MALFORMED, 'vcek')) : undefined;
    const report = parseSnpReport(hcl.hwReport);
    // The SNP report binds the HCL runtime data, not the session: report_data is checked on the vTPM quote.
    const at = options.now ?? new Date();
    // SECURITY: the ARK CRLs (files or KDS) apply as for bare SNP: a revoked VCEK/ASK is refused.
    const arkCrlList = await loadArkCrls(this.config, report, at);
    const snp = verifySnpReport(report, [], {}, { ...this.config, ...(vek ? { vek } : {}), at, arkCrlList });
    checkHclBinding(hcl, report.reportData, `${PREFIX}_HCL_BINDING`);
    // report_data is bound through the vTPM quote below; a skipped CRL check is still listed.
    const skipped: string[] = snp.skipped.filter((s) => s === 'ark_crl');
    const q = checkAzQuote(decodeAzQuote(o['tpm_quote'] ?? o['quote'], MALFORMED), hclAkPub(hcl, MALFORMED), expected, PREFIX, skipped);
    const claims = { ...snp.claims, report_data: Buffer.from(q.nonce).toString('hex'), init_data: q.tpm['pcr08'] ?? '', tpm: q.tpm };
    return { claims, teeClass: 'cpu', skipped };
  }
}
