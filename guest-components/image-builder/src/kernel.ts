import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { run } from './exec.js';

export interface ExtractedKernel {
  /** Uncompressed ELF vmlinux: QEMU boots it through the PVH entry point (no in-guest XZ). */
  vmlinux: string;
  /** The bzImage as shipped (for firmware boots, e.g. TDX/SNP with OVMF). */
  bzImage: string;
  /** lib/modules/<release> of the package. */
  modulesDir: string;
}

/** `dpkg -x` the kernel package (no root needed) and pull the ELF vmlinux out of the bzImage. */
export async function extractKernel(deb: string, release: string, workDir: string): Promise<ExtractedKernel> {
  const root = path.join(workDir, 'kernel-pkg');
  const vmlinux = path.join(workDir, 'vmlinux');
  const modulesDir = path.join(root, 'lib', 'modules', release);
  const bzImage = path.join(root, 'boot', `vmlinuz-${release}`);
  if (!existsSync(modulesDir)) {
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    await run('dpkg', ['-x', deb, root]);
  }
  if (!existsSync(bzImage)) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'IMGB_KERNEL_LAYOUT', message: `No boot/vmlinuz-${release} in ${path.basename(deb)}` });
  }
  if (!existsSync(vmlinux)) await writeFile(vmlinux, await vmlinuxFromBzImage(await readFile(bzImage)));
  return { vmlinux, bzImage, modulesDir };
}

/**
 * Debian builds with CONFIG_KERNEL_XZ: the bzImage embeds one XZ stream holding the ELF vmlinux.
 * `xz --single-stream` stops at the end of that stream and ignores the trailer after it.
 */
export async function vmlinuxFromBzImage(bz: Buffer): Promise<Buffer> {
  const at = bz.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (at < 0) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'IMGB_KERNEL_FORMAT', message: 'No XZ stream in the bzImage' });
  const elf = await run('xz', ['-dc', '--single-stream'], { input: bz.subarray(at) });
  if (elf.readUInt32BE(0) !== 0x7f454c46) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'IMGB_KERNEL_FORMAT', message: 'The decompressed kernel is not an ELF file' });
  }
  return elf;
}

/** Resolves modules + their dependencies (modinfo; the package has no modules.dep) in load order. */
export async function resolveModules(modulesDir: string, wanted: string[]): Promise<{ name: string; file: string }[]> {
  const index = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.name.endsWith('.ko')) index.set(e.name.slice(0, -3).replaceAll('-', '_'), full);
    }
  };
  await walk(path.join(modulesDir, 'kernel'));
  const builtin = (await readFile(path.join(modulesDir, 'modules.builtin'), 'utf8')).split('\n')
    .map((l) => path.basename(l, '.ko').replaceAll('-', '_'));
  const order: { name: string; file: string }[] = [];
  const seen = new Set<string>();
  const add = async (name: string): Promise<void> => {
    const n = name.replaceAll('-', '_');
    if (seen.has(n)) return;
    seen.add(n);
    const file = index.get(n);
    if (!file) {
      if (builtin.includes(n)) return;
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'IMGB_MODULE_MISSING', message: `Kernel module ${n} is neither a module nor built in` });
    }
    const deps = (await run('modinfo', ['-F', 'depends', file])).toString().trim();
    for (const d of deps.split(',').filter(Boolean)) await add(d);
    order.push({ name: n, file });
  };
  for (const m of wanted) await add(m);
  return order;
}
