import { createHash } from 'node:crypto';
import type { Attester, AttesterDeps, RuntimeMeasurement } from '../attester.js';
import { attesterError } from '../errors.js';

/** The evidence of the sample TEE, as trustee's sample verifier parses it (`SampleTeeEvidence`). */
export interface SampleEvidence {
  /** Security version number; the sample attester always reports "1". */
  svn: string;
  /** base64 (standard, padded) of the report data exactly as given, not padded. */
  report_data: string;
}

/** The largest report data the sample TEE accepts: a SHA-512 digest, like the biggest real field. */
export const SAMPLE_REPORT_DATA_MAX = 64;

/**
 * Software measurement registers for the sample TEE: 24 SHA-384 registers in memory, extended
 * the way RTMRs are (`new = H(old || digest)`). They make the AA's event log testable without
 * hardware; nothing binds them to evidence.
 */
class SampleRegisters implements RuntimeMeasurement {
  readonly algorithm = 'sha384' as const;
  readonly #registers = new Map<number, Uint8Array>();

  ccmrForPcr(pcr: number): number {
    return checkPcr(pcr);
  }

  async extend(digest: Uint8Array, pcr: number): Promise<void> {
    checkPcr(pcr);
    if (digest.length !== 48) {
      throw attesterError('ATTESTER_INVALID_ARGUMENT', `Cannot extend a sha384 register with a ${digest.length}-byte digest`);
    }
    const old = this.#registers.get(pcr) ?? new Uint8Array(48);
    this.#registers.set(pcr, new Uint8Array(createHash('sha384').update(old).update(digest).digest()));
  }

  async read(pcr: number): Promise<Uint8Array> {
    checkPcr(pcr);
    return new Uint8Array(this.#registers.get(pcr) ?? new Uint8Array(48));
  }
}

function checkPcr(pcr: number): number {
  if (!Number.isInteger(pcr) || pcr < 0 || pcr > 23) {
    throw attesterError('ATTESTER_INVALID_ARGUMENT', `Invalid PCR index ${pcr}: expected 0..23`);
  }
  return pcr;
}

/**
 * The sample attester: evidence with no hardware behind it, for development and tests only.
 * Trustee's default policies refuse it, and so do ours unless the KBS runs with `--allow-sample`.
 */
export class SampleAttester implements Attester {
  readonly tee = 'sample' as const;
  readonly runtimeMeasurement: RuntimeMeasurement = new SampleRegisters();

  constructor(_config: Record<string, never> = {}, _deps: AttesterDeps = {}) {}

  async getEvidence(reportData: Uint8Array): Promise<SampleEvidence> {
    if (reportData.length > SAMPLE_REPORT_DATA_MAX) {
      throw attesterError('ATTESTER_REPORT_DATA_TOO_LONG', `Cannot bind report data: ${reportData.length} bytes exceed the ${SAMPLE_REPORT_DATA_MAX}-byte field`, {
        details: { length: reportData.length, size: SAMPLE_REPORT_DATA_MAX },
      });
    }
    // The sample verifier compares the decoded value with the unpadded digest, so no padding.
    return { svn: '1', report_data: Buffer.from(reportData).toString('base64') };
  }
}

/** The sample TEE is "present" everywhere; the registry only picks it when asked to. */
export async function detectSample(_deps: AttesterDeps): Promise<boolean> {
  return true;
}
