import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '@kata-cc/log';
import { hasManaged, stripManaged } from './containerd/edit.js';
import { installerError } from './errors.js';
import { atomicWrite, readOptional, sha256 } from './fsutil.js';
import { restart, type InstallerDeps } from './installer.js';
import { LABEL_CC_READY, LABEL_RUNTIME, LABEL_TEE, noLabeler } from './labeler/labeler.js';
import { onRoot, prefixPaths, resolveOnRoot, type Layout } from './layout.js';
import { removeCreatedDirs, unlinkShim } from './shim-link.js';
import { loadState, statePaths } from './state.js';
import { removeUnit } from './snapshotter.js';

export interface UninstallOptions {
  readonly layout: Layout;
  readonly nodeName?: string | null;
  readonly containerdSocket?: string | null;
}

export interface UninstallResult {
  /** `restored`: the original bytes are back; `stripped`: the file was edited since install, only our blocks were removed. */
  readonly config: 'restored' | 'removed' | 'stripped' | 'untouched';
  readonly restarted: boolean;
  readonly wasInstalled: boolean;
}

/**
 * Reverses install: node labels first (the scheduler stops placing kata-cc pods), then
 * containerd's configuration (the original bytes when nobody edited it since), a restart,
 * and last the installed files.
 */
export async function uninstall(opts: UninstallOptions, deps: InstallerDeps = {}): Promise<UninstallResult> {
  const log = deps.logger ?? silentLogger;
  const labeler = deps.labeler ?? noLabeler;
  const { layout } = opts;
  const state = await loadState(layout);
  const node = opts.nodeName ?? state?.node ?? null;
  if (node !== null) await labeler.setLabels(node, { [LABEL_RUNTIME]: null, [LABEL_TEE]: null, [LABEL_CC_READY]: null });

  const configOnRoot = await resolveOnRoot(layout, state?.config.path ?? layout.containerdConfig);
  const current = await readOptional(configOnRoot);
  let config: UninstallResult['config'] = 'untouched';
  if (state !== null && current !== null && sha256(current) === state.config.writtenSha256) {
    if (state.config.originalExisted) {
      const backup = await readOptional(statePaths(layout).backup);
      if (backup === null) throw installerError('INST_STATE_CORRUPT', `The backup ${statePaths(layout).backup} of containerd's configuration is missing`);
      await atomicWrite(configOnRoot, backup, (await stat(configOnRoot)).mode & 0o7777);
      config = 'restored';
    } else {
      await rm(configOnRoot, { force: true });
      config = 'removed';
    }
  } else if (current !== null && hasManaged(current.toString('utf8'))) {
    log.warn({ config: configOnRoot }, "containerd's configuration changed since install: removing only the installer's blocks");
    await atomicWrite(configOnRoot, stripManaged(current.toString('utf8')), (await stat(configOnRoot)).mode & 0o7777);
    config = 'stripped';
  }
  let dropInRemoved = false;
  if (state?.dropIn) {
    const file = onRoot(layout, state.dropIn.path);
    dropInRemoved = (await readOptional(file)) !== null;
    await rm(file, { force: true });
    await removeCreatedDirs(layout, state.dropIn.createdDirs);
  }
  const restarted = config !== 'untouched' || dropInRemoved ? await restart(deps, opts.containerdSocket ?? null, layout, log) : false;

  // containerd no longer uses the snapshotter: stop it, then remove its unit and state.
  if (state?.snapshotter) {
    if (deps.stopSnapshotter) {
      try {
        await deps.stopSnapshotter();
      } catch (cause) {
        throw installerError('INST_SNAPSHOTTER_STOP_FAILED', 'Stopping kata-cc-snapshotter failed', { cause });
      }
    } else log.warn({}, 'kata-cc-snapshotter was not stopped (no stop command): stop it by hand');
    await removeUnit(layout, state.snapshotter);
  }
  if (state !== null) {
    await unlinkShim(layout, state.shimLink ?? null, state.prefix);
    const prefixOnRoot = onRoot(layout, state.prefix);
    if (!state.prefixExisted) {
      await rm(prefixOnRoot, { recursive: true, force: true });
    } else {
      for (const rel of state.installedFiles) await rm(path.join(prefixOnRoot, rel), { force: true });
      await rm(onRoot(layout, prefixPaths(state.prefix).stateDir), { recursive: true, force: true });
    }
  }
  log.info({ config, restarted }, state === null ? 'nothing was installed' : 'kata-cc runtime uninstalled');
  return { config, restarted, wasInstalled: state !== null };
}
