import { readFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { silentLogger, type Logger } from '@kata-cc/log';
import { TtrpcServer } from '@kata-cc/ttrpc';
import type { AgentConfig } from './config.js';
import { launchGuestComponents } from './guest-components.js';
import { readInitdataDevice, writeInitdataFiles, type Initdata } from './initdata.js';
import { AgentPolicy } from './policy/policy.js';
import { Sandbox } from './sandbox.js';
import { registerAgentService } from './service.js';
import type { ImagePuller } from './storage/image-puller.js';
import { selectImagePuller } from './storage/registry.js';
import type { AgentChannel } from './transport/channel.js';
import { openChannel } from './transport/registry.js';
import { vsockSelfCheck } from './transport/vsock-check.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentDeps {
  logger?: Logger;
  imagePuller?: ImagePuller;
  /** Read initdata from block devices (default true). */
  readInitdata?: boolean;
  /** Start AA/CDH (default true). */
  launchComponents?: boolean;
  /** Bundles directory (default /run/kata-containers; tests use a temp dir). */
  containersDir?: string;
}

export interface RunningAgent {
  channel: AgentChannel;
  sandbox: Sandbox;
  policy: AgentPolicy;
  initdata: Initdata | undefined;
  stop(): Promise<void>;
}

/**
 * Boot sequence of kata's agent: initdata first (its policy is in force before the first
 * request), then AA/CDH, then the ttRPC server on the channel.
 */
export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const log = deps.logger ?? silentLogger;
  const initdata = deps.readInitdata === false ? undefined : await readInitdataDevice();
  let files: Record<string, string> = {};
  if (initdata) {
    files = await writeInitdataFiles(initdata);
    log.info({ device: initdata.device, algorithm: initdata.algorithm, digest: initdata.digest, keys: Object.keys(initdata.data) }, 'initdata loaded');
  }
  const policyText = initdata?.data['policy.rego'];
  const policy = policyText !== undefined
    ? new AgentPolicy({ origin: 'initdata', text: policyText }, log)
    : new AgentPolicy({ origin: 'default', text: await readFile(config.policyFile, 'utf8') }, log);
  const launched = deps.launchComponents === false ? { children: [] as ChildProcess[], cdh: false } : launchGuestComponents(config.guestComponentsProcs, files, config.aaAllowSample, log);
  const components = launched.children;
  const imagePuller = deps.imagePuller ?? await selectImagePuller(config, launched.cdh, log);
  // Hostname and DNS are the guest's to set; an agent on a Unix socket runs on a host (tests).
  const sandbox = new Sandbox({ logger: log, version: AGENT_VERSION, configureGuest: !config.serverAddr.startsWith('unix://'), ...(imagePuller ? { imagePuller } : {}), ...(deps.containersDir ? { containersDir: deps.containersDir } : {}) });
  const server = new TtrpcServer({ logger: log });
  registerAgentService(server, sandbox, policy, log, AGENT_VERSION);
  const channel = openChannel(config.serverAddr, log);
  await channel.start((stream) => server.serve(stream));
  const channels = [channel];
  if (config.extraServerAddr) {
    const extra = openChannel(config.extraServerAddr, log);
    await extra.start((stream) => server.serve(stream));
    channels.push(extra);
  }
  log.info({ channels: channels.map((c) => c.description) }, 'kata-agent ready');
  if (config.vsockSelfCheck) void vsockSelfCheck(config.extraServerAddr ?? config.serverAddr, log);
  return {
    channel, sandbox, policy, initdata,
    stop: async () => {
      for (const c of channels) await c.close();
      await server.close();
      await sandbox.destroySandbox().catch(() => undefined);
      for (const c of components) c.kill('SIGTERM');
    },
  };
}
