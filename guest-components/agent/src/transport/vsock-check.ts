import type { Logger } from '@kata-cc/log';
import { TtrpcClient } from '@kata-cc/ttrpc';
import { HEALTH_SERVICE, codec } from '../proto.js';
import { connectVsock, VMADDR_CID_LOCAL } from '@kata-cc/vsock';

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
    // VMADDR_CID_LOCAL: the loopback transport (vsock_loopback) delivers to our own listener.
    const client = new TtrpcClient(await connectVsock(VMADDR_CID_LOCAL, Number(m[1])));
    const payload = await client.call(HEALTH_SERVICE, 'Check', codec('grpc.CheckRequest').encode({ service: '' }), { timeoutMs: 30_000 });
    const status = Number(codec('grpc.HealthCheckResponse').decode(payload)['status']);
    client.close();
    process.stdout.write(`MARK vsock-check ok ${Date.now() - t} status=${status}\n`);
  } catch (err) {
    log.error({ err }, 'vsock self check failed');
    process.stdout.write(`vsock-check failed: ${(err as Error).message}\n`);
  }
}
