import { closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, writeSync } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, readdir, rm, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { imgError } from '../errors.js';
import { cleanComponents, ScopedResolver, show } from './secure-path.js';
import type { TarEntry } from './tar-header.js';
import type { TarSink } from './tar-parser.js';
import { applyXattrs, type XattrRecord } from './xattrs.js';

export type DevicePolicy = 'reject' | 'skip' | 'create';

export interface ExtractOptions {
  /** Character/block device entries: refuse (default), skip, or create with mknod. */
  devices?: DevicePolicy;
  /** Apply tar uid/gid (default: when running as root). */
  sameOwner?: boolean;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Applies one layer's tar stream onto a root directory (docker/OCI applyLayer semantics:
 * whiteouts delete from lower layers, entries replace what is there unless both are dirs).
 * SECURITY: every path goes through `cleanComponents` + `ScopedResolver`; files are created
 * with O_EXCL|O_NOFOLLOW after removing whatever was there, so nothing is written through a
 * symlink; hardlink targets are resolved inside the root.
 */
export class LayerExtractor implements TarSink {
  readonly #root: string;
  readonly #resolver: ScopedResolver;
  readonly #devices: DevicePolicy;
  readonly #sameOwner: boolean;
  readonly #created = new Set<string>();
  readonly #dirTimes: { comps: string[]; mtime: number }[] = [];
  readonly #xattrs: XattrRecord[] = [];
  #file: { fd: number; e: TarEntry; host: string } | undefined;
  readonly warnings: string[] = [];

  constructor(root: string, options: ExtractOptions = {}) {
    this.#root = root;
    this.#resolver = new ScopedResolver(root);
    this.#devices = options.devices ?? 'reject';
    this.#sameOwner = options.sameOwner ?? process.getuid?.() === 0;
  }

  async entry(e: TarEntry): Promise<void> {
    const comps = cleanComponents(e.path);
    const rel = comps.join('/');
    const name = comps[comps.length - 1];
    if (name === undefined) {
      // The root itself ("./"): only metadata applies.
      if (e.type === 'directory') await this.#meta(this.#root, e, false, []);
      return;
    }
    const parent = await this.#resolver.dir(comps.slice(0, -1), e.path);
    if (name === OPAQUE) return this.#opaque(parent, comps.slice(0, -1).join('/'));
    if (name.startsWith(WH)) {
      const victim = name.slice(WH.length);
      if (victim === '' || victim === '.' || victim === '..') throw imgError('IMG_UNPACK_PATH_ESCAPE', `Invalid whiteout "${show(e.path)}"`);
      await rm(path.join(parent, victim), { recursive: true, force: true });
      this.#resolver.invalidate();
      return;
    }
    const host = path.join(parent, name);
    this.#created.add(rel);
    switch (e.type) {
      case 'directory':
        await this.#mkdir(host);
        await this.#meta(host, e, false, comps);
        return;
      case 'file':
        this.#file = { fd: await this.#openExclusive(host), e, host };
        return;
      case 'symlink':
        await this.#replace(host, () => symlink(e.linkpath, host));
        await this.#meta(host, e, true);
        return;
      case 'hardlink': {
        const target = await this.#linkTarget(e);
        await this.#replace(host, () => link(target, host));
        return;
      }
      case 'chardev':
      case 'blockdev':
      case 'fifo':
        return this.#special(host, e);
    }
  }

  async data(chunk: Buffer): Promise<void> {
    const f = this.#file;
    if (f === undefined) return;
    let off = 0;
    while (off < chunk.length) off += writeSync(f.fd, chunk, off, chunk.length - off);
  }

