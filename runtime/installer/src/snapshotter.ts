import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { atomicWrite, missingDirs, readOptional } from './fsutil.js';
import { installerError } from './errors.js';
import { onRoot, type Layout } from './layout.js';
import { removeCreatedDirs } from './shim-link.js';

/**
 * The guest-pull snapshotter (`kata-cc-snapshotter`) runs on the HOST as a systemd service,
 * like upstream CoCo's kata-deploy runs nydus-snapshotter for guest pull: containerd needs
 * its socket across installer pod restarts and node reboots, and a unit ordered
 * `Before=containerd.service` is up before CRI pulls anything. The installer writes the unit,
 * then enables and starts it through a host command (nsenter + systemctl in the DaemonSet).
 */
export type GuestPull = 'off' | 'per-runtime' | 'global';
export const GUEST_PULL_MODES = ['off', 'per-runtime', 'global'] as const;
/** The proxy snapshotter's name in containerd (`proxy_plugins.kata-cc`). */
export const SNAPSHOTTER_NAME = 'kata-cc';
export const SNAPSHOTTER_UNIT = 'kata-cc-snapshotter.service';
export const DEFAULT_SNAPSHOTTER_SOCKET = '/run/kata-cc-snapshotter/snapshotter.sock';
export const DEFAULT_SNAPSHOTTER_ROOT = '/var/lib/kata-cc-snapshotter';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

export interface SnapshotterState {
  readonly unitPath: string;
  readonly unitCreatedDirs: readonly string[];
  readonly socket: string;
  readonly root: string;
}

export function unitText(binary: string, root: string, socket: string): string {
  return [
    '# Written by kata-cc-installer (removed by kata-cc-installer uninstall).',
    '[Unit]',
    'Description=kata-cc guest-pull snapshotter (containerd proxy snapshotter)',
    'Before=containerd.service',
    'After=local-fs.target',
    '',
    '[Service]',
    `ExecStart=${binary} --root ${root} --address ${socket}`,
    'Restart=always',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target containerd.service',
    '',
  ].join('\n');
}

/** Writes (or rewrites) the unit; refuses to overwrite a unit the installer did not write. */
export async function writeUnit(layout: Layout, unitDir: string, binary: string, root: string, socket: string, previous: SnapshotterState | null): Promise<{ state: SnapshotterState; changed: boolean }> {
  const unitPath = `${unitDir}/${SNAPSHOTTER_UNIT}`;
  const onHost = onRoot(layout, unitPath);
  const text = unitText(binary, root, socket);
  const existing = await readOptional(onHost);
  if (existing !== null && previous?.unitPath !== unitPath && !existing.toString('utf8').startsWith('# Written by kata-cc-installer')) {
    throw installerError('INST_CONFIG_CONFLICT', `${unitPath} exists and was not written by the installer; remove it first`, { details: { unit: unitPath } });
  }
  const created = previous?.unitPath === unitPath ? previous.unitCreatedDirs : (await missingDirs(path.dirname(onHost), layout.root)).map((d) => '/' + path.relative(layout.root, d));
  const changed = existing?.toString('utf8') !== text;
  if (changed) {
    await mkdir(path.dirname(onHost), { recursive: true });
    await atomicWrite(onHost, text);
  }
  return { state: { unitPath, unitCreatedDirs: created, socket, root }, changed };
}

/** Removes the unit file and the snapshotter's state directory (after the service stopped). */
export async function removeUnit(layout: Layout, s: SnapshotterState): Promise<void> {
  await rm(onRoot(layout, s.unitPath), { force: true });
  await removeCreatedDirs(layout, s.unitCreatedDirs);
  await rm(onRoot(layout, s.root), { recursive: true, force: true });
}
