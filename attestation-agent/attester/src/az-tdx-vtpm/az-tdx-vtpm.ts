/**
 * The az-tdx-vtpm attester (Azure TDX CVMs with a paravisor): HCL report (with the TDREPORT)
 * from the vTPM, a vTPM quote over the report data, and the TD quote for that TDREPORT from
 * Azure IMDS (`POST /acc/tdquote {"report": b64url}`). Evidence (trustee v1):
 * `{"version": 1, "tpm_quote": {signature, message, pcrs} (hex), "hcl_report": b64url, "td_quote": b64url}`.
 */
import type { Attester, AttesterDeps } from '../attester.js';
import { attesterError } from '../errors.js';
import type { Tee } from '../tee.js';
import { detectAzure, hclAndQuote, imds, tpmDevice, withTpm, type AzQuote } from '../common/azure.js';
import { AzureVtpmAttester } from '../common/azure-vtpm-attester.js';

const TD_REPORT_OFFSET = 0x20;
const TD_REPORT_SIZE = 1024;

export interface AzTdxVtpmEvidence {
  version: 1;
  tpm_quote: AzQuote;
  hcl_report: string;
  td_quote: string;
}

export async function detectAzTdxVtpm(deps: AttesterDeps): Promise<boolean> {
  return detectAzure(tpmDevice({}, deps.root ?? '', deps.env ?? process.env), 'tdx');
}

export class AzTdxVtpmAttester extends AzureVtpmAttester implements Attester {
  readonly tee: Tee = 'az-tdx-vtpm';

  async getEvidence(reportData: Uint8Array): Promise<AzTdxVtpmEvidence> {
    const { hcl, quote } = await withTpm(this.device, (tpm) => hclAndQuote(tpm, reportData));
    const tdReport = hcl.subarray(TD_REPORT_OFFSET, TD_REPORT_OFFSET + TD_REPORT_SIZE);
    const res = (await imds(this.imdsUrl, '/acc/tdquote', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ report: tdReport.toString('base64url') }),
    })) as { quote?: string };
    if (typeof res.quote !== 'string') throw attesterError('ATTESTER_EVIDENCE_FAILED', 'Azure IMDS returned no TD quote');
    return { version: 1, tpm_quote: quote, hcl_report: hcl.toString('base64url'), td_quote: res.quote };
  }
}
