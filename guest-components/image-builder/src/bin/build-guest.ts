import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createLogger } from '@kata-cc/log';
import { buildGuest } from '../build.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const program = new Command('kata-cc-build-guest')
  .description('Build the guest image: PVH vmlinux, initramfs, erofs rootfs with dm-verity, kernel command line fragment')
  .option('--out <dir>', 'write the image here instead of the cache (~/.cache/kata-cc/guest/<input-hash>)')
  .option('--cache <dir>', 'cache root (downloads, kernel, images)')
  .option('--kernel-deb <file>', 'use this linux-image .deb instead of downloading the pinned one')
  .option('--kernel <file>', 'ship this kernel image (e.g. a TDX/SNP-enabled vmlinux) instead of the Debian one')
  .option('--force', 'rebuild even when the cache has the same inputs')
  .option('--json', 'print the manifest as JSON')
  .action(async (o: { out?: string; cache?: string; kernelDeb?: string; kernel?: string; force?: boolean; json?: boolean }) => {
    const logger = createLogger('build-guest', { level: process.env['KATA_CC_LOG_LEVEL'] ?? 'warn' });
    const image = await buildGuest({
      repo,
      ...(o.out ? { outDir: path.resolve(o.out) } : {}),
      ...(o.cache ? { cacheDir: path.resolve(o.cache) } : {}),
      ...(o.kernelDeb ? { kernelDeb: path.resolve(o.kernelDeb) } : {}),
      ...(o.kernel ? { kernelImage: path.resolve(o.kernel) } : {}),
      force: o.force === true,
      logger,
      onProgress: (s) => { if (!o.json) process.stderr.write(`build-guest: ${s}\n`); },
    });
    if (o.json) process.stdout.write(JSON.stringify(image, null, 2) + '\n');
    else process.stdout.write(`${image.dir}\nkernel command line: ${image.cmdline}\n`);
  });
program.parseAsync().catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`build-guest: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
  process.exit(1);
});
