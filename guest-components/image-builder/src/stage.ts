import { chmod, copyFile, mkdir, readdir, symlink, writeFile, lstat, utimes, lutimes } from 'node:fs/promises';
import path from 'node:path';
import { run } from './exec.js';

/** Copies a host file into the staging root at the same path (or `dest`), mode kept. */
export async function put(root: string, src: string, dest = src, mode?: number): Promise<void> {
  const to = path.join(root, dest);
  await mkdir(path.dirname(to), { recursive: true });
  await copyFile(src, to);
  await chmod(to, mode ?? (await lstat(src)).mode & 0o7777);
}

export async function putText(root: string, dest: string, text: string, mode = 0o644): Promise<void> {
  const to = path.join(root, dest);
  await mkdir(path.dirname(to), { recursive: true });
  await writeFile(to, text);
  await chmod(to, mode);
}

/** The shared libraries a dynamic ELF needs, from ldd (host glibc of the build machine). */
export async function sharedLibs(bin: string): Promise<string[]> {
  const out = (await run('ldd', [bin])).toString();
  return [...out.matchAll(/(\/[^\s]+)\s+\(0x/g)].map((m) => m[1] as string);
}

/** Copies a dynamic binary and its libraries (resolved through symlinks) into the root. */
export async function putBinary(root: string, bin: string, dest = bin): Promise<void> {
  await put(root, bin, dest, 0o755);
  for (const lib of await sharedLibs(bin)) await put(root, lib, lib, 0o755);
}

/** busybox and one symlink per applet (bin/), so /bin/sh, mount, ip, switch_root... exist. */
export async function putBusybox(root: string): Promise<void> {
  await put(root, '/bin/busybox', '/bin/busybox', 0o755);
  const applets = (await run('/bin/busybox', ['--list'])).toString().split('\n').filter(Boolean).sort();
  for (const a of applets) {
    if (a === 'busybox') continue;
    await symlink('busybox', path.join(root, 'bin', a)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  await mkdir(path.join(root, 'sbin'), { recursive: true });
  await symlink('../bin/busybox', path.join(root, 'sbin', 'init')).catch(() => undefined);
}

export async function mkdirs(root: string, dirs: string[]): Promise<void> {
  for (const d of dirs) await mkdir(path.join(root, d), { recursive: true });
}

/** Every mtime to the epoch: the images must not depend on when the build ran. */
export async function zeroTimes(root: string): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isDirectory()) for (const e of await readdir(p)) await walk(path.join(p, e));
    if (st.isSymbolicLink()) await lutimes(p, 0, 0);
    else await utimes(p, 0, 0);
  };
  await walk(root);
}

/** A reproducible newc cpio (sorted names, zero times, root owner), uncompressed: under TCG the
 * kernel unpacks a plain cpio faster than it gunzips one. */
export async function cpio(root: string, out: string): Promise<void> {
  await zeroTimes(root);
  const names = (await run('find', ['.', '-mindepth', '1'], { cwd: root })).toString().split('\n').filter(Boolean).sort();
  const data = await run('cpio', ['-o', '-H', 'newc', '--quiet', '--reproducible', '-R', '0:0'], { cwd: root, input: names.join('\n') + '\n' });
  await writeFile(out, data);
}
