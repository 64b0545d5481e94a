import { lstat, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '@kata-cc/log';
import { planEdit, stripManaged } from './containerd/edit.js';
import { waitForSocket } from './containerd/wait.js';
import { installerError } from './errors.js';
import { atomicWrite, copyTree, missingDirs, readOptional, sha256 } from './fsutil.js';
import { HANDLER_NAMES, handlerSpecs, type HandlerName } from './handlers.js';
import { LABEL_CC_READY, LABEL_RUNTIME, LABEL_TEE, noLabeler, type NodeLabeler } from './labeler/labeler.js';
import { onRoot, prefixPaths, resolveOnRoot, type Layout } from './layout.js';
import { linkShim } from './shim-link.js';
import { loadState, saveState, statePaths, type InstallState } from './state.js';
import { configFileForTee, detectNodeTee, type NodeTee } from './tee.js';
import { DEFAULT_SNAPSHOTTER_ROOT, DEFAULT_SNAPSHOTTER_SOCKET, DEFAULT_UNIT_DIR, SNAPSHOTTER_NAME, removeUnit, writeUnit, type GuestPull } from './snapshotter.js';

export interface InstallerDeps {
  readonly logger?: Logger;
  readonly labeler?: NodeLabeler;
  /** Restarts containerd after its configuration changed; null skips the restart. */
  readonly restartContainerd?: (() => Promise<void>) | null;
  /** Enables and (re)starts the snapshotter's unit on the host (before containerd restarts); null skips it. */
  readonly startSnapshotter?: (() => Promise<void>) | null;
  /** Stops and disables it (uninstall); null skips it. */
  readonly stopSnapshotter?: (() => Promise<void>) | null;
}

export interface InstallOptions {
  readonly layout: Layout;
  /** The payload to copy (bin/, node/, lib/, share/), a path the installer can read. */
  readonly artifacts: string;
  readonly handlers?: readonly HandlerName[];
  /** Overrides TEE detection from the host's sysfs. */
  readonly tee?: NodeTee;
  /** containerd major version; only consulted when there is no configuration file. */
  readonly containerdMajor?: number | null;
  readonly nodeName?: string | null;
  /** Host path of containerd's socket: wait for it after a restart. */
  readonly containerdSocket?: string | null;
  /** Guest pull through kata-cc-snapshotter (default per-runtime; see snapshotter.ts). */
  readonly guestPull?: GuestPull;
  readonly snapshotterSocket?: string;
  readonly snapshotterRoot?: string;
  /** Host directory for the systemd unit (default /etc/systemd/system). */
  readonly unitDir?: string;
}

export interface InstallResult {
  readonly tee: NodeTee;
  readonly mode: InstallState['config']['mode'];
  readonly schema: InstallState['config']['schema'];
  readonly configChanged: boolean;
  readonly restarted: boolean;
  readonly files: number;
  readonly guestPull: GuestPull;
}

/** Files the payload must contain: the shim launcher and one configuration per handler TEE. */
async function checkArtifacts(artifacts: string, handlers: readonly HandlerName[], guestPull: GuestPull): Promise<void> {
  const required = ['bin/containerd-shim-kata-cc-v2', ...(guestPull === 'off' ? [] : ['bin/kata-cc-snapshotter']), ...new Set(handlerSpecs('/', handlers).filter((h) => h.tee !== 'auto').map((h) => `share/defaults/kata-cc/${h.configFile}`))];
  required.push('share/defaults/kata-cc/configuration-dev.toml');
  const missing: string[] = [];
  for (const rel of new Set(required)) if ((await readOptional(path.join(artifacts, rel))) === null) missing.push(rel);
  if (missing.length > 0) {
    throw installerError('INST_ARTIFACTS_MISSING', `The runtime payload ${artifacts} lacks ${missing.join(', ')}`, { details: { missing } });
  }
}

async function checkRoot(root: string): Promise<void> {
  const st = await stat(root).catch(() => null);
  if (st === null || !st.isDirectory()) throw installerError('INST_ROOT_INVALID', `--root ${root} is not a directory (mount the host's / there)`);
}

/**
 * Installs the runtime on the node. Idempotent: running it again updates the artifacts and
 * re-renders the managed configuration from the original, restarting containerd only when
 * its configuration actually changed.
 */
export async function install(opts: InstallOptions, deps: InstallerDeps = {}): Promise<InstallResult> {
  const log = deps.logger ?? silentLogger;
  const labeler = deps.labeler ?? noLabeler;
  const { layout } = opts;
  const handlers = opts.handlers ?? HANDLER_NAMES;
  await checkRoot(layout.root);
  const guestPull = opts.guestPull ?? 'per-runtime';
  await checkArtifacts(opts.artifacts, handlers, guestPull);
  const previous = await loadState(layout);
  const tee = opts.tee ?? (await detectNodeTee(layout.root));
  const node = opts.nodeName ?? null;
  if (node !== null) await labeler.setLabels(node, { [LABEL_RUNTIME]: 'installing' });

  // 1. Artifacts.
  const prefixOnRoot = onRoot(layout, layout.prefix);
  const prefixExisted = previous?.prefixExisted ?? (await lstat(prefixOnRoot).then(() => true, () => false));
  log.info({ from: opts.artifacts, to: layout.prefix, tee }, 'copying runtime artifacts');
  const installed = await copyTree(opts.artifacts, prefixOnRoot);
  const { configDir, dropInDir, shim } = prefixPaths(layout.prefix);
  const defaultConfig = await readFile(path.join(opts.artifacts, 'share/defaults/kata-cc', configFileForTee(tee)));
  await atomicWrite(path.join(onRoot(layout, configDir), 'configuration.toml'), defaultConfig);
  installed.push('share/defaults/kata-cc/configuration.toml');
  // An upgrade: files the previous payload had and this one has not are removed.
  const now = new Set(installed);
  for (const rel of previous?.installedFiles ?? []) if (!now.has(rel)) await rm(path.join(prefixOnRoot, rel), { force: true });
  const shimLink = await linkShim(layout, previous?.shimLink ?? null);

  // 2. containerd configuration. The backup and the state are written before the config.
  const paths = statePaths(layout);
  const configOnRoot = await resolveOnRoot(layout, layout.containerdConfig);
  const currentBuf = await readOptional(configOnRoot);
  const current = currentBuf?.toString('utf8') ?? null;
  let base: string | null;
  let originalExisted: boolean;
  if (previous !== null && currentBuf !== null && sha256(currentBuf) === previous.config.writtenSha256) {
    originalExisted = previous.config.originalExisted;
    base = originalExisted ? ((await readOptional(paths.backup))?.toString('utf8') ?? null) : null;
    if (originalExisted && base === null) throw installerError('INST_STATE_CORRUPT', `The backup ${paths.backup} of containerd's configuration is missing`);
  } else {
    // First install, or someone edited the file since: what is there now (minus our blocks) is the original.
    originalExisted = current !== null;
    base = current === null ? null : stripManaged(current);
    if (base !== null) await atomicWrite(paths.backup, base, 0o600);
  }
  const specs = handlerSpecs(layout.prefix, handlers);
  const snapSocket = opts.snapshotterSocket ?? DEFAULT_SNAPSHOTTER_SOCKET;
  const plan = planEdit({
    base, containerdMajor: opts.containerdMajor ?? null, specs, shimPath: shim, dropInPath: `${dropInDir}/kata-cc.toml`,
    guestPull: guestPull === 'off' ? null : { mode: guestPull, name: SNAPSHOTTER_NAME, socket: snapSocket },
  });
  // The snapshotter's systemd unit (host service), written before containerd is pointed at its socket.
  let snapshotter: InstallState['snapshotter'] = null;
  if (guestPull !== 'off') {
    const unit = await writeUnit(layout, opts.unitDir ?? DEFAULT_UNIT_DIR, `${layout.prefix}/bin/kata-cc-snapshotter`, opts.snapshotterRoot ?? DEFAULT_SNAPSHOTTER_ROOT, snapSocket, previous?.snapshotter ?? null);
    snapshotter = unit.state;
  } else if (previous?.snapshotter) {
    if (deps.stopSnapshotter) await deps.stopSnapshotter();
    await removeUnit(layout, previous.snapshotter);
  }
  let dropIn: InstallState['dropIn'] = null;
  if (plan.dropIn !== null) {
    const target = onRoot(layout, plan.dropIn.path);
    const created = previous?.dropIn?.path === plan.dropIn.path ? previous.dropIn.createdDirs : (await missingDirs(path.dirname(target), layout.root)).map((d) => '/' + path.relative(layout.root, d));
    dropIn = { path: plan.dropIn.path, createdDirs: created };
  }
  const state: InstallState = {
    formatVersion: 1,
    prefix: layout.prefix,
    prefixExisted,
    installedFiles: installed,
    handlers: [...handlers],
    tee,
    config: { path: layout.containerdConfig, originalExisted, schema: plan.schema, mode: plan.mode, writtenSha256: sha256(plan.mainConfig) },
    dropIn,
    shimLink,
    snapshotter,
    node,
    labels: node === null ? [] : [LABEL_RUNTIME, LABEL_TEE, LABEL_CC_READY],
  };
  if (previous?.dropIn && previous.dropIn.path !== dropIn?.path) await rm(onRoot(layout, previous.dropIn.path), { force: true });
  const dropInTarget = plan.dropIn === null ? null : onRoot(layout, plan.dropIn.path);
  const dropInChanged = plan.dropIn !== null && dropInTarget !== null && (await readOptional(dropInTarget))?.toString('utf8') !== plan.dropIn.text;
  const mainChanged = current !== plan.mainConfig;
  const configChanged = mainChanged || dropInChanged;
  // A restart still owed by an interrupted earlier run is owed now too.
  const restartPending = configChanged || previous?.restartPending === true;
  await saveState(layout, { ...state, restartPending });
  if (plan.dropIn !== null && dropInTarget !== null && dropInChanged) {
    await mkdir(path.dirname(dropInTarget), { recursive: true });
    await atomicWrite(dropInTarget, plan.dropIn.text);
  }
  if (mainChanged) await atomicWrite(configOnRoot, plan.mainConfig, currentBuf === null ? 0o644 : ((await stat(configOnRoot)).mode & 0o7777));
  log.info({ config: layout.containerdConfig, mode: plan.mode, schema: plan.schema, changed: configChanged, dropIn: plan.dropIn?.path }, 'containerd runtime handlers configured');

  // 3. Start the snapshotter, restart containerd so CRI loads the handlers, then mark the node ready.
  if (snapshotter !== null) {
    if (deps.startSnapshotter) {
      log.info({ socket: snapshotter.socket }, 'starting kata-cc-snapshotter');
      try {
        await deps.startSnapshotter();
      } catch (cause) {
        throw installerError('INST_SNAPSHOTTER_START_FAILED', 'Starting kata-cc-snapshotter failed', { cause });
      }
      await waitForSocket(onRoot(layout, snapshotter.socket), 60_000, 'kata-cc-snapshotter');
    } else log.warn({}, 'kata-cc-snapshotter was not started (no start command): start it before pulling guest-pull images');
  }
  const restarted = restartPending && (await restart(deps, opts.containerdSocket ?? null, layout, log));
  if (restarted) await saveState(layout, { ...state, restartPending: false });
  if (node !== null) await labeler.setLabels(node, { [LABEL_RUNTIME]: 'true', [LABEL_TEE]: tee, [LABEL_CC_READY]: tee === 'none' ? null : 'true' });
  return { tee, mode: plan.mode, schema: plan.schema, configChanged, restarted, files: installed.length, guestPull };
}

/** Runs the injected restart and waits for containerd's socket; false when restart is off. */
export async function restart(deps: InstallerDeps, socket: string | null, layout: Layout, log: Logger): Promise<boolean> {
  if (!deps.restartContainerd) {
    log.warn({}, 'containerd was not restarted (no restart command): restart it to load the new configuration');
    return false;
  }
  log.info({}, 'restarting containerd');
  try {
    await deps.restartContainerd();
  } catch (cause) {
    throw installerError('INST_RESTART_FAILED', 'Restarting containerd failed', { cause });
  }
  if (socket !== null) await waitForSocket(onRoot(layout, socket));
  return true;
}
