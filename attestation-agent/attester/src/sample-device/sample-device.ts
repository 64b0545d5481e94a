import type { Attester, AttesterDeps } from '../attester.js';
import { attesterError } from '../errors.js';

/** Evidence of the sample device TEE (trustee `SampleDeviceEvidence`). */
export interface SampleDeviceEvidence {
  /** The sample device always reports "2". */
  svn: string;
  /** base64 (standard) of the device runtime-data digest, unpadded. */
  report_data: string;
}

/**
 * The sample device attester: an additional (device) TEE with no hardware, for testing the
 * composite-evidence path (`additional_evidence`) without a GPU. Enabled like guest-components
 * does it: by the `ENABLE_SAMPLE_DEVICE` environment variable.
 */
export class SampleDeviceAttester implements Attester {
  readonly tee = 'sampledevice' as const;

  constructor(_config: Record<string, never> = {}, _deps: AttesterDeps = {}) {}

  async getEvidence(reportData: Uint8Array): Promise<SampleDeviceEvidence> {
    if (reportData.length > 64) {
      throw attesterError('ATTESTER_REPORT_DATA_TOO_LONG', `Cannot bind report data: ${reportData.length} bytes exceed the 64-byte field`);
    }
    return { svn: '2', report_data: Buffer.from(reportData).toString('base64') };
  }
}

/** Present when `ENABLE_SAMPLE_DEVICE` is set (guest-components checks only that it exists). */
export async function detectSampleDevice(deps: AttesterDeps): Promise<boolean> {
  return (deps.env ?? process.env)['ENABLE_SAMPLE_DEVICE'] !== undefined;
}
