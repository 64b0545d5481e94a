import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { isKccError } from '@kata-cc/errors';
import { createLogger } from '@kata-cc/log';
import { TtrpcServer } from '@kata-cc/ttrpc';
import { CREDENTIALS_DIR, parseCdhConfig, type CdhConfig } from '../config.js';
import { provisionCredentials } from '../credentials.js';
import { cdhError } from '../errors.js';
import { ConfidentialDataHub } from '../hub.js';
import { createResourceGetter } from '../kbc/registry.js';
import { registerCdhServices } from '../ttrpc.js';

interface Options {
  config?: string;
  socket?: string;
  keyproviderGrpc?: string;
  credentialsDir: string;
  sealedSecretKeysDir?: string;
  offlineResources?: string;
  logLevel?: string;
}

const program = new Command('confidential-data-hub')
  .description('Confidential Data Hub: KBS resources, sealed secrets, image layer keys and image pulls over ttRPC (guest-components CDH API)')
  .option('-c, --config <file>', 'cdh.toml; without it the KBS URL comes from AA_KBC_PARAMS (cc_kbc::<url>)')
  .option('--socket <address>', 'ttRPC socket address (overrides cdh.toml socket)')
  .option('--keyprovider-grpc <address>', 'also serve keyprovider.KeyProviderService over gRPC here, e.g. 127.0.0.1:50000')
  .option('--credentials-dir <dir>', 'directory [[credentials]] paths must be under', CREDENTIALS_DIR)
  .option('--sealed-secret-keys-dir <dir>', 'local sealed-secret verification keys (default /run/confidential-containers/cdh/sealed-secret)')
  .option('--offline-resources <file>', 'resource file of offline_fs_kbc')
  .option('--log-level <level>', 'log level (default: [log] level of cdh.toml, else info)')
  .parse(process.argv);
const opts = program.opts<Options>();

async function loadConfig(): Promise<CdhConfig> {
  if (opts.config !== undefined) return parseCdhConfig(await readFile(opts.config, 'utf8'));
  const params = process.env['AA_KBC_PARAMS'] ?? '';
  const m = /^cc_kbc::(.+)$/.exec(params.trim());
  if (m === null) throw cdhError('CDH_INVALID_CONFIG', 'No configuration: pass -c cdh.toml or set AA_KBC_PARAMS=cc_kbc::<KBS URL>');
  return parseCdhConfig(`[kbc]\nname = "cc_kbc"\nurl = ${JSON.stringify(m[1])}\n`);
}

async function main(): Promise<void> {
  const config = await loadConfig();
  const log = createLogger('confidential-data-hub', { level: opts.logLevel ?? config.logLevel ?? process.env['KATA_CC_LOG_LEVEL'] ?? 'info' });
  if (config.ignoredKeys.length > 0) log.warn({ keys: config.ignoredKeys }, 'cdh.toml keys ignored by this CDH');
  const resources = createResourceGetter(config, { logger: log, ...(opts.offlineResources === undefined ? {} : { offlineFile: opts.offlineResources }) });
  const hub = new ConfidentialDataHub(config, { resources, logger: log, ...(opts.sealedSecretKeysDir === undefined ? {} : { sealedSecretKeysDir: opts.sealedSecretKeysDir }) });
  if (config.credentials.length > 0) {
    await provisionCredentials(config.credentials, resources, opts.credentialsDir);
    log.info({ count: config.credentials.length }, 'credentials provisioned');
  }

  const server = new TtrpcServer({ logger: log });
  registerCdhServices(server, hub);
  const address = opts.socket ?? config.socket;
  const socketPath = address.replace(/^unix:\/\//, '');
  if (!path.isAbsolute(socketPath)) throw cdhError('CDH_INVALID_CONFIG', `Invalid socket "${address}": expected unix:///absolute/path`);
  await mkdir(path.dirname(socketPath), { recursive: true });
  const existing = await stat(socketPath).catch(() => undefined);
  if (existing !== undefined) {
    // SECURITY: only a stale socket may be removed, never a file someone pointed us at.
    if (!existing.isSocket()) throw cdhError('CDH_INVALID_CONFIG', `Cannot listen on "${socketPath}": a non-socket file exists there`);
    await rm(socketPath);
  }
  await server.listen({ path: socketPath });
  let grpcServer: { tryShutdown(cb: () => void): void } | undefined;
  if (opts.keyproviderGrpc !== undefined) {
    const { serveKeyProviderGrpc } = await import('../grpc.js'); // grpc-js only when asked for
    const g = await serveKeyProviderGrpc(hub, opts.keyproviderGrpc, log);
    grpcServer = g.server;
    log.info({ address: g.address }, 'keyprovider gRPC service ready');
  }
  log.info({ socket: socketPath, kbc: config.kbc.name, kbs: config.kbc.url, aa: config.aaSocket }, 'confidential data hub ready');

  const stop = async (signal: string): Promise<void> => {
    log.info({ signal }, 'confidential data hub stopping');
    await server.close();
    if (grpcServer !== undefined) await new Promise<void>((r) => grpcServer?.tryShutdown(() => r()));
    await hub.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const code = isKccError(err) ? ` [${err.code}]` : '';
  process.stderr.write(`confidential-data-hub: error: ${err instanceof Error ? err.message : String(err)}${code}\n`);
  process.exit(1);
});
