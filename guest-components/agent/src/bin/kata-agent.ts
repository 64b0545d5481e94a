import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { createLogger } from '@kata-cc/log';
import { startAgent, AGENT_VERSION } from '../agent.js';
import { parseCmdline } from '../config.js';

const program = new Command('kata-agent')
  .description('In-guest kata agent: serves the kata agent ttRPC API (grpc.AgentService) to the runtime')
  .version(AGENT_VERSION)
  .option('--server-addr <addr>', 'vsock://<cid>:<port>, vport://<virtio-serial port name> or unix://<path> (default: agent.server_addr from /proc/cmdline, else vsock://-1:1024)')
  .option('--policy-file <file>', 'default agent policy when initdata has none')
  .option('--log-level <level>', 'log level (default: agent.log from /proc/cmdline)')
  .option('--no-initdata', 'do not look for an initdata block device')
  .option('--no-guest-components', 'do not start the attestation agent and CDH')
  .action(async (o: { serverAddr?: string; policyFile?: string; logLevel?: string; initdata: boolean; guestComponents: boolean }) => {
    let cmdline = '';
    try {
      cmdline = readFileSync('/proc/cmdline', 'utf8');
    } catch {
      // not in a VM (tests): flags only
    }
    const config = parseCmdline(cmdline);
    if (o.serverAddr) config.serverAddr = o.serverAddr;
    if (o.policyFile) config.policyFile = o.policyFile;
    const logger = createLogger('kata-agent', { level: o.logLevel ?? config.logLevel });
    const agent = await startAgent(config, { logger, readInitdata: o.initdata, launchComponents: o.guestComponents });
    // Picked up by the boot benchmark and the VM tests on the serial console.
    process.stdout.write(`MARK agent-ready ${readFileSync('/proc/uptime', 'utf8').split(' ')[0]}\n`);
    const stop = (): void => { void agent.stop().finally(() => process.exit(0)); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
program.parseAsync().catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  process.stderr.write(`kata-agent: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}\n`);
  process.exit(1);
});
