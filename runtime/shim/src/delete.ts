import { existsSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { reapVmDir } from '@kata-cc/hypervisor';
import type { Logger } from '@kata-cc/log';
import { BUNDLE_STATE_FILE } from './task-service.js';
import { codec, timestamp } from './protos.js';

/**
 * `shim delete`: containerd lost the shim (SIGKILL, restart) and asks us to clean up after it.
 * Kills the VM recorded in the bundle, removes its state and the shim socket, and answers a
 * binary DeleteResponse{exit_status: 137, exited_at: now} as kata's `Cleanup` does.
 */
export async function deleteShim(bundle: string, log: Logger): Promise<Buffer> {
  const stateFile = path.join(bundle, BUNDLE_STATE_FILE);
  if (existsSync(stateFile)) {
    try {
      const { vmDir } = JSON.parse(readFileSync(stateFile, 'utf8')) as { vmDir?: string };
      if (vmDir) {
        const { killed } = await reapVmDir(vmDir);
        log.info({ vmDir, killed }, 'cleaned up the sandbox VM');
      }
    } catch (err) {
      log.warn({ err }, 'cannot read the sandbox state file');
    }
  }
  const addressFile = path.join(bundle, 'address');
  const pidFile = path.join(bundle, 'shim.pid');
  if (existsSync(addressFile) && existsSync(pidFile)) {
    // Only the pod's own shim (it wrote shim.pid here) owns the socket; pod containers share it.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let alive = false;
    try { process.kill(pid, 0); alive = true; } catch { /* gone */ }
    if (!alive) await unlink(readFileSync(addressFile, 'utf8').replace(/^unix:\/\//, '')).catch(() => undefined);
  }
  return Buffer.from(codec('containerd.task.v2.DeleteResponse').encode({ pid: 0, exit_status: 137, exited_at: timestamp(new Date()) }));
}
