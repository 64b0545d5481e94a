import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KccError } from '@kata-cc/errors';

/** The N-API addon (native/vsock.c): the few syscalls Node lacks. */
export interface NativeAddon {
  /** socket(AF_VSOCK) + bind(cid, port) + listen; the listening fd and an eventfd for cancel(). */
  listen(cid: number, port: number): { fd: number; wake: number };
  /** Waits (thread pool) for a connection or cancel(wake); calls back with the connected fd. */
  accept(fd: number, wake: number, cb: (err: Error | null, fd: number) => void): void;
  /** Ends the pending accept on the listener whose eventfd is `wake` (errno ECANCELED). */
  cancel(wake: number): void;
  /** Blocking connect on the thread pool (the kernel's vsock connect timeout applies, 2 s by default). */
  connect(cid: number, port: number, cb: (err: Error | null, fd: number) => void): void;
  /** shutdown + close. */
  close(fd: number): void;
  /** A pseudo-terminal pair (posix_openpt) for the guest agent's terminal processes. */
  openpty(): { master: number; slave: string };
  /** ioctl(TIOCSWINSZ). */
  setWinsize(fd: number, rows: number, cols: number): void;
}

/** Where the guest image installs the addon (guest-components/image-builder). */
export const GUEST_ADDON_PATH = '/opt/kata-cc/native/vsock.node';

/** The node-gyp output of this package (built by its npm `install` script). */
export function builtAddonPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../build/Release/vsock.node');
}

let loaded: NativeAddon | undefined;

/**
 * Loads the addon: `KATA_CC_VSOCK_ADDON`, then the guest image's path, then this package's
 * build. In the guest the code is an esbuild bundle, so the package path does not exist there.
 */
export function loadNativeAddon(): NativeAddon {
  if (loaded) return loaded;
  const candidates = [process.env['KATA_CC_VSOCK_ADDON'] ?? '', GUEST_ADDON_PATH, builtAddonPath()];
  const file = candidates.find((p) => p !== '' && existsSync(p));
  if (file === undefined) {
    throw new KccError({
      kind: 'FAILED_PRECONDITION',
      code: 'VSOCK_ADDON_MISSING',
      message: 'The AF_VSOCK addon is not built: run `npm install` (or `npm rebuild @kata-cc/vsock`) at the repository root; it needs python3, make and a C compiler',
    });
  }
  loaded = createRequire(import.meta.url)(file) as NativeAddon;
  return loaded;
}
