import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { imgError } from './errors.js';

/**
 * Where `kbs:///repo/type/tag` URIs are read from: injected by the CDH (its KBS client after
 * attestation). image-rs never talks to the KBS itself.
 */
export interface ResourceProvider {
  getResource(uri: string): Promise<Uint8Array>;
}

/** Reads a policy, key or config from `kbs:///...` (through `resources`), `file://` or a path. */
export async function readUri(uri: string, resources: ResourceProvider | undefined, what: string): Promise<Buffer> {
  if (/^kbs(\+\w+)?:\/\//.test(uri)) {
    if (resources === undefined) throw imgError('IMG_RESOURCE_UNAVAILABLE', `${what} comes from ${uri} but no resource provider is configured`);
    try {
      return Buffer.from(await resources.getResource(uri));
    } catch (err) {
      throw imgError('IMG_RESOURCE_UNAVAILABLE', `Cannot get ${what} from ${uri}: ${(err as Error).message}`, undefined, err);
    }
  }
  const file = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
  try {
    return await readFile(file);
  } catch (err) {
    throw imgError('IMG_RESOURCE_UNAVAILABLE', `Cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, undefined, err);
  }
}
