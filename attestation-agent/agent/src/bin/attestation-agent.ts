import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { createAttester, detectAdditionalTees, detectTee } from '@kata-cc/attester';
import { isKccError } from '@kata-cc/errors';
import { isTee } from '@kata-cc/kbs-types';
import { createLogger } from '@kata-cc/log';
import { TtrpcServer } from '@kata-cc/ttrpc';
import { DEFAULT_AA_CONFIG, kbsUrlFromKbcParams, parseAaConfig, type AaConfig } from '../config.js';
import { aaError } from '../errors.js';
import { DEFAULT_EVENTLOG_DIR, EventLog } from '../eventlog.js';
import { parseInitData, type InitData } from '../initdata.js';
import { AttestationAgent } from '../service.js';
import { prepareSocketPath, unixSocketPath } from '../socket.js';
import { DEFAULT_AA_SOCKET, registerAttestationAgentService } from '../ttrpc.js';

interface Options {
  configFile?: string;
  attestationSock: string;
  initdataToml?: string;
  initdataDigest?: string;
  tee?: string;
  allowSample?: boolean;
  eventlogDir: string;
  logLevel?: string;
}

// guest-components' ttrpc-aa spells its options with underscores; accept both spellings.
const argv = process.argv.map((a) => (/^--[a-z]+(_[a-z]+)+(=.*)?$/.test(a) ? a.replace(/_/g, (m, i: number) => (a.indexOf('=') === -1 || i < a.indexOf('=') ? '-' : m)) : a));

const program = new Command('attestation-agent')
  .description('Attestation agent: evidence, KBS tokens and runtime measurement over ttRPC (guest-components AA API)')
  .option('-c, --config-file <file>', 'aa.toml (KBS URL and certificate, event log); default: aa.toml from initdata, else AA_KBC_PARAMS')
  .option('--attestation-sock <address>', 'ttRPC socket address', DEFAULT_AA_SOCKET)
  .option('-t, --initdata-toml <file>', 'initdata TOML: bound to the TEE at start and sent to the KBS as init-data')
  .option('--initdata-digest <base64>', 'initdata digest to bind when only the digest is known')
  .option('--tee <tee>', 'use this TEE instead of detecting one')
  .option('--allow-sample', 'use the SAMPLE attester when no TEE is found (development only)')
  .option('--eventlog-dir <dir>', 'directory of the AA event log', process.env['AAEL_DIR'] ?? DEFAULT_EVENTLOG_DIR)
  .option('--log-level <level>', 'log level (default: [log] level of aa.toml, else info)')
  .parse(argv);
const opts = program.opts<Options>();

async function main(): Promise<void> {
  let initData: InitData | undefined;
  if (opts.initdataToml !== undefined) initData = parseInitData(await readFile(opts.initdataToml, 'utf8'));
  let config: AaConfig = DEFAULT_AA_CONFIG;
  if (opts.configFile !== undefined) config = parseAaConfig(await readFile(opts.configFile, 'utf8'));
  else if (initData?.data['aa.toml'] !== undefined) config = parseAaConfig(initData.data['aa.toml']);
  const kbcParams = process.env['AA_KBC_PARAMS'];
  if (config.kbs === undefined && kbcParams !== undefined && kbcParams !== '') {
    config = { ...config, kbs: { url: kbsUrlFromKbcParams(kbcParams), teeKeyAlgorithm: 'ECDH-ES+A256KW-P256' } };
  }
  const log = createLogger('attestation-agent', { level: opts.logLevel ?? config.logLevel ?? process.env['KATA_CC_LOG_LEVEL'] ?? 'info' });
  if (config.ignoredKeys.length > 0) log.warn({ keys: config.ignoredKeys }, 'aa.toml keys ignored by this attestation agent');

  if (opts.tee !== undefined && !isTee(opts.tee)) throw aaError('AA_INVALID_CONFIG', `Unknown TEE "${opts.tee}"`);
  const tee = opts.tee ?? (await detectTee({ allowSample: opts.allowSample === true }, { logger: log }));
  if (tee === 'sample') log.warn({}, 'USING THE SAMPLE TEE: evidence has no hardware root of trust (development only)');
  const attester = createAttester(tee, { logger: log });
  const devices = await detectAdditionalTees({ logger: log });
  if (devices.length > 0) log.info({ devices }, 'additional (device) attesters enabled');
  const additionalAttesters = devices.map((d) => createAttester(d, { logger: log }));

  let eventlog: EventLog | undefined;
  if (config.eventlog.enable) {
    if (attester.runtimeMeasurement === undefined) log.warn({ tee }, 'event log enabled but the attester cannot extend registers: ExtendRuntimeMeasurement will fail');
    else eventlog = await EventLog.open(opts.eventlogDir, attester.runtimeMeasurement, config.eventlog.initPcr);
  }
  const aa = new AttestationAgent(config, initData, { attester, additionalAttesters, ...(eventlog === undefined ? {} : { eventlog }), logger: log });

  // SECURITY: refuse to serve when the initdata we were given is not the one the TEE was launched with.
  if (opts.initdataDigest !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(opts.initdataDigest)) {
    throw aaError('AA_INVALID_INITDATA', 'Invalid --initdata-digest: expected standard base64');
  }
  const digest = initData?.digest ?? (opts.initdataDigest === undefined ? undefined : Buffer.from(opts.initdataDigest, 'base64'));
  if (digest !== undefined) {
    const binding = await aa.bindInitData(digest);
    log.info({ binding }, binding === 'unsupported' ? 'initdata not bound: the TEE has no field for it; the KBS checks init-data' : 'initdata bound to the TEE');
  }

  const server = new TtrpcServer({ logger: log });
  registerAttestationAgentService(server, aa);
  const socketPath = unixSocketPath(opts.attestationSock);
  await prepareSocketPath(socketPath);
  await server.listen({ path: socketPath });
  log.info({ socket: socketPath, tee, kbs: config.kbs?.url, eventlog: eventlog !== undefined }, 'attestation agent ready');

  const stop = async (signal: string): Promise<void> => {
    log.info({ signal }, 'attestation agent stopping');
    await server.close();
    await aa.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const code = isKccError(err) ? ` [${err.code}]` : '';
  process.stderr.write(`attestation-agent: error: ${err instanceof Error ? err.message : String(err)}${code}\n`);
  process.exit(1);
});
