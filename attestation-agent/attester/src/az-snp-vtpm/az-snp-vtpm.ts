/**
 * The az-snp-vtpm attester (Azure SEV-SNP CVMs with a paravisor): HCL report (with the SNP
 * report) from the vTPM, a vTPM quote over the report data, and the VCEK from Azure IMDS
 * (`/metadata/THIM/amd/certification`). Evidence (trustee v2):
 * `{"version": 2, "tpm_quote": {signature, message, pcrs} (hex), "hcl_report": b64, "vcek": b64 DER}`.
 */
import type { Attester, AttesterDeps } from '../attester.js';
import { attesterError } from '../errors.js';
import type { Tee } from '../tee.js';
import { detectAzure, hclAndQuote, imds, tpmDevice, withTpm, type AzQuote } from '../common/azure.js';
import { AzureVtpmAttester } from '../common/azure-vtpm-attester.js';

export interface AzSnpVtpmEvidence {
  version: 2;
  tpm_quote: AzQuote;
  hcl_report: string;
  vcek: string;
}

export async function detectAzSnpVtpm(deps: AttesterDeps): Promise<boolean> {
  return detectAzure(tpmDevice({}, deps.root ?? '', deps.env ?? process.env), 'snp');
}

export class AzSnpVtpmAttester extends AzureVtpmAttester implements Attester {
  readonly tee: Tee = 'az-snp-vtpm';

  async getEvidence(reportData: Uint8Array): Promise<AzSnpVtpmEvidence> {
    const { hcl, quote } = await withTpm(this.device, (tpm) => hclAndQuote(tpm, reportData));
    const certs = (await imds(this.imdsUrl, '/metadata/THIM/amd/certification')) as { vcekCert?: string };
    const pem = certs.vcekCert?.match(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/);
    if (!pem?.[1]) throw attesterError('ATTESTER_EVIDENCE_FAILED', 'Azure IMDS returned no VCEK certificate');
    return { version: 2, tpm_quote: quote, hcl_report: hcl.toString('base64url'), vcek: Buffer.from(pem[1].replace(/\s+/g, ''), 'base64').toString('base64url') };
  }
}
