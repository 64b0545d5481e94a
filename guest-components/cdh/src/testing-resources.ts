import { cdhError } from './errors.js';
import type { ResourceGetter } from './kbc/resource-getter.js';

/**
 * An in-memory ResourceGetter for unit tests of the CDH's own logic (sealed secrets, key
 * unwrapping). The KBS path itself is tested against the real KBS in tests/src/kbs-guest.test.ts.
 */
export class MapResources implements ResourceGetter {
  readonly map = new Map<string, Uint8Array>();
  readonly requested: string[] = [];

  set(uri: string, data: Uint8Array | string): this {
    this.map.set(uri, typeof data === 'string' ? Buffer.from(data) : data);
    return this;
  }

  async getResource(uri: string): Promise<Uint8Array> {
    this.requested.push(uri);
    const v = this.map.get(uri);
    if (v === undefined) throw cdhError('CDH_RESOURCE_NOT_FOUND', `Resource ${uri} not found`);
    return v;
  }

  async close(): Promise<void> {}
}
