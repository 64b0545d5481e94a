/**
 * What the two Azure vTPM attesters (az-snp-vtpm, az-tdx-vtpm) hold alike: the vTPM (its
 * quote, init data in PCR 8, runtime events in its SHA-256 PCRs) and the IMDS base URL. Each
 * subclass only says how its evidence is assembled.
 */
import type { AttesterDeps, InitDataBinding, RuntimeMeasurement } from '../attester.js';
import type { Tee } from '../tee.js';
import { bindInitDataPcr, TpmPcrMeasurement } from '../tpm/pcr.js';
import { IMDS_URL, tpmDevice, type AzureTpmConfig } from './azure.js';

export abstract class AzureVtpmAttester {
  abstract readonly tee: Tee;
  protected readonly device: string;
  protected readonly imdsUrl: string;
  /** Runtime events go into the vTPM's SHA-256 PCRs (guest-components: PCR = CC register). */
  readonly runtimeMeasurement: RuntimeMeasurement;

  /** IMDS: `config.imdsUrl`, else env `AA_AZURE_IMDS_URL`, else Azure's link-local address. */
  constructor(config: AzureTpmConfig = {}, deps: AttesterDeps = {}) {
    const env = deps.env ?? process.env;
    this.device = tpmDevice(config, deps.root ?? '', env);
    this.imdsUrl = config.imdsUrl ?? env['AA_AZURE_IMDS_URL'] ?? IMDS_URL;
    this.runtimeMeasurement = new TpmPcrMeasurement(this.device);
  }

  /** Extends vTPM PCR 8 with the init-data digest (guest-components `bind_init_data`); the KBS replays it. */
  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    return bindInitDataPcr(this.device, digest);
  }
}
