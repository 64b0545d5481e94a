import type { Logger } from '@kata-cc/log';
import { TtrpcClient } from '@kata-cc/ttrpc';
import { HEALTH_SERVICE, codec } from '../proto.js';
import { FdDuplex } from './fd-duplex.js';
import { loadVsockAddon } from './vsock.js';

/** VMADDR_CID_LOCAL: the loopback transport (vsock_loopback) delivers to this guest's own listeners. */
const CID_LOCAL = 1;

/**
 * Proves the vsock path inside the guest: dials our own vsock listener through the kernel's
 * loopback transport with the addon, then calls grpc.Health/Check over ttRPC on that socket.
 * Prints `MARK vsock-check ok <ms>` (or `vsock-check failed: ...`) on the console.
 */
export async function vsockSelfCheck(address: string, log: Logger): Promise<void> {
  const m = /^vsock:\/\/-?\d+:(\d+)$/.exec(address);
  if (!m) {
    log.warn({ address }, 'vsock self check needs a vsock:// listen address');
    return;
  }
  const t = Date.now();
  try {
    const addon = loadVsockAddon();
    const fd = await new Promise<number>((resolve, reject) => addon.connect(CID_LOCAL, Number(m[1]), (err, f) => (err ? reject(err) : resolve(f))));
    const client = new TtrpcClient(new FdDuplex(fd, () => addon.close(fd)));
    const payload = await client.call(HEALTH_SERVICE, 'Check', codec('grpc.CheckRequest').encode({ service: '' }), { timeoutMs: 30_000 });
    const status = Number(codec('grpc.HealthCheckResponse').decode(payload)['status']);
    client.close();
    process.stdout.write(`MARK vsock-check ok ${Date.now() - t} status=${status}\n`);
  } catch (err) {
    log.error({ err }, 'vsock self check failed');
    process.stdout.write(`vsock-check failed: ${(err as Error).message}\n`);
  }
}
