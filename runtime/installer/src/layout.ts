import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { installerError } from './errors.js';

/**
 * Where things are. The installer runs in a container with the host's filesystem mounted at
 * `root` (`/host` in the DaemonSet, a temporary directory in tests), but every path it writes
 * INTO a configuration file is a host path (containerd reads it on the host). `hostPaths` are
 * therefore absolute host paths; `onRoot()` maps one to where the installer can touch it.
 */
export interface Layout {
  /** Where the host's `/` is mounted for the installer. */
  readonly root: string;
  /** Install prefix as seen by the host, e.g. `/opt/kata-cc`. */
  readonly prefix: string;
  /** containerd's main configuration file as seen by the host. */
  readonly containerdConfig: string;
  /**
   * A directory on containerd's PATH for a `containerd-shim-kata-cc-v2` symlink, or null.
   * Needed because containerd 1.6 before 1.6.21 ignores CRI `runtime_path` for tasks
   * (containerd issue 8207) and looks the shim up on PATH by its runtime_type.
   */
  readonly shimLinkDir: string | null;
}

/** Validates and normalises user-supplied paths (absolute, no `..`, no control characters). */
export function makeLayout(input: { root: string; prefix?: string; containerdConfig?: string; shimLinkDir?: string | null }): Layout {
  return {
    root: path.resolve(input.root),
    prefix: checkHostPath('--prefix', input.prefix ?? '/opt/kata-cc'),
    containerdConfig: checkHostPath('--containerd-config', input.containerdConfig ?? '/etc/containerd/config.toml'),
    shimLinkDir: input.shimLinkDir === null ? null : checkHostPath('--shim-link-dir', input.shimLinkDir ?? '/usr/local/bin'),
  };
}

export function checkHostPath(flag: string, value: string): string {
  // SECURITY: host paths end up inside containerd's TOML and are joined onto the root; a
  // relative path, `..` or a control character could escape the root or break the TOML.
  if (!path.isAbsolute(value) || value.split('/').includes('..') || /[\u0000-\u001f"\\]/.test(value)) {
    throw installerError('INST_BAD_ARGUMENT', `${flag} must be an absolute path without "..", quotes or control characters`, { details: { flag, value } });
  }
  return path.posix.normalize(value).replace(/\/+$/, '') || '/';
}

/** The path under `root` where the installer reads or writes host path `hostPath`. */
export function onRoot(layout: Layout, hostPath: string): string {
  return path.join(layout.root, hostPath);
}

/** Host paths of the installed tree. */
export function prefixPaths(prefix: string): {
  shim: string;
  configDir: string;
  dropInDir: string;
  stateDir: string;
} {
  return {
    shim: `${prefix}/bin/containerd-shim-kata-cc-v2`,
    configDir: `${prefix}/share/defaults/kata-cc`,
    dropInDir: `${prefix}/containerd/config.d`,
    stateDir: `${prefix}/state`,
  };
}

/**
 * Like onRoot, but follows symlinks the way the host would (absolute targets are host paths,
 * so they are re-rooted): editing a symlinked config.toml must change the file the link points
 * at, not replace the link with a copy.
 */
export async function resolveOnRoot(layout: Layout, hostPath: string): Promise<string> {
  let current = hostPath;
  for (let i = 0; i < 16; i++) {
    const onHost = onRoot(layout, current);
    const st = await lstat(onHost).catch(() => null);
    if (st === null || !st.isSymbolicLink()) return onHost;
    const target = await readlink(onHost);
    // SECURITY: a link is resolved inside the root; `..` cannot climb above it because the
    // result is normalised as a host path before it is joined onto the root.
    current = path.posix.resolve(path.posix.dirname(current), target);
  }
  throw installerError('INST_BAD_ARGUMENT', `Too many levels of symbolic links at ${hostPath}`);
}
