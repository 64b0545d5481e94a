import { isKccError } from '@kata-cc/errors';
import { KbsClient } from '@kata-cc/kbs-client';
import type { Logger } from '@kata-cc/log';
import type { AaTokenSource } from '../aa-token.js';
import { cdhError } from '../errors.js';
import type { ResourceGetter } from './resource-getter.js';

/**
 * `cc_kbc`: resources from the KBS over HTTP(S) with `Authorization: Bearer <token>`, the token
 * and TEE key coming from the attestation agent (guest-components' CDH passport mode).
 */
export class CcKbc implements ResourceGetter {
  readonly #client: KbsClient;
  readonly #aa: AaTokenSource;

  constructor(config: { url: string; cert?: string }, deps: { aa: AaTokenSource; logger: Logger }) {
    this.#aa = deps.aa;
    this.#client = new KbsClient(
      { url: config.url, ...(config.cert === undefined ? {} : { cert: config.cert }) },
      { tokenSource: () => deps.aa.getToken(), logger: deps.logger },
    );
  }

  async getResource(uri: string): Promise<Uint8Array> {
    try {
      return await this.#client.getResource(uri);
    } catch (err) {
      if (isKccError(err) && err.code === 'KBC_RESOURCE_NOT_FOUND') throw cdhError('CDH_RESOURCE_NOT_FOUND', `Resource ${uri} not found in the KBS`, { cause: err });
      if (isKccError(err) && (err.code === 'KBC_INVALID_RESOURCE_URI' || err.code.startsWith('CDH_'))) throw err;
      throw cdhError('CDH_RESOURCE_FAILED', `Cannot get resource ${uri} from the KBS: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.#aa.close();
    await this.#client.close();
  }
}
