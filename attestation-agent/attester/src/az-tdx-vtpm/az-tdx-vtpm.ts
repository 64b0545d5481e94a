/**
 * The az-tdx-vtpm attester (Azure TDX CVMs with a paravisor): HCL report (with the TDREPORT)
 * from the vTPM, a vTPM quote over the report data, and the TD quote for that TDREPORT from
 * Azure IMDS (`POST /acc/tdquote {"report": b64url}`). Evidence (trustee v1):
 * `{"version": 1, "tpm_quote": {signature, message, pcrs} (hex), "hcl_report": b64url, "td_quote": b64url}`.
 */
import type { Attester, AttesterDeps, InitDataBinding, RuntimeMeasurement } from '../attester.js';
import { attesterError } from '../errors.js';
import type { Tee } from '../tee.js';
import { bindInitDataPcr, TpmPcrMeasurement } from '../tpm/pcr.js';
import { detectAzure, hclAndQuote, imds, IMDS_URL, tpmDevice, withTpm, type AzQuote, type AzureTpmConfig } from '../common/azure.js';

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

export class AzTdxVtpmAttester implements Attester {
  readonly tee: Tee = 'az-tdx-vtpm';
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

  async getEvidence(reportData: Uint8Array): Promise<AzTdxVtpmEvidence> {
    const { hcl, quote } = await withTpm(this.#device, (tpm) => hclAndQuote(tpm, reportData));
    const tdReport = hcl.subarray(TD_REPORT_OFFSET, TD_REPORT_OFFSET + TD_REPORT_SIZE);
    const res = (await imds(this.#imds, '/acc/tdquote', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ report: tdReport.toString('base64url') }),
    })) as { quote?: string };
    if (typeof res.quote !== 'string') throw attesterError('ATTESTER_EVIDENCE_FAILED', 'Azure IMDS returned no TD quote');
    return { version: 1, tpm_quote: quote, hcl_report: hcl.toString('base64url'), td_quote: res.quote };
  }
}
