import type { VmExit } from '@kata-cc/hypervisor';
import type { Sandbox } from '@kata-cc/sandbox';

/**
 * What the shim watches for the life of a pod VM (kata `watchSandbox` / `watchOOMEvents`): the
 * VMM process exiting (every process then exits with 255), and the agent's OOM events, a
 * `GetOOMEvent` long poll that returns one container id per OOM kill until the agent goes away.
 */
export function watchSandbox(sb: Sandbox, on: { onVmExit: (exit: VmExit) => void; onOom: (containerId: string) => void }): void {
  void sb.vmExited.then(on.onVmExit);
  void (async () => {
    for (;;) {
      try {
        const ev = await sb.agent.call('GetOOMEvent', {}, 0);
        on.onOom(String(ev['container_id'] ?? ''));
      } catch {
        return;
      }
    }
  })();
}
