import type { Logger } from '@kata-cc/log';
import { agentError } from '../errors.js';
import type { AgentChannel } from './channel.js';
import { UnixChannel } from './unix.js';
import { VirtioSerialChannel } from './virtio-serial.js';
import { VsockChannel } from './vsock.js';

/**
 * Picks the channel from the server address (kata's `agent.server_addr`):
 * `vsock://<cid>:<port>` (production, default `vsock://-1:1024`), `vport://<port name>`
 * (virtio-serial, e.g. `vport://agent.0`; used where there is no vhost-vsock), `unix://<path>`.
 */
export function openChannel(address: string, logger: Logger): AgentChannel {
  const m = /^([a-z]+):\/\/(.+)$/.exec(address);
  const scheme = m?.[1] ?? '';
  const rest = m?.[2] ?? '';
  switch (scheme) {
    case 'vsock': {
      const v = /^(-?\d+):(\d+)$/.exec(rest);
      if (!v) break;
      return new VsockChannel(Number(v[1]), Number(v[2]), logger);
    }
    case 'vport':
      return new VirtioSerialChannel(rest, logger);
    case 'unix':
      return new UnixChannel(rest);
    default:
      break;
  }
  throw agentError('AGENT_CHANNEL_FAILED', `Unsupported agent server address "${address}" (vsock://, vport://, unix://)`);
}
