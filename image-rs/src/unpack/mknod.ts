import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TarEntry } from './tar-header.js';

const run = promisify(execFile);

/** Node has no mknod(2); the coreutils tool makes fifos and (when allowed) device nodes. */
export async function mknod(host: string, e: TarEntry): Promise<void> {
  const kind = e.type === 'fifo' ? ['p'] : [e.type === 'chardev' ? 'c' : 'b', String(e.devmajor), String(e.devminor)];
  try {
    await run('mknod', ['-m', (e.mode & 0o7777).toString(8), host, ...kind]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw Object.assign(new Error('mknod is not installed'), { code: 'EEXISTNOT' });
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    if (stderr.includes('File exists')) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    throw err;
  }
}
