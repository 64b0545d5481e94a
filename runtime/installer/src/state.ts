import { installerError } from './errors.js';
import { atomicWrite, readOptional } from './fsutil.js';
import type { EditMode } from './containerd/edit.js';
import type { ConfigSchema } from './containerd/render.js';
import type { HandlerName } from './handlers.js';
import { onRoot, prefixPaths, type Layout } from './layout.js';
import type { ShimLink } from './shim-link.js';
import type { SnapshotterState } from './snapshotter.js';
import type { NodeTee } from './tee.js';

/** What install changed, so uninstall can reverse exactly that. Kept in <prefix>/state/. */
export interface InstallState {
  readonly formatVersion: 1;
  readonly prefix: string;
  /** False when install created the prefix: uninstall then removes it whole. */
  readonly prefixExisted: boolean;
  readonly installedFiles: readonly string[];
  readonly handlers: readonly HandlerName[];
  readonly tee: NodeTee;
  readonly config: {
    readonly path: string;
    readonly originalExisted: boolean;
    readonly schema: ConfigSchema;
    readonly mode: EditMode;
    /** sha256 of the main configuration as the installer left it. */
    readonly writtenSha256: string;
  };
  readonly dropIn: { readonly path: string; readonly createdDirs: readonly string[] } | null;
  /** Host path of the shim symlink install created on containerd's PATH. */
  readonly shimLink: ShimLink | null;
  /** The guest-pull snapshotter's unit, when install wrote one (absent in older states). */
  readonly snapshotter?: SnapshotterState | null;
  readonly node: string | null;
  readonly labels: readonly string[];
  /** The configuration changed and containerd has not been restarted since (survives a crash). */
  readonly restartPending?: boolean;
}

export function statePaths(layout: Layout): { state: string; backup: string } {
  const dir = onRoot(layout, prefixPaths(layout.prefix).stateDir);
  return { state: `${dir}/install.json`, backup: `${dir}/containerd-config.orig` };
}

export async function loadState(layout: Layout): Promise<InstallState | null> {
  const raw = await readOptional(statePaths(layout).state);
  if (raw === null) return null;
  try {
    const s = JSON.parse(raw.toString('utf8')) as InstallState;
    if (s.formatVersion !== 1 || typeof s.config?.writtenSha256 !== 'string') throw new Error('unknown format');
    return s;
  } catch (cause) {
    throw installerError('INST_STATE_CORRUPT', `Install state ${statePaths(layout).state} is unreadable; restore containerd's configuration by hand`, { cause });
  }
}

export async function saveState(layout: Layout, state: InstallState): Promise<void> {
  await atomicWrite(statePaths(layout).state, JSON.stringify(state, null, 2) + '\n', 0o600);
}
