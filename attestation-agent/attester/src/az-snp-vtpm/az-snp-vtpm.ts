/**
 * The az-snp-vtpm attester (Azure SEV-SNP CVMs with a paravisor): HCL report (with the SNP
 * report) from the vTPM, a vTPM quote over the report data, and the VCEK from Azure IMDS
 * (`/metadata/THIM/amd/certification`). Evidence (trustee v2):
 * `{"version": 2, "tpm_quote": {signature, message, pcrs} (hex), "hcl_report": b64, "vcek": b64 DER}`.
 */
import type { Attester, AttesterDeps, InitDataBinding, RuntimeMeasurement } from '../attester.js';
import { attesterError } from '../errors.js';
import type { Tee } from '../tee.js';
import { bindInitDataPcr, TpmPcrMeasurement } from '../tpm/pcr.js';
import { detectAzure, hclAndQuote, imds, IMDS_URL, tpmDevice, withTpm, type AzQuote, type AzureTpmConfig } from '../common/azure.js';

export interface AzSnpVtpmEvidence {
  version: 2;
  tpm_quote: AzQuote;
  hcl_report: string;
  vcek: string;
}

export async function detectAzSnpVtpm(deps: AttesterDeps): Promise<boolean> {
  return detectAzure(tpmDevice({}, deps.root ?? '', deps.env ?? process.env), 'snp');
}

export class AzSnpVtpmAttester implements Attester {
  readonly tee: Tee = 'az-snp-vtpm';
  readonly #device: string;
  readonly #imds: string;
  /** Runtime events go into the vTPM's SHA-256 PCRs (guest-components: PCR = CC register). */
  readonly runtimeMeasurement: RuntimeMeasurement;

  /** IMDS: `config.imdsUrl`, else env `AA_AZURE_IMDS_URL`, else Azure's link-local address. */
  constructor(config: AzureTpmConfig = {}, deps: AttesterDeps = {}) {
    const env = deps.env ?? process.env;
    this.#device = tpmDevice(config, deps.root ?? '', env);
    this.#imds = config.imdsUrl ?? env['AA_AZURE_IMDS_URL'] ?? IMDS_URL;
    this.runtimeMeasurement = new TpmPcrMeasurement(this.#device);
  }

  /** Extends vTPM PCR 8 with the init-data digest (guest-components `bind_init_data`); the KBS replays it. */
  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    return bindInitDataPcr(this.#device, digest);
  }

  async getEvidence(reportData: Uint8Array): Promise<AzSnpVtpmEvidence> {
    const { hcl, quote } = await withTpm(this.#device, (tpm) => hclAndQuote(tpm, reportData));
    const certs = (await imds(this.#imds, '/metadata/THIM/amd/certification')) as { vcekCert?: string };
    const pem = certs.vcekCert?.match(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/);
    if (!pem?.[1]) throw attesterError('ATTESTER_EVIDENCE_FAILED', 'Azure IMDS returned no VCEK certificate');
    return { version: 2, tpm_quote: quote, hcl_report: hcl.toString('base64url'), vcek: Buffer.from(pem[1].replace(/\s+/g, ''), 'base64').toString('base64url') };
  }
}
