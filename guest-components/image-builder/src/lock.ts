import { open, rm, stat } from 'node:fs/promises';

/**
 * A cross-process lock file (O_EXCL create): builds of the same cache (tests running in
 * parallel, the runtime and a developer) share downloads, the extracted kernel and the vsock
 * addon, so they run one at a time. A lock older than `staleMs` is taken over (crashed build).
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, staleMs = 15 * 60_000): Promise<T> {
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > staleMs) await rm(file, { force: true });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
