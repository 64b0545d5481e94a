/**
 * TPM PCR operations shared by every attester backed by a TPM (tpm, az-snp-vtpm, az-tdx-vtpm):
 * init-data bound into PCR 8 and runtime measurements extended into the SHA-256 bank, as
 * guest-components does for its TPM and Azure vTPM attesters (`extend_pcr`, `pcr_to_ccmr` = the
 * PCR itself, `ccel_hash_algorithm` = SHA-256). Each call opens the device and closes it again.
 */
import { createHash } from 'node:crypto';
import type { InitDataBinding, RuntimeMeasurement } from '../attester.js';
import { attesterError } from '../errors.js';
import { openTransport, Tpm2 } from '../common/tpm2.js';

export const INITDATA_PCR = 8;
const PCR_COUNT = 24;

/** Runs `fn` with a TPM session on `device` (`/dev/tpmrm0` or `tcp://host:port`). */
export async function withTpmDevice<T>(device: string, fn: (tpm: Tpm2) => Promise<T>): Promise<T> {
  const tpm = new Tpm2(await openTransport(device));
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

/**
 * Extends PCR 8 with the init-data digest (zero-padded or truncated to 32 bytes), which the
 * verifier replays from zero. Idempotent across AA restarts; refuses a PCR 8 holding anything else.
 */
export async function bindInitDataPcr(device: string, digest: Uint8Array): Promise<InitDataBinding> {
  const d = new Uint8Array(32);
  d.set(digest.subarray(0, 32));
  await withTpmDevice(device, async (tpm) => {
    // SECURITY: PCR 8 must still be zero, or the verifier's replay from zero cannot match.
    const cur = (await tpm.pcrRead([INITDATA_PCR])).get(INITDATA_PCR)!;
    if (!cur.equals(Buffer.alloc(32))) {
      const want = createHash('sha256').update(Buffer.alloc(32)).update(d).digest();
      if (cur.equals(want)) return; // already bound (AA restart)
      throw attesterError('ATTESTER_INITDATA_MISMATCH', `PCR${INITDATA_PCR} already holds another value; init-data cannot be bound`);
    }
    await tpm.pcrExtend(INITDATA_PCR, d);
  });
  return 'extended';
}

function checkPcr(pcr: number): void {
  if (!Number.isInteger(pcr) || pcr < 0 || pcr >= PCR_COUNT) throw attesterError('ATTESTER_INVALID_ARGUMENT', `Invalid PCR index ${pcr} (0-${PCR_COUNT - 1})`);
}

/** Runtime measurement into the TPM's SHA-256 PCRs; the CC register number is the PCR itself. */
export class TpmPcrMeasurement implements RuntimeMeasurement {
  readonly algorithm = 'sha256' as const;
  readonly #device: string;

  constructor(device: string) {
    this.#device = device;
  }

  ccmrForPcr(pcr: number): number {
    return pcr;
  }

  async extend(digest: Uint8Array, pcr: number): Promise<void> {
    checkPcr(pcr);
    if (digest.length !== 32) throw attesterError('ATTESTER_INVALID_ARGUMENT', `Cannot extend a PCR with a ${digest.length}-byte digest (SHA-256 expected)`);
    try {
      await withTpmDevice(this.#device, (tpm) => tpm.pcrExtend(pcr, digest));
    } catch (cause) {
      throw attesterError('ATTESTER_MEASUREMENT_FAILED', `Cannot extend PCR${pcr}`, { cause });
    }
  }

  async read(pcr: number): Promise<Uint8Array> {
    checkPcr(pcr);
    try {
      return new Uint8Array((await withTpmDevice(this.#device, (tpm) => tpm.pcrRead([pcr]))).get(pcr)!);
    } catch (cause) {
      throw attesterError('ATTESTER_MEASUREMENT_FAILED', `Cannot read PCR${pcr}`, { cause });
    }
  }
}
