import { lstat, mkdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { imgError } from '../errors.js';

/**
 * Splits a tar path into clean components. SECURITY: absolute paths, `..` components and NUL
 * bytes are refused (not silently rewritten), so a hostile layer fails loudly.
 */
export function cleanComponents(name: string, what = 'path'): string[] {
  if (name.includes('\0')) throw imgError('IMG_UNPACK_PATH_ESCAPE', `Tar entry ${what} contains a NUL byte`);
  if (name.startsWith('/')) throw imgError('IMG_UNPACK_PATH_ESCAPE', `Tar entry ${what} "${show(name)}" is absolute`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw imgError('IMG_UNPACK_PATH_ESCAPE', `Tar entry ${what} "${show(name)}" contains ".."`);
    parts.push(p);
  }
  return parts;
}

/** A path as it may appear in an error message: bounded, printable. */
export function show(p: string): string {
  return p.slice(0, 256).replace(/[^\x20-\x7e]/g, '?');
}

const MAX_LINK_HOPS = 40;

/**
 * Resolves directory components inside `root` the way the container will see them (a symlink
 * `/lib -> usr/lib` or `-> /usr/lib` is followed *inside* the root, like chroot), creating
 * missing directories. SECURITY: no resolved path ever leaves `root`: an absolute link target
 * restarts at `root`, and a `..` that would climb above `root` is refused with
 * IMG_UNPACK_LINK_ESCAPE. Regular files used as directories are refused.
 */
export class ScopedResolver {
  readonly root: string;
  /** tar dir path (joined components) -> verified host dir; cleared whenever the tree is mutated destructively. */
  readonly #cache = new Map<string, string>();

  constructor(root: string) {
    this.root = root;
  }

  invalidate(): void {
    this.#cache.clear();
  }

  /** Host path of directory `components` (all of them treated as directories); missing ones are created unless `create` is false. */
  async dir(components: string[], entryName: string, create = true): Promise<string> {
    const key = components.join('/');
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const resolved: string[] = [];
    const queue = [...components];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (resolved.length === 0) {
          throw imgError('IMG_UNPACK_LINK_ESCAPE', `Tar entry "${show(entryName)}" goes through a symlink that points outside the root`);
        }
        resolved.pop();
        continue;
      }
      const host = path.join(this.root, ...resolved, c);
      let st;
      try {
        st = await lstat(host);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
        await mkdir(host, { mode: 0o755 });
        resolved.push(c);
        continue;
      }
      if (st.isDirectory()) {
        resolved.push(c);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_LINK_HOPS) throw imgError('IMG_UNPACK_LINK_ESCAPE', `Too many symlinks resolving "${show(entryName)}"`);
        const target = await readlink(host);
        const parts = target.split('/');
        if (target.startsWith('/')) resolved.length = 0; // absolute: relative to the image root
        queue.unshift(...parts);
      } else {
        throw imgError('IMG_UNPACK_FAILED', `Tar entry "${show(entryName)}" needs "${show(c)}" to be a directory, but it is a file`);
      }
    }
    const out = path.join(this.root, ...resolved);
    this.#cache.set(key, out);
    return out;
  }
}
