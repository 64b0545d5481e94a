import { cdhError } from '../errors.js';
import type { ResourceGetter } from '../kbc/resource-getter.js';
import type { Decrypter } from './decrypter.js';
import { KbsDecrypter } from './kbs/kbs.js';

/** KMS providers a sealed secret may name (guest-components `kms::new_decryptor` plus `kbs`). */
export type KmsProvider = 'kbs' | 'aliyun' | 'ehsm' | 'aws';

/** Creates the Decrypter of `provider` (one exhaustive switch). */
export function createDecrypter(provider: string, deps: { resources: ResourceGetter }): Decrypter {
  const p = provider as KmsProvider;
  switch (p) {
    case 'kbs':
      return new KbsDecrypter(deps.resources);
    case 'aliyun':
    case 'ehsm':
    case 'aws':
      throw cdhError('CDH_UNSUPPORTED', `KMS provider "${p}" is not built into this CDH: seal envelopes with provider "kbs" or use a vault secret`);
    default:
      throw cdhError('CDH_UNKNOWN_PROVIDER', `Unknown KMS provider "${provider}"`);
  }
}
