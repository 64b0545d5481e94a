import { isKccError } from '@kata-cc/errors';
import type { KbsClient } from '@kata-cc/kbs-client';
import type { Logger } from '@kata-cc/log';
import type { AaTokenSource } from '../aa-token.js';
import { cdhError } from '../errors.js';
import type { ResourceGetter } from './resource-getter.js';

/**
 * `cc_kbc`: resources from the KBS over HTTP(S) with `Authorization: Bearer <token>`, the token
 * and TEE key coming from the attestation agent (guest-components' CDH passport mode).
 */
export class CcKbc implements ResourceGetter {
  readonly #config: { url: string; cert?: string };
  readonly #deps: { aa: AaTokenSource; logger: Logger };
  #client: Promise<KbsClient> | undefined;

  constructor(config: { url: string; cert?: string }, deps: { aa: AaTokenSource; logger: Logger }) {
    this.#config = config;
    this.#deps = deps;
  }

  /** The KBS client (HTTP, JOSE) is loaded on the first request, keeping the CDH's start light. */
  #kbs(): Promise<KbsClient> {
    this.#client ??= import('@kata-cc/kbs-client').then(({ KbsClient }) => new KbsClient(
      { url: this.#config.url, ...(this.#config.cert === undefined ? {} : { cert: this.#config.cert }) },
      { tokenSource: () => this.#deps.aa.getToken(), logger: this.#deps.logger },
    ));
    return this.#client;
  }

  async getResource(uri: string): Promise<Uint8Array> {
    try {
      return await (await this.#kbs()).getResource(uri);
    } catch (err) {
      if (isKccError(err) && err.code === 'KBC_RESOURCE_NOT_FOUND') throw cdhError('CDH_RESOURCE_NOT_FOUND', `Resource ${uri} not found in the KBS`, { cause: err });
      // Other KBS client errors keep their code and kind (policy denial is PERMISSION_DENIED,
      // an unreachable KBS UNAVAILABLE, ...), so callers can tell them apart.
      if (isKccError(err) && (err.code.startsWith('KBC_') || err.code.startsWith('CDH_'))) throw err;
      throw cdhError('CDH_RESOURCE_FAILED', `Cannot get resource ${uri} from the KBS: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.#deps.aa.close();
    if (this.#client !== undefined) await (await this.#client).close();
  }
}
