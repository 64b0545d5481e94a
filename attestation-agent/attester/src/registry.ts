import type { Attester, AttesterDeps, DetectPlatform } from './attester.js';
import { attesterError } from './errors.js';
import { SampleAttester } from './sample/sample.js';
import { SampleDeviceAttester, detectSampleDevice } from './sample-device/sample-device.js';
import { AzSnpVtpmAttester, detectAzSnpVtpm } from './az-snp-vtpm/az-snp-vtpm.js';
import { AzTdxVtpmAttester, detectAzTdxVtpm } from './az-tdx-vtpm/az-tdx-vtpm.js';
import { SeAttester, detectSe } from './se/se.js';
import { SnpAttester, detectSnp } from './snp/snp.js';
import { TdxAttester, detectTdx } from './tdx/tdx.js';
import { TpmAttester, detectTpm } from './tpm/tpm.js';
import type { Tee } from './tee.js';

/** Settings for the attesters `createAttester` builds (the AA passes them from its config). */
export interface AttesterConfig {
  /**
   * Azure instance metadata service base URL for az-snp-vtpm / az-tdx-vtpm (VCEK, TD quotes).
   * Default: env `AA_AZURE_IMDS_URL`, else http://169.254.169.254 (guest-components has no
   * such setting: its IMDS address is fixed).
   */
  imdsUrl?: string;
}

/**
 * Creates the attester for `tee`. The one place that maps a TEE name to an implementation:
 * the switch is exhaustive over `Tee`, so a new TEE name breaks the build until it has a case.
 */
export function createAttester(tee: Tee, deps: AttesterDeps = {}, config: AttesterConfig = {}): Attester {
  const azure = config.imdsUrl === undefined ? {} : { imdsUrl: config.imdsUrl };
  switch (tee) {
    case 'sample':
      return new SampleAttester({}, deps);
    case 'tpm':
      return new TpmAttester({}, deps);
    case 'tdx':
      return new TdxAttester({}, deps);
    case 'snp':
      return new SnpAttester({}, deps);
    case 'az-snp-vtpm':
      return new AzSnpVtpmAttester(azure, deps);
    case 'az-tdx-vtpm':
      return new AzTdxVtpmAttester(azure, deps);
    case 'sampledevice':
      return new SampleDeviceAttester({}, deps);
    case 'se':
      return new SeAttester({}, deps);
    case 'sgx':
    case 'cca':
    case 'csv':
    case 'nvidia':
    case 'hygondcu':
    case 'nvidiadpu':
      throw attesterError('ATTESTER_UNSUPPORTED_TEE', `Cannot create an attester for TEE "${tee}": this build has no ${tee} attester`, {
        details: { tee },
      });
  }
}

/**
 * Platform probes in guest-components' detection order (tdx → sgx → az-tdx-vtpm → az-snp-vtpm →
 * snp → csv → cca → se → tpm), restricted to the TEEs this build has attesters for. The Azure
 * vTPM probes run before `snp` because an Azure CVM also exposes SNP devices to the paravisor.
 */
const PROBES: ReadonlyArray<readonly [Tee, DetectPlatform]> = [
  ['tdx', detectTdx],
  ['az-tdx-vtpm', detectAzTdxVtpm],
  ['az-snp-vtpm', detectAzSnpVtpm],
  ['snp', detectSnp],
  ['se', detectSe],
  ['tpm', detectTpm],
];

export interface DetectTeeOptions {
  /**
   * Return `sample` when no TEE is found instead of failing. Development only: production
   * configurations leave it false so that a guest without a TEE never attests as `sample`.
   */
  allowSample?: boolean;
}

/** The TEEs that `detectTee()` probes, in order. */
export function probedTees(): Tee[] {
  return PROBES.map(([tee]) => tee);
}

/**
 * Detects the primary TEE of this machine. Throws `ATTESTER_NO_TEE_DETECTED` when none is
 * found, unless `allowSample` is set; then it returns `sample` and logs a warning.
 */
export async function detectTee(options: DetectTeeOptions = {}, deps: AttesterDeps = {}): Promise<Tee> {
  for (const [tee, probe] of PROBES) {
    if (await probe(deps)) return tee;
  }
  // SECURITY: never fall back to the sample TEE silently; it has no hardware root of trust.
  if (options.allowSample === true) {
    deps.logger?.warn({ probed: probedTees() }, 'No TEE detected: using the SAMPLE attester (development only, evidence has no hardware root of trust)');
    return 'sample';
  }
  throw attesterError('ATTESTER_NO_TEE_DETECTED', 'Cannot detect a TEE on this machine: no attester found its platform (allow the sample TEE, e.g. --allow-sample, for development only)', {
    details: { probed: probedTees() },
  });
}

/** Device TEE probes (guest-components' additional attesters), in the order evidence is listed. */
const DEVICE_PROBES: ReadonlyArray<readonly [Tee, DetectPlatform]> = [['sampledevice', detectSampleDevice]];

/**
 * Detects the additional (device) TEEs whose evidence goes into `additional_evidence` next to
 * the primary TEE's, e.g. `sampledevice` when ENABLE_SAMPLE_DEVICE is set.
 */
export async function detectAdditionalTees(deps: AttesterDeps = {}): Promise<Tee[]> {
  const found: Tee[] = [];
  for (const [tee, probe] of DEVICE_PROBES) if (await probe(deps)) found.push(tee);
  return found;
}
