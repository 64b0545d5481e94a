import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cdhError } from './errors.js';
import type { ResourceGetter } from './kbc/resource-getter.js';

/**
 * Fetches `[[credentials]]` at start (guest-components `init_kbs_resources`): each resource is
 * written to its `path`, which must lie under `baseDir` (default CREDENTIALS_DIR). Files are
 * written to a temporary name and renamed, so a reader never sees half a credential.
 */
export async function provisionCredentials(
  credentials: ReadonlyArray<{ resourceUri: string; path: string }>,
  resources: ResourceGetter,
  baseDir: string,
): Promise<void> {
  const base = path.resolve(baseDir);
  for (const c of credentials) {
    const target = path.resolve(c.path);
    // SECURITY: credential files only ever land inside the CDH's credentials directory.
    if (!target.startsWith(base + path.sep)) {
      throw cdhError('CDH_CREDENTIAL_PATH', `Invalid credential path "${c.path}": it must be under ${base}`);
    }
    const data = await resources.getResource(c.resourceUri);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, target);
  }
}
