import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { createLogger } from '@kata-cc/log';
import { isKccError, messageOf } from '@kata-cc/errors';
import { createKbsServer, DEFAULT_BODY_LIMIT } from '../app.js';
import { openStore, parseStorageSpec } from '../storage/registry.js';
import { readTrusteeConfig } from '../trustee-config.js';

const program = new Command('kbs')
  .description('Key Broker Service: attests guests (KBS protocol 0.4.0) and releases secrets encrypted to their TEE key')
  .option('--config <file>', 'a trustee kbs-config.toml to take settings from (command-line options win)')
  .option('--listen <host:port>', 'address to listen on, e.g. 0.0.0.0:8080 or [::1]:8080 (required unless in --config)')
  .option('--insecure-http', 'serve plain HTTP (tests and loopback only; secrets are still JWE-encrypted)')
  .option('--tls-cert <file>', 'PEM certificate (chain) for HTTPS')
  .option('--tls-key <file>', 'PEM private key for HTTPS')
  .option('--storage <spec>', 'sqlite:PATH | postgres://user@host/db | memory: (required unless in --config)')
  .option('--admin-key <file>', 'admin public key: a PEM file (or inline PEM text), Ed25519, EC P-256/P-384 or RSA; repeatable; without it the admin API refuses every call', collect, [])
  .option('--allow-sample', 'DEV MODE: accept and affirm evidence from the "sample" TEE, which proves nothing')
  .option('--session-timeout <seconds>', 'handshake session lifetime (default 300)', toInt)
  .option('--max-sessions <n>', 'maximum unexpired handshake sessions across replicas (default 10000); /auth beyond it answers 429', toInt)
  .option('--auth-rate <per-minute>', 'POST /auth calls allowed per client address per minute on this replica (default: no per-address limit); beyond it 429', toInt)
  .option('--token-lifetime <seconds>', 'attestation token lifetime (default 300)', toInt)
  .option('--token-signer-key <file>', 'EC P-256 private key PEM that signs attestation tokens (default: one generated key kept in the storage, shared by replicas)')
  .option('--verifier-config <file>', 'JSON file with per-TEE verifier settings, e.g. {"tdx": {"collateral": "/var/lib/kbs/pcs"}, "snp": {"vcekStoreDir": "..."}}')
  .addOption(new Option('--body-limit <bytes>', `maximum request body size (default ${DEFAULT_BODY_LIMIT})`).argParser(toInt))
  .option('--log-level <level>', 'trace|debug|info|warn|error', process.env['KATA_CC_LOG_LEVEL'] ?? 'info')
  .addHelpText('after', `
Examples:
  kbs --listen 127.0.0.1:8080 --insecure-http --storage sqlite:/var/lib/kbs/kbs.db --admin-key admin.pub
  kbs --listen 0.0.0.0:8443 --tls-cert kbs.crt --tls-key kbs.key --storage postgres://kbs@db/kbs --admin-key admin.pub

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 bad command line.`);

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
function toInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${v}"`);
  return n;
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) throw new Error(`--listen must be HOST:PORT, got "${text}"`);
  return { host: m[1] ?? m[2] ?? '', port };
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<{
    listen?: string | undefined; insecureHttp?: boolean; tlsCert?: string | undefined; tlsKey?: string | undefined; storage?: string | undefined;
    adminKey: string[]; config?: string; allowSample?: boolean; sessionTimeout?: number | undefined; tokenLifetime?: number | undefined; maxSessions?: number; authRate?: number;
    tokenSignerKey?: string | undefined; bodyLimit?: number | undefined; logLevel: string; verifierConfig?: string;
  }>();
  const log = createLogger('kbs', { level: o.logLevel });
  let listen: { host: string; port: number };
  try {
    if (o.config !== undefined) {
      const c = readTrusteeConfig(o.config);
      for (const i of c.ignored) log.warn({ config: o.config }, `config setting not honoured: ${i}`);
      o.listen ??= c.listen;
      if (o.insecureHttp === undefined && c.insecureHttp === true && o.tlsCert === undefined) o.insecureHttp = true;
      if (o.insecureHttp !== true) {
        o.tlsCert ??= c.tlsCert;
        o.tlsKey ??= c.tlsKey;
      }
      o.storage ??= c.storage;
      if (o.adminKey.length === 0 && c.adminKeyFiles !== undefined) o.adminKey = c.adminKeyFiles;
      o.sessionTimeout ??= c.sessionTimeoutSeconds;
      o.tokenLifetime ??= c.tokenLifetimeSeconds;
      o.tokenSignerKey ??= c.tokenSignerKey;
      o.bodyLimit ??= c.bodyLimitBytes;
    }
    if (o.listen === undefined) throw new Error('--listen HOST:PORT is required');
    if (o.storage === undefined) throw new Error('--storage is required (sqlite:PATH, postgres://..., memory:)');
    listen = parseListen(o.listen);
    if (o.insecureHttp !== true && (o.tlsCert === undefined || o.tlsKey === undefined)) {
      throw new Error('HTTPS needs --tls-cert and --tls-key; pass --insecure-http to serve plain HTTP');
    }
    if (o.insecureHttp === true && (o.tlsCert !== undefined || o.tlsKey !== undefined)) throw new Error('--insecure-http and --tls-cert/--tls-key exclude each other');
  } catch (e) {
    process.stderr.write(`kbs: ${messageOf(e)}\n`);
    process.exit(2);
  }
  if (o.allowSample === true) {
    log.warn({ devMode: true }, '!!! DEV MODE (--allow-sample): evidence from the "sample" TEE is ACCEPTED and AFFIRMED. It proves nothing. Never use this in production. !!!');
    process.stderr.write('\n*** WARNING: kbs runs in DEV MODE (--allow-sample): sample evidence is trusted. NOT FOR PRODUCTION. ***\n\n');
  }
  if (o.adminKey.length === 0) log.warn({}, 'no --admin-key: the admin API refuses every call');
  let tees: Record<string, Record<string, unknown>> | undefined;
  if (o.verifierConfig !== undefined) {
    try {
      tees = JSON.parse(readFileSync(o.verifierConfig, 'utf8')) as Record<string, Record<string, unknown>>;
      if (typeof tees !== 'object' || tees === null || Array.isArray(tees)) throw new Error('expected a JSON object keyed by TEE name');
    } catch (e) {
      process.stderr.write(`kbs: --verifier-config ${o.verifierConfig}: ${messageOf(e)}\n`);
      process.exit(2);
    }
  }
  const store = await openStore(parseStorageSpec(o.storage ?? ''));
  const server = await createKbsServer({
    store,
    // A value that is itself PEM is taken inline; anything else is a file path.
    adminKeys: o.adminKey.map((f) => (f.trimStart().startsWith('-----BEGIN') ? f : readFileSync(f, 'utf8'))),
    devMode: o.allowSample === true,
    sessionTimeoutSeconds: o.sessionTimeout ?? 300,
    ...(o.maxSessions === undefined ? {} : { maxSessions: o.maxSessions }),
    ...(o.authRate === undefined ? {} : { authRatePerMinute: o.authRate }),
    tokenLifetimeSeconds: o.tokenLifetime ?? 300,
    bodyLimitBytes: o.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: log,
    ...(tees === undefined ? {} : { verifier: { tees } }),
    ...(o.tokenSignerKey === undefined ? {} : { tokenSignerPem: readFileSync(o.tokenSignerKey, 'utf8') }),
    ...(o.insecureHttp === true ? {} : { https: { cert: readFileSync(o.tlsCert ?? ''), key: readFileSync(o.tlsKey ?? '') } }),
  });
  const address = await server.app.listen({ host: listen.host, port: listen.port });
  log.info({ address, storage: store.kind, https: o.insecureHttp !== true, devMode: o.allowSample === true }, 'kbs listening');
  // Machine-readable line for scripts and tests that start the KBS on port 0.
  process.stdout.write(`kbs listening on ${address}\n`);
  const stop = (sig: string): void => {
    log.info({ signal: sig }, 'kbs stopping');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  process.stderr.write(`kbs: ${isKccError(e) ? `${e.code}: ${e.message}` : messageOf(e)}\n`);
  process.exit(1);
});
