import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { isKccError, messageOf } from '@kata-cc/errors';
import { createLogger, type Logger } from '@kata-cc/log';
import { detectContainerdMajor, parseContainerdMajor } from '../containerd/wait.js';
import { installerError } from '../errors.js';
import { HANDLER_NAMES, parseHandlerList } from '../handlers.js';
import { install, type InstallerDeps } from '../installer.js';
import { KubeApiLabeler, inClusterOptions } from '../labeler/kube-api.js';
import { noLabeler } from '../labeler/labeler.js';
import { checkHostPath, makeLayout } from '../layout.js';
import { DEFAULT_SNAPSHOTTER_ROOT, DEFAULT_SNAPSHOTTER_SOCKET, DEFAULT_UNIT_DIR, GUEST_PULL_MODES, SNAPSHOTTER_UNIT, type GuestPull } from '../snapshotter.js';
import { loadState } from '../state.js';
import { NODE_TEES, type NodeTee } from '../tee.js';
import { uninstall } from '../uninstall.js';

interface CommonFlags {
  root: string;
  prefix: string;
  containerdConfig: string;
  shimLinkDir: string;
  shimLink: boolean;
  containerdSocket?: string;
  restartCmd?: string;
  restart: boolean;
  nodeName?: string;
  label: boolean;
  stay: boolean;
  readyFile?: string;
  snapshotterStartCmd?: string;
  snapshotterStopCmd?: string;
}

const log: Logger = createLogger('kata-cc-installer');

function runShell(cmd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`"${cmd}" exited with ${code ?? signal}`))));
  });
}

async function deps(flags: CommonFlags): Promise<InstallerDeps> {
  let labeler = noLabeler;
  if (flags.label && flags.nodeName) {
    const kube = await inClusterOptions();
    if (kube === null) log.warn({ node: flags.nodeName }, 'not running in a cluster (no KUBERNETES_SERVICE_HOST): node labels are not set');
    else labeler = new KubeApiLabeler(kube);
  }
  const cmd = flags.restartCmd ?? 'systemctl restart containerd';
  // The snapshotter runs as a host systemd service (like upstream CoCo's nydus-snapshotter).
  const start = flags.snapshotterStartCmd ?? `systemctl daemon-reload && systemctl enable ${SNAPSHOTTER_UNIT} && systemctl restart ${SNAPSHOTTER_UNIT}`;
  const stop = flags.snapshotterStopCmd ?? `systemctl disable --now ${SNAPSHOTTER_UNIT}; systemctl daemon-reload`;
  return {
    logger: log,
    labeler,
    restartContainerd: flags.restart ? () => runShell(cmd) : null,
    startSnapshotter: flags.restart ? () => runShell(start) : null,
    stopSnapshotter: flags.restart ? () => runShell(stop) : null,
  };
}

/** DaemonSet mode: stay up after the work so the pod reads Ready; exit 0 on SIGTERM. */
async function finish(flags: CommonFlags, result: unknown): Promise<void> {
  process.stdout.write(JSON.stringify(result) + '\n');
  if (flags.readyFile) await writeFile(flags.readyFile, 'ok\n');
  if (!flags.stay) return;
  log.info({}, 'done; staying up until terminated (--stay)');
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {}, 1 << 30);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => (clearInterval(timer), resolve()));
  });
}

function common(cmd: Command): Command {
  return cmd
    .option('--root <dir>', "where the host's / is mounted", '/')
    .option('--prefix <path>', 'install directory on the host', '/opt/kata-cc')
    .option('--containerd-config <path>', "containerd's main configuration file on the host", '/etc/containerd/config.toml')
    .option('--shim-link-dir <dir>', 'directory on containerd\'s PATH for a containerd-shim-kata-cc-v2 symlink (containerd 1.6 before 1.6.21 ignores runtime_path)', '/usr/local/bin')
    .option('--no-shim-link', 'do not create that symlink')
    .option('--containerd-socket <path>', "containerd's socket on the host: wait for it after a restart")
    .option('--restart-cmd <cmd>', 'shell command that restarts containerd on the host', undefined)
    .option('--no-restart', 'do not restart containerd nor start/stop the snapshotter (print a warning instead)')
    .option('--snapshotter-start-cmd <cmd>', `shell command that enables and (re)starts the snapshotter's unit on the host (default: systemctl daemon-reload, enable and restart ${SNAPSHOTTER_UNIT})`)
    .option('--snapshotter-stop-cmd <cmd>', `shell command that stops and disables it on uninstall (default: systemctl disable --now ${SNAPSHOTTER_UNIT})`)
    .option('--node-name <name>', 'Kubernetes node to label (default: $NODE_NAME)', process.env['NODE_NAME'])
    .option('--no-label', 'do not label the node')
    .option('--stay', 'keep running after the work (DaemonSet mode)', false)
    .option('--ready-file <path>', 'file to create when done (readiness probe)');
}