  async entryEnd(): Promise<void> {
    const f = this.#file;
    if (f === undefined) return;
    this.#file = undefined;
    try {
      if (this.#sameOwner) fchownSync(f.fd, f.e.uid, f.e.gid);
      fchmodSync(f.fd, f.e.mode);
      futimesSync(f.fd, f.e.mtime, f.e.mtime);
    } finally {
      closeSync(f.fd);
    }
    for (const [name, value] of f.e.xattrs) this.#xattrs.push({ path: f.host, name, value, noFollow: false });
    await this.#flushXattrs();
  }

  /**
   * SECURITY: xattrs are applied right after their entry, while the path's parents are still
   * the directories the resolver verified; a later entry of the layer may swap a parent for a
   * symlink, so applying them at the end of the layer could follow it out of the root.
   */
  async #flushXattrs(): Promise<void> {
    if (this.#xattrs.length === 0) return;
    const batch = this.#xattrs.splice(0);
    this.warnings.push(...(await applyXattrs(batch)));
  }

  async end(): Promise<void> {
    // Directory times last (children changed them), deepest first. SECURITY: later entries may
    // have swapped a directory or a parent for a symlink, so each path is resolved again inside
    // the root and the final component is never followed (lutimes).
    this.#resolver.invalidate();
    for (let i = this.#dirTimes.length - 1; i >= 0; i--) {
      const d = this.#dirTimes[i];
      if (d === undefined) continue;
      const name = d.comps[d.comps.length - 1];
      try {
        const host = name === undefined ? this.#root : path.join(await this.#resolver.dir(d.comps.slice(0, -1), d.comps.join('/'), false), name);
        await lutimes(host, d.mtime, d.mtime);
      } catch {
        // gone or replaced by a later entry: nothing to restore
      }
    }
  }

  /** Closes an open file after a failure so no descriptor leaks. */
  async abort(): Promise<void> {
    const f = this.#file;
    if (f !== undefined) {
      try {
        closeSync(f.fd);
      } catch {
        // already closed
      }
    }
    this.#file = undefined;
  }

  // File content goes through synchronous fd calls: one syscall each instead of a threadpool
  // round trip per chunk (the guest has one vCPU; the threadpool buys no parallelism there).
  async #openExclusive(host: string): Promise<number> {
    try {
      return openSync(host, FILE_FLAGS, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await this.#remove(host);
      return openSync(host, FILE_FLAGS, 0o600);
    }
  }

  async #replace(host: string, create: () => Promise<void>): Promise<void> {
    try {
      await create();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      await this.#remove(host);
      await create();
    }
  }

  async #remove(host: string): Promise<void> {
    const st = await lstat(host);
    if (st.isDirectory()) await rm(host, { recursive: true, force: true });
    else await unlink(host);
    this.#resolver.invalidate();
  }

  async #mkdir(host: string): Promise<void> {
    try {
      await mkdir(host, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if ((await lstat(host)).isDirectory()) return; // dirs merge
      await this.#remove(host);
      await mkdir(host, { mode: 0o755 });
    }
  }

  async #meta(host: string, e: TarEntry, isLink: boolean, comps?: string[]): Promise<void> {
    if (this.#sameOwner) await (isLink ? lchown : chown)(host, e.uid, e.gid);
    if (isLink) {
      await lutimes(host, e.mtime, e.mtime);
    } else {
      await chmod(host, e.mode);
      if (comps !== undefined) this.#dirTimes.push({ comps, mtime: e.mtime });
    }
    for (const [name, value] of e.xattrs) this.#xattrs.push({ path: host, name, value, noFollow: isLink });
    await this.#flushXattrs();
  }

  async #linkTarget(e: TarEntry): Promise<string> {
    const comps = cleanComponents(e.linkpath, 'hardlink target');
    const last = comps[comps.length - 1];
    if (last === undefined) throw imgError('IMG_UNPACK_LINK_ESCAPE', `Hardlink "${show(e.path)}" points at the root`);
    // SECURITY: the target is resolved inside the root, and must be an existing non-directory
    // (link(2) does not follow a final symlink, so linking a symlink only copies the link).
    const target = path.join(await this.#resolver.dir(comps.slice(0, -1), e.linkpath), last);
    let st;
    try {
      st = await lstat(target);
    } catch {
      throw imgError('IMG_UNPACK_FAILED', `Hardlink "${show(e.path)}" points at missing "${show(e.linkpath)}"`);
    }
    if (st.isDirectory()) throw imgError('IMG_UNPACK_LINK_ESCAPE', `Hardlink "${show(e.path)}" points at a directory`);
    return target;
  }

  async #opaque(hostDir: string, relDir: string): Promise<void> {
    // Opaque dir: everything from lower layers goes; entries of this layer stay.
    for (const child of await readdir(hostDir)) {
      const rel = relDir === '' ? child : `${relDir}/${child}`;
      if (!this.#created.has(rel)) await rm(path.join(hostDir, child), { recursive: true, force: true });
    }
    this.#resolver.invalidate();
  }

  async #special(host: string, e: TarEntry): Promise<void> {
    if (e.type !== 'fifo') {
      // SECURITY: device nodes give a container raw hardware access; refused unless allowed.
      if (this.#devices === 'reject') {
        throw imgError('IMG_UNPACK_DEVICE', `Layer contains device node "${show(e.path)}" (${e.type} ${e.devmajor}:${e.devminor}); device nodes are refused by policy`);
      }
      if (this.#devices === 'skip') {
        this.warnings.push(`skipped device node ${show(e.path)}`);
        return;
      }
    }
    const { mknod } = await import('./mknod.js');
    await this.#replace(host, () => mknod(host, e));
    await this.#meta(host, e, false, cleanComponents(e.path));
  }
}
