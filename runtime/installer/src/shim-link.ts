import { lstat, mkdir, readdir, readlink, rm, rmdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { installerError } from './errors.js';
import { missingDirs } from './fsutil.js';
import { onRoot, prefixPaths, type Layout } from './layout.js';

const SHIM_NAME = 'containerd-shim-kata-cc-v2';

/**
 * Links `<shimLinkDir>/containerd-shim-kata-cc-v2` to the installed shim (a host path, so the
 * link works on the host). Refuses to replace anything that is not already our link.
 * Returns the link's host path and the directories it created, or null when linking is off.
 */
export async function linkShim(layout: Layout, previous: ShimLink | null): Promise<ShimLink | null> {
  if (layout.shimLinkDir === null) return null;
  const link = `${layout.shimLinkDir}/${SHIM_NAME}`;
  const target = prefixPaths(layout.prefix).shim;
  const onHost = onRoot(layout, link);
  const st = await lstat(onHost).catch(() => null);
  if (st !== null) {
    if (st.isSymbolicLink() && (await readlink(onHost)) === target) return { path: link, createdDirs: previous?.path === link ? previous.createdDirs : [] };
    throw installerError('INST_CONFIG_CONFLICT', `${link} already exists and is not the installer's link to ${target}; remove it or pass --shim-link-dir`, { details: { link } });
  }
  const createdDirs = (await missingDirs(path.dirname(onHost), layout.root)).map((d) => '/' + path.relative(layout.root, d));
  await mkdir(path.dirname(onHost), { recursive: true });
  await symlink(target, onHost);
  return { path: link, createdDirs };
}

export interface ShimLink {
  readonly path: string;
  readonly createdDirs: readonly string[];
}

/** Removes directories install created, innermost first, when they are empty. */
export async function removeCreatedDirs(layout: Layout, dirs: readonly string[]): Promise<void> {
  for (const dir of [...dirs].reverse()) {
    const onHost = onRoot(layout, dir);
    if ((await readdir(onHost).catch(() => ['?'])).length === 0) await rmdir(onHost);
  }
}

/** Removes the link if it is still ours (never a file someone else put there). */
export async function unlinkShim(layout: Layout, link: ShimLink | null, prefix: string): Promise<void> {
  if (link === null) return;
  const onHost = onRoot(layout, link.path);
  const st = await lstat(onHost).catch(() => null);
  if (st?.isSymbolicLink() && (await readlink(onHost)) === prefixPaths(prefix).shim) await rm(onHost);
  await removeCreatedDirs(layout, link.createdDirs);
}
