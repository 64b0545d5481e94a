import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { installerError } from '../errors.js';

/** Polls until containerd (or `what`) accepts connections on its socket (after a (re)start). */
export async function waitForSocket(socket: string, timeoutMs = 60_000, what: 'containerd' | 'kata-cc-snapshotter' = 'containerd'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(socket);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) {
      if (what === 'kata-cc-snapshotter') throw installerError('INST_SNAPSHOTTER_START_FAILED', `kata-cc-snapshotter did not accept connections on ${socket} within ${timeoutMs / 1000} s after it was started`);
      throw installerError('INST_CONTAINERD_NOT_READY', `containerd did not accept connections on ${socket} within ${timeoutMs / 1000} s after the restart`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * containerd's major version from the host binary (`containerd --version`), only needed when
 * the node has no configuration file to read the schema from. Returns null if none runs.
 */
export async function detectContainerdMajor(root: string): Promise<number | null> {
  for (const dir of ['usr/local/bin', 'usr/bin', 'bin']) {
    const bin = path.join(root, dir, 'containerd');
    if (!existsSync(bin)) continue;
    const out = await new Promise<string>((resolve) => execFile(bin, ['--version'], { timeout: 10_000 }, (err, stdout) => resolve(err ? '' : stdout)));
    const m = /\s v?(\d+)\.(\d+)/.exec(out);
    if (m?.[1] !== undefined) return Number(m[1]);
  }
  return null;
}

/** Parses a --containerd-version value such as "1.7", "2", "v2.1.4". */
export function parseContainerdMajor(value: string): number {
  const m = /^v?(\d+)(\.\d+)*(\S*)$/.exec(value.trim());
  if (m?.[1] === undefined) throw installerError('INST_BAD_ARGUMENT', `--containerd-version must look like 1.7 or 2.1, got ${JSON.stringify(value)}`);
  return Number(m[1]);
}
