/**
 * The TPM attester (guest-components `attester/src/tpm`): a TPM2 quote over the SHA-256 bank
 * of PCRs 0-23 by the AK at a persistent handle (default 0x81010002, env `AA_TPM_AK_HANDLE`),
 * with qualifyingData = report_data zero-padded to 64 bytes. Evidence, as trustee's TPM
 * verifier reads it: `{"ak_public": b64 SPKI DER, "tpm_quote": {"signature", "message", "pcrs"}}`.
 * The device is `/dev/tpmrm0` (env `AA_TPM_DEVICE`; `tcp://host:port` reaches a swtpm).
 */
import { access } from 'node:fs/promises';
import type { Attester, AttesterDeps, InitDataBinding, RuntimeMeasurement } from '../attester.js';
import { padReportData } from '../errors.js';
import type { Tee } from '../tee.js';
import { openTransport, Tpm2 } from '../common/tpm2.js';
import { bindInitDataPcr, INITDATA_PCR, TpmPcrMeasurement } from './pcr.js';

export { INITDATA_PCR };

export const TPM_REPORT_DATA_SIZE = 64;
export const DEFAULT_AK_HANDLE = 0x81010002;
const ALL_PCRS = Array.from({ length: 24 }, (_, i) => i);

export interface TpmAttesterConfig {
  device?: string;
  akHandle?: number;
}

export interface TpmEvidence {
  ak_public: string;
  tpm_quote: { signature: string; message: string; pcrs: string[] };
}

function devicePath(config: TpmAttesterConfig, deps: AttesterDeps): string {
  const env = deps.env ?? process.env;
  const d = config.device ?? env['AA_TPM_DEVICE'] ?? '/dev/tpmrm0';
  return d.startsWith('tcp://') ? d : `${deps.root ?? ''}${d}`;
}

/** A TPM is present when its resource-manager device exists (or AA_TPM_DEVICE names one). */
export async function detectTpm(deps: AttesterDeps): Promise<boolean> {
  const d = devicePath({}, deps);
  if (d.startsWith('tcp://')) return true;
  try {
    await access(d);
    return true;
  } catch {
    return false;
  }
}

/** Quote + PCRs + AK public, shared with the Azure vTPM attesters. */
export async function tpmQuoteEvidence(tpm: Tpm2, akHandle: number, nonce: Uint8Array, encoding: 'base64' | 'hex'): Promise<TpmEvidence> {
  const ak = await tpm.readPublic(akHandle);
  const { attest, signature } = await tpm.quote(akHandle, nonce, ALL_PCRS);
  const pcrs = await tpm.pcrRead(ALL_PCRS);
  return {
    ak_public: ak.export({ type: 'spki', format: 'der' }).toString('base64'),
    tpm_quote: {
      signature: signature.toString(encoding),
      message: attest.toString(encoding),
      pcrs: ALL_PCRS.map((i) => pcrs.get(i)!.toString('hex')),
    },
  };
}

export class TpmAttester implements Attester {
  readonly tee: Tee = 'tpm';
  readonly #device: string;
  readonly #akHandle: number;
  /** Runtime events extend the TPM's SHA-256 PCRs directly (PCR = CC register), as on Azure vTPMs. */
  readonly runtimeMeasurement: RuntimeMeasurement;

  constructor(config: TpmAttesterConfig = {}, deps: AttesterDeps = {}) {
    const env = deps.env ?? process.env;
    this.#device = devicePath(config, deps);
    this.#akHandle = config.akHandle ?? (env['AA_TPM_AK_HANDLE'] ? Number(env['AA_TPM_AK_HANDLE']) : DEFAULT_AK_HANDLE);
    this.runtimeMeasurement = new TpmPcrMeasurement(this.#device);
  }

  async #with<T>(fn: (tpm: Tpm2) => Promise<T>): Promise<T> {
    const tpm = new Tpm2(await openTransport(this.#device));
    try {
      return await fn(tpm);
    } finally {
      await tpm.close();
    }
  }

  async getEvidence(reportData: Uint8Array): Promise<TpmEvidence> {
    const nonce = padReportData(reportData, TPM_REPORT_DATA_SIZE);
    return this.#with((tpm) => tpmQuoteEvidence(tpm, this.#akHandle, nonce, 'base64'));
  }

  /** Extends PCR8 with the init-data digest (32 bytes), which the verifier replays from zero. */
  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    return bindInitDataPcr(this.#device, digest);
  }
}
