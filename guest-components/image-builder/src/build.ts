import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '@kata-cc/log';
import { bundleComponents } from './bundle.js';
import { run } from './exec.js';
import { INITRAMFS_INIT } from './guest-files/initramfs-init.js';
import { AGENT_SH, DEFAULT_POLICY, GROUP, HOSTS, INITTAB, PASSWD, RCS, launcher } from './guest-files/rootfs-files.js';
import { kernelDeb, nodeTgz, sha256File } from './inputs.js';
import { extractKernel, resolveModules } from './kernel.js';
import { DEFAULT_PINS, EROFS_UUID, GUEST_MODULES, VERITY_SALT, VERITY_UUID, type GuestPins } from './pins.js';
import { cpio, mkdirs, put, putBinary, putBusybox, putText, zeroTimes } from './stage.js';
import { formatVerity } from './verity.js';
import { ensureTeeDevicesAddon, ensureVsockAddon } from './native.js';
import { withLock } from './lock.js';

export interface BuildGuestOptions {
  /** Repository root (bundles are made from its compiled dist/ files). */
  repo: string;
  /** Cache root; the image lands in <cacheDir>/guest/<input-hash>/. Default ~/.cache/kata-cc. */
  cacheDir?: string;
  /** Put the image exactly here instead of the cache. */
  outDir?: string;
  pins?: GuestPins;
  /** A local kernel .deb instead of downloading the pinned one. */
  kernelDeb?: string;
  /** A TDX/SNP-enabled kernel image to ship instead of the Debian vmlinux (path is copied). */
  kernelImage?: string;
  /** Rebuild even if the cache has this input hash. */
  force?: boolean;
  /** Fail when the kata-agent is not compiled (default true; false only for builder tests). */
  requireAgent?: boolean;
  logger?: Logger;
  onProgress?: (step: string) => void;
}

/** What the builder produced; manifest.json in the output directory holds the same. */
export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  rootHash: string;
  hashOffset: number;
  /** Append to the kernel command line: it carries the root hash, so measuring it measures the rootfs. */
  cmdline: string;
  inputHash: string;
  components: string[];
  pins: GuestPins;
}

const BUILDER_VERSION = 1;

export async function buildGuest(options: BuildGuestOptions): Promise<GuestImage> {
  const cacheRoot = options.cacheDir ?? path.join(homedir(), '.cache', 'kata-cc');
  await mkdir(cacheRoot, { recursive: true });
  return withLock(path.join(cacheRoot, 'build.lock'), () => buildGuestLocked(options));
}

