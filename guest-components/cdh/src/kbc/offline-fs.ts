import { readFile } from 'node:fs/promises';
import { cdhError } from '../errors.js';
import type { ResourceGetter } from './resource-getter.js';

/** Where guest-components' offline_fs_kbc reads its resources. */
export const OFFLINE_FS_RESOURCES = '/etc/aa-offline_fs_kbc-resources.json';

/**
 * `offline_fs_kbc`: resources from a local JSON file `{"<repo>/<type>/<tag>": "<base64>"}`
 * (guest-components), for guests provisioned without a KBS. No attestation is involved.
 */
export class OfflineFsKbc implements ResourceGetter {
  readonly #file: string;

  constructor(config: { file?: string } = {}) {
    this.#file = config.file ?? OFFLINE_FS_RESOURCES;
  }

  async getResource(uri: string): Promise<Uint8Array> {
    const { parseResourceUri } = await import('@kata-cc/kbs-client');
    const key = parseResourceUri(uri).segments.join('/');
    let map: Record<string, unknown>;
    try {
      map = JSON.parse(await readFile(this.#file, 'utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw cdhError('CDH_RESOURCE_FAILED', `Cannot read offline resources from ${this.#file}`, { cause });
    }
    const value = Object.hasOwn(map, key) ? map[key] : undefined;
    if (typeof value !== 'string') throw cdhError('CDH_RESOURCE_NOT_FOUND', `Resource ${uri} not found in ${this.#file}`);
    return Buffer.from(value, 'base64');
  }

  async close(): Promise<void> {}
}
