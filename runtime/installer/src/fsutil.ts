import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { installerError } from './errors.js';

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** Reads a file, or null when it does not exist. */
export async function readOptional(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw installerError('INST_WRITE_FAILED', `Cannot read ${file}`, { cause: err });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` so that readers see either the old or the new content, never a torn file:
 * temporary file in the same directory, fsync, rename, fsync of the directory.
 */
export async function atomicWrite(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.kata-cc-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, mode);
    await rename(tmp, file);
    await fsyncDir(path.dirname(file));
  } catch (err) {
    await rm(tmp, { force: true });
    throw installerError('INST_WRITE_FAILED', `Cannot write ${file}`, { cause: err });
  }
}

/** Directories from `dir` up to (excluding) `stopAt` that do not exist yet, outermost first. */
export async function missingDirs(dir: string, stopAt: string): Promise<string[]> {
  const missing: string[] = [];
  let cur = dir;
  while (cur.startsWith(stopAt) && cur !== stopAt) {
    try {
      await lstat(cur);
      break;
    } catch {
      missing.unshift(cur);
      cur = path.dirname(cur);
    }
  }
  return missing;
}

/**
 * Copies a tree (files, modes, symlinks). Each file lands through a temporary name and a
 * rename, so a running shim never executes a half-copied binary. Returns relative paths.
 */
export async function copyTree(src: string, dst: string, onFile: (rel: string) => void = () => {}): Promise<string[]> {
  const copied: string[] = [];
  async function walk(rel: string): Promise<void> {
    const from = path.join(src, rel);
    const to = path.join(dst, rel);
    const st = await lstat(from);
    if (st.isDirectory()) {
      await mkdir(to, { recursive: true });
      for (const name of (await readdir(from)).sort()) await walk(path.join(rel, name));
    } else if (st.isSymbolicLink()) {
      await rm(to, { force: true });
      await symlink(await readlink(from), to);
      copied.push(rel);
    } else if (st.isFile()) {
      // Re-installs skip files already there from the same payload (size, mode and the
      // payload's mtime, which each copy carries over).
      const have = await lstat(to).catch(() => null);
      if (have?.isFile() && have.size === st.size && have.mtimeMs === st.mtimeMs && (have.mode & 0o7777) === (st.mode & 0o7777)) {
        copied.push(rel);
        return;
      }
      const tmp = path.join(path.dirname(to), `.${path.basename(to)}.kata-cc-${randomBytes(4).toString('hex')}`);
      await copyFile(from, tmp);
      await chmod(tmp, st.mode & 0o7777);
      await utimes(tmp, st.atime, st.mtime);
      await rename(tmp, to);
      copied.push(rel);
      onFile(rel);
    }
  }
  try {
    await walk('');
  } catch (err) {
    throw installerError('INST_WRITE_FAILED', `Cannot copy the runtime artifacts from ${src} to ${dst}`, { cause: err });
  }
  return copied;
}