async function buildGuestLocked(options: BuildGuestOptions): Promise<GuestImage> {
  const log = options.logger ?? silentLogger;
  const step = (s: string): void => { log.info({ step: s }, s); options.onProgress?.(s); };
  const pins = options.pins ?? DEFAULT_PINS;
  const cache = options.cacheDir ?? path.join(homedir(), '.cache', 'kata-cc');
  const downloads = path.join(cache, 'downloads');
  const work = await mkdtempIn(path.join(cache, 'work'));
  try {
    step('fetching pinned inputs');
    const deb = await kernelDeb(pins, downloads, options.kernelDeb);
    const tgz = await nodeTgz(pins, downloads);
    const kdir = path.join(cache, 'kernel', `${pins.kernelPackage}_${pins.kernelVersion}`);
    await mkdir(kdir, { recursive: true });
    step('extracting the kernel');
    const kernel = await extractKernel(deb, pins.kernelRelease, kdir);

    step('bundling guest components');
    const bundles = path.join(work, 'bundles');
    await mkdir(bundles, { recursive: true });
    const components = await bundleComponents(options.repo, bundles, options.requireAgent === false ? [] : ['kata-agent.mjs']);
    const vsockAddon = (await ensureVsockAddon(options.repo, log)) ?? '';
    const teeDevicesAddon = (await ensureTeeDevicesAddon(options.repo, log)) ?? '';

    // The input hash names the cache entry: every byte that goes into the images is covered.
    const h = createHash('sha256').update(JSON.stringify({ BUILDER_VERSION, pins, GUEST_MODULES, VERITY_SALT, VERITY_UUID }));
    h.update(INITRAMFS_INIT + INITTAB + RCS + AGENT_SH + DEFAULT_POLICY);
    for (const c of components) h.update(c.bundle).update(await readFile(path.join(bundles, c.bundle)));
    for (const f of ['/bin/busybox', '/usr/sbin/runc', '/usr/sbin/veritysetup', vsockAddon, teeDevicesAddon, options.kernelImage ?? '']) {
      if (f && existsSync(f)) h.update(f).update(await sha256File(f));
    }
    h.update(await protoDigest(options.repo));
    const inputHash = h.digest('hex').slice(0, 16);
    const dir = options.outDir ?? path.join(cache, 'guest', inputHash);
    if (!options.force && existsSync(path.join(dir, 'manifest.json'))) {
      const image = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as GuestImage;
      if (image.inputHash === inputHash) { step(`cached image ${dir}`); return { ...image, dir, kernel: path.join(dir, 'vmlinux'), initrd: path.join(dir, 'initrd.img'), rootfs: path.join(dir, 'rootfs.img') }; }
    }

    step('staging the root filesystem');
    const root = path.join(work, 'rootfs');
    await mkdirs(root, ['proc', 'sys', 'dev', 'run', 'tmp', 'mnt', 'root', 'var/lib', 'etc/kata-opa', 'usr/bin', 'usr/sbin', 'sys/fs/cgroup']);
    await putBusybox(root);
    await run('tar', ['-xzf', tgz, '-C', work, 'package/bin/node']);
    await putBinary(root, path.join(work, 'package/bin/node'), '/usr/bin/node');
    for (const lib of await import('./stage.js').then((m) => m.sharedLibs(path.join(work, 'package/bin/node')))) await put(root, lib, lib, 0o755);
    await putBinary(root, '/usr/sbin/runc');
    await mkdir(path.join(root, 'opt/kata-cc'), { recursive: true });
    await cp(bundles, path.join(root, 'opt/kata-cc/bin'), { recursive: true });
    await cp(path.join(options.repo, 'libs/protocols/proto'), path.join(root, 'opt/kata-cc/proto'), { recursive: true });
    if (vsockAddon && existsSync(vsockAddon)) await put(root, vsockAddon, '/opt/kata-cc/native/vsock.node', 0o755);
    if (teeDevicesAddon && existsSync(teeDevicesAddon)) await put(root, teeDevicesAddon, '/opt/kata-cc/native/tee_devices.node', 0o755);
    for (const c of components) if (c.launcher) await putText(root, c.launcher, launcher(c.bundle), 0o755);
    await putText(root, '/etc/inittab', INITTAB);
    await putText(root, '/etc/kata-cc/rcS', RCS, 0o755);
    await putText(root, '/etc/kata-cc/agent.sh', AGENT_SH, 0o755);
    await putText(root, '/etc/hosts', HOSTS);
    await putText(root, '/etc/passwd', PASSWD);
    await putText(root, '/etc/group', GROUP);
    await putText(root, '/etc/kata-opa/default-policy.rego', DEFAULT_POLICY);
    await import('node:fs/promises').then((fs) => fs.symlink('/run/resolv.conf', path.join(root, 'etc/resolv.conf')));
    // The pause container of guest pull comes from the image (kata: /pause_bundle).
    await put(root, '/bin/busybox', '/pause_bundle/rootfs/bin/busybox', 0o755);
    for (const a of ['sh', 'sleep', 'cat', 'echo', 'ls', 'id', 'hostname']) {
      await import('node:fs/promises').then((fs) => fs.symlink('busybox', path.join(root, 'pause_bundle/rootfs/bin', a)));
    }
    await putText(root, '/pause_bundle/rootfs/pause', '#!/bin/sh\n# The sandbox (pause) container: sleeps until killed.\nexec /bin/sleep 2147483647\n', 0o755);
    await putText(root, '/pause_bundle/config.json', JSON.stringify({ ociVersion: '1.0.2', process: { args: ['/pause'], cwd: '/', user: { uid: 65534, gid: 65534 } }, root: { path: 'rootfs', readonly: true } }, null, 1));

    step('making the erofs image and its dm-verity tree');
    await zeroTimes(root);
    const rootfs = path.join(work, 'rootfs.img');
    await run('mkfs.erofs', ['--quiet', '-zlz4hc', '-T0', '--all-root', `-U${EROFS_UUID}`, rootfs, root]);
    const { rootHash, hashOffset } = await formatVerity(rootfs, VERITY_SALT, VERITY_UUID);

    step('making the initramfs');
    const iroot = path.join(work, 'initramfs');
    await mkdirs(iroot, ['proc', 'sys', 'dev', 'run', 'tmp', 'newroot', 'lib/modules']);
    await putBusybox(iroot);
    await putBinary(iroot, '/usr/sbin/veritysetup');
    const mods = await resolveModules(kernel.modulesDir, GUEST_MODULES);
    for (const m of mods) await put(iroot, m.file, `/lib/modules/${m.name}.ko`, 0o644);
    await putText(iroot, '/lib/modules.order', mods.map((m) => m.name).join('\n') + '\n');
    await putText(iroot, '/init', INITRAMFS_INIT, 0o755);
    const initrd = path.join(work, 'initrd.img');
    await cpio(iroot, initrd);

    step('writing the output');
    const tmpOut = `${dir}.tmp-${process.pid}`;
    await rm(tmpOut, { recursive: true, force: true });
    await mkdir(tmpOut, { recursive: true });
    await copyFile(options.kernelImage ?? kernel.vmlinux, path.join(tmpOut, 'vmlinux'));
    await rename(rootfs, path.join(tmpOut, 'rootfs.img'));
    await rename(initrd, path.join(tmpOut, 'initrd.img'));
    const cmdline = `kata_cc.roothash=${rootHash} kata_cc.hashoffset=${hashOffset}`;
    const image: GuestImage = {
      dir, kernel: path.join(dir, 'vmlinux'), initrd: path.join(dir, 'initrd.img'), rootfs: path.join(dir, 'rootfs.img'),
      rootHash, hashOffset, cmdline, inputHash, components: components.map((c) => c.bundle), pins,
    };
    await writeFile(path.join(tmpOut, 'manifest.json'), JSON.stringify({ ...image, sizes: await sizes(tmpOut) }, null, 2) + '\n');
    // No half-written output: the directory appears complete or not at all.
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    await rename(tmpOut, dir);
    step(`guest image ${dir} root hash ${rootHash}`);
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function mkdtempIn(parent: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  const { mkdtemp } = await import('node:fs/promises');
  return mkdtemp(path.join(parent, 'build-'));
}

async function sizes(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const f of ['vmlinux', 'initrd.img', 'rootfs.img']) out[f] = (await stat(path.join(dir, f))).size;
  return out;
}

async function protoDigest(repo: string): Promise<string> {
  const list = (await run('find', ['.', '-type', 'f', '-name', '*.proto'], { cwd: path.join(repo, 'libs/protocols/proto') })).toString().split('\n').filter(Boolean).sort();
  const h = createHash('sha256');
  for (const f of list) h.update(f).update(await readFile(path.join(repo, 'libs/protocols/proto', f)));
  return h.digest('hex');
}
