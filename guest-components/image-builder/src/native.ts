import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@kata-cc/log';
import { run } from './exec.js';

/** node-gyp as npm ships it (no download: headers come from nodedir, /usr on Debian). */
function nodeGyp(): string | undefined {
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((c) => existsSync(c));
}

/**
 * Builds the kata-agent's AF_VSOCK addon (guest-components/agent/native) when it is missing.
 * N-API keeps it ABI-compatible with the pinned Node in the guest. Without a compiler the image
 * is still built, with the virtio-serial channel only (logged).
 */
export async function ensureVsockAddon(repo: string, log: Logger): Promise<string | undefined> {
  const dir = path.join(repo, 'guest-components/agent/native');
  const out = path.join(dir, 'build/Release/vsock.node');
  if (existsSync(out)) return out;
  const gyp = nodeGyp();
  if (!gyp) {
    log.warn('node-gyp not found: the guest image gets no vsock addon');
    return undefined;
  }
  const nodedir = existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [];
  try {
    await run(process.execPath, [gyp, 'rebuild', ...nodedir], { cwd: dir });
  } catch (err) {
    log.warn({ err }, 'building the vsock addon failed: the guest image gets no vsock addon');
    return undefined;
  }
  return existsSync(out) ? out : undefined;
}