const program = new Command('kata-cc-installer')
  .description('Install or remove the kata-cc runtime on a node: /opt/kata-cc, containerd runtime handlers, node labels')
  .showHelpAfterError();

common(program.command('install').description('Copy the runtime, register the containerd handlers, restart containerd, label the node'))
  .option('--artifacts <dir>', 'runtime payload to install', '/opt/kata-cc-artifacts')
  .option('--handlers <list>', 'comma-separated runtime handlers', HANDLER_NAMES.join(','))
  .addOption(new Option('--tee <tee>', 'TEE for the default kata-cc handler (default: detect from sysfs)').choices(NODE_TEES))
  .addOption(new Option('--guest-pull <mode>', 'guest pull through kata-cc-snapshotter: per-runtime (snapshotter on each kata-cc handler; containerd 1.7+ and 2.x), global (also CRI\'s global snapshotter, containerd 1.6/1.7 config v2: EVERY pod on the node, runc too, then gets guest-pulled images), off').choices(GUEST_PULL_MODES).default('per-runtime'))
  .option('--guest-pull-global', 'same as --guest-pull global (needed on containerd 1.6)')
  .option('--snapshotter-socket <path>', "the snapshotter's socket on the host", DEFAULT_SNAPSHOTTER_SOCKET)
  .option('--snapshotter-root <dir>', "the snapshotter's state directory on the host", DEFAULT_SNAPSHOTTER_ROOT)
  .option('--unit-dir <dir>', 'host directory for the kata-cc-snapshotter systemd unit', DEFAULT_UNIT_DIR)
  .option('--containerd-version <v>', 'containerd version, used only when the node has no config file (default: run containerd --version)')
  .action(async (flags: CommonFlags & { artifacts: string; handlers: string; tee?: NodeTee; containerdVersion?: string; guestPull: GuestPull; guestPullGlobal?: boolean; snapshotterSocket: string; snapshotterRoot: string; unitDir: string }) => {
    const layout = makeLayout({ ...flags, shimLinkDir: flags.shimLink ? flags.shimLinkDir : null });
    const major = flags.containerdVersion !== undefined ? parseContainerdMajor(flags.containerdVersion) : await detectContainerdMajor(layout.root);
    const result = await install(
      {
        layout,
        artifacts: flags.artifacts,
        handlers: parseHandlerList(flags.handlers),
        containerdMajor: major,
        nodeName: flags.label ? (flags.nodeName ?? null) : null,
        containerdSocket: flags.containerdSocket ?? null,
        guestPull: flags.guestPullGlobal ? 'global' : flags.guestPull,
        snapshotterSocket: checkHostPath('--snapshotter-socket', flags.snapshotterSocket),
        snapshotterRoot: checkHostPath('--snapshotter-root', flags.snapshotterRoot),
        unitDir: checkHostPath('--unit-dir', flags.unitDir),
        ...(flags.tee === undefined ? {} : { tee: flags.tee }),
      },
      await deps(flags),
    );
    await finish(flags, result);
  });

common(program.command('uninstall').description('Remove the handlers (original containerd config back byte for byte), the files and the labels')).action(
  async (flags: CommonFlags) => {
    const layout = makeLayout({ ...flags, shimLinkDir: flags.shimLink ? flags.shimLinkDir : null });
    const result = await uninstall({ layout, nodeName: flags.label ? (flags.nodeName ?? null) : null, containerdSocket: flags.containerdSocket ?? null }, await deps(flags));
    await finish(flags, result);
  },
);

program
  .command('status')
  .description('Print what the installer changed on this node (its state file), or "not installed"')
  .option('--root <dir>', "where the host's / is mounted", '/')
  .option('--prefix <path>', 'install directory on the host', '/opt/kata-cc')
  .action(async (flags: { root: string; prefix: string }) => {
    const state = await loadState(makeLayout(flags));
    process.stdout.write(state === null ? 'not installed\n' : JSON.stringify(state, null, 2) + '\n');
  });

try {
  await program.parseAsync();
} catch (err) {
  const e = isKccError(err) ? err : installerError('INST_INTERNAL', messageOf(err), { cause: err });
  log.error({ code: e.code, details: e.details, cause: e.cause === undefined ? undefined : messageOf(e.cause) }, e.message);
  process.stderr.write(`kata-cc-installer: ${e.code}: ${e.message}${e.cause === undefined ? '' : ` (${messageOf(e.cause)})`}\n`);
  process.exitCode = 1;
}
