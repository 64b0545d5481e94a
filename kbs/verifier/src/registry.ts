import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import { AzSnpVtpmVerifier, type AzSnpVtpmVerifierConfig } from './az-snp-vtpm/az-snp-vtpm-verifier.js';
import { AzTdxVtpmVerifier, type AzTdxVtpmVerifierConfig } from './az-tdx-vtpm/az-tdx-vtpm-verifier.js';
import { SampleVerifier } from './sample/sample-verifier.js';
import { SeVerifier, type SeVerifierConfig } from './se/se-verifier.js';
import { SnpVerifier, type SnpVerifierConfig } from './snp/snp-verifier.js';
import { TdxVerifier, type TdxVerifierConfig } from './tdx/tdx-verifier.js';
import { TpmVerifier, type TpmVerifierConfig } from './tpm/tpm-verifier.js';
import type { Verifier, VerifierConfig } from './verifier.js';

/**
 * The one place that maps a TEE name to its verifier. Exhaustive: adding a TEE to kbs-types
 * fails compilation here until it is handled.
 */
export function createVerifier(tee: Tee, config: VerifierConfig = {}): Verifier {
  switch (tee) {
    case 'sample':
    case 'sampledevice':
      // SECURITY: sample evidence has no hardware root of trust; only dev mode may accept it.
      if (config.allowSample !== true) {
        throw new KccError({
          kind: 'PERMISSION_DENIED',
          code: 'VERIFIER_SAMPLE_DISABLED',
          message: `Evidence from the "${tee}" TEE is refused: it proves nothing; start the KBS with --allow-sample (dev mode) to accept it`,
          details: { tee },
        });
      }
      return new SampleVerifier(tee);
    case 'tdx':
      return new TdxVerifier(config.tees?.tdx as TdxVerifierConfig | undefined);
    case 'snp':
      return new SnpVerifier(config.tees?.snp as SnpVerifierConfig | undefined);
    case 'se':
      return new SeVerifier(config.tees?.se as SeVerifierConfig | undefined);
    case 'az-snp-vtpm':
      return new AzSnpVtpmVerifier(config.tees?.['az-snp-vtpm'] as AzSnpVtpmVerifierConfig | undefined);
    case 'az-tdx-vtpm':
      return new AzTdxVtpmVerifier(config.tees?.['az-tdx-vtpm'] as AzTdxVtpmVerifierConfig | undefined);
    case 'tpm':
      return new TpmVerifier(config.tees?.tpm as TpmVerifierConfig | undefined);
    case 'sgx':
    case 'cca':
    case 'csv':
    case 'hygondcu':
    case 'nvidia':
    case 'nvidiadpu':
      return unsupported(tee);
    default: {
      const never: never = tee;
      return unsupported(never);
    }
  }
}

function unsupported(tee: string): never {
  throw new KccError({
    kind: 'NOT_IMPLEMENTED',
    code: 'VERIFIER_UNSUPPORTED_TEE',
    message: `No verifier for TEE "${tee}" in this build`,
    details: { tee },
  });
}
