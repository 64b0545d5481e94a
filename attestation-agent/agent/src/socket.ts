import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { aaError } from './errors.js';

/** The filesystem path of a `unix://` socket address (a bare path is accepted too). */
export function unixSocketPath(address: string): string {
  const p = address.startsWith('unix://') ? address.slice('unix://'.length) : address;
  if (!path.isAbsolute(p)) throw aaError('AA_INVALID_CONFIG', `Invalid socket address "${address}": expected unix:///absolute/path`);
  return p;
}

/** Creates the socket's directory and removes a stale socket file left by a previous run. */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  try {
    const st = await stat(socketPath);
    // SECURITY: only ever delete a socket, never a regular file someone pointed us at.
    if (!st.isSocket()) throw aaError('AA_INVALID_CONFIG', `Cannot listen on "${socketPath}": a non-socket file exists there`);
    await rm(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
