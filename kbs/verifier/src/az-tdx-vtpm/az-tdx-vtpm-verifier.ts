/**
 * az-tdx-vtpm (Azure TDX confidential VMs with a paravisor): the TD quote is verified with
 * DCAP like any TDX quote, its report_data must hold the hash of the HCL runtime data (the
 * TDREPORT in the HCL report must carry the same report_data), and the runtime data's
 * `HCLAkPub` signs the vTPM quote with the nonce and PCRs.
 * Evidence: `{"version", "tpm_quote", "hcl_report", "td_quote"}`.
 */
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import type { VerifyOptions } from '../verifier.js';
import { binaryField, checkAzQuote, decodeAzQuote } from '../common/azure.js';
import { requireEvidenceObject } from '../common/evidence.js';
import { ConfiguredHardwareVerifier, type HardwareVerified, type OptionalBinding } from '../common/hardware-verifier.js';
import { checkHclBinding, hclAkPub, parseHclReport } from '../common/hcl.js';
import { parseTdxQuote } from '../tdx/quote.js';
import { verifyTdxQuote, type TdxVerifierConfig } from '../tdx/tdx-verifier.js';

const MALFORMED = 'VERIFIER_AZ_TDX_EVIDENCE_MALFORMED';
const PREFIX = 'VERIFIER_AZ_TDX';
/** report_data inside a TDREPORT (REPORTMACSTRUCT offset 128). */
const TDREPORT_REPORT_DATA = 128;

export type AzTdxVtpmVerifierConfig = TdxVerifierConfig;

export class AzTdxVtpmVerifier extends ConfiguredHardwareVerifier<AzTdxVtpmVerifierConfig> {
  readonly tee: Tee = 'az-tdx-vtpm';

  async inspect(evidence: unknown, expected: OptionalBinding, options: VerifyOptions = {}): Promise<HardwareVerified> {
    const o = requireEvidenceObject(evidence, MALFORMED, 'az-tdx-vtpm evidence');
    const hcl = parseHclReport(binaryField(o['hcl_report'], MALFORMED, 'hcl_report'), MALFORMED);
    if (hcl.reportType !== 'tdx') throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: 'The HCL report does not hold a TD report' });
    const quote = parseTdxQuote(binaryField(o['td_quote'], MALFORMED, 'td_quote'));
    const tdx = verifyTdxQuote(quote, undefined, {}, { ...this.config, at: options.now ?? new Date() });
    // SECURITY: the signed TD quote binds the HCL runtime data (and so the vTPM AK).
    checkHclBinding(hcl, quote.body.reportData, `${PREFIX}_HCL_BINDING`);
    const tdReportData = hcl.hwReport.subarray(TDREPORT_REPORT_DATA, TDREPORT_REPORT_DATA + 64);
    if (!Buffer.from(tdReportData).equals(Buffer.from(quote.body.reportData))) {
      throw new KccError({ kind: 'UNAUTHENTICATED', code: `${PREFIX}_HCL_BINDING`, message: 'The TD quote was not made from the TD report in the HCL report' });
    }
    const skipped = tdx.skipped.filter((s) => s !== 'report_data');
    const q = checkAzQuote(decodeAzQuote(o['tpm_quote'], MALFORMED), hclAkPub(hcl, MALFORMED), expected, PREFIX, skipped);
    const claims = { ...tdx.claims, report_data: Buffer.from(q.nonce).toString('hex'), init_data: q.tpm['pcr08'] ?? '', tpm: q.tpm };
    const out: HardwareVerified = { claims, teeClass: 'cpu', skipped };
    if (tdx.tcbStatus !== undefined) out.tcbStatus = tdx.tcbStatus;
    return out;
  }
}
