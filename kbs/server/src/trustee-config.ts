import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { KccError, messageOf } from '@kata-cc/errors';

/** The subset of our command line a trustee `kbs-config.toml` can fill in. */
export interface ConfigDefaults {
  listen?: string;
  insecureHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  storage?: string;
  adminKeyFiles?: string[];
  sessionTimeoutSeconds?: number;
  tokenLifetimeSeconds?: number;
  tokenSignerKey?: string;
  bodyLimitBytes?: number;
  /** Settings we read but do not honour, to tell the operator. */
  ignored: string[];
}

type Table = Record<string, unknown>;
const table = (v: unknown): Table => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Table) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Reads a trustee KBS config file (`kbs/config/kbs-config.toml` shape, v0.15 - v0.21) so an
 * operator can move to this KBS without rewriting it. Command-line options win over it.
 * SECURITY: trustee's `InsecureAllowAll` admin mode is never honoured; admin stays closed
 * unless a public key is configured.
 */
export function readTrusteeConfig(file: string): ConfigDefaults {
  let doc: Table;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Table;
  } catch (e) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'KBS_CONFIG_INVALID', message: `Cannot read the config file ${file}: ${messageOf(e).split('\n')[0] ?? ''}` });
    // (No cause and only the first line: the parser quotes the offending line, which may hold a password.)
  }
  const out: ConfigDefaults = { ignored: [] };
  const http = table(doc['http_server']);
  const sockets = http['sockets'];
  if (Array.isArray(sockets) && typeof sockets[0] === 'string') out.listen = sockets[0];
  if (typeof http['insecure_http'] === 'boolean') out.insecureHttp = http['insecure_http'];
  const cert = str(http['certificate']);
  const key = str(http['private_key']);
  if (cert !== undefined) out.tlsCert = cert;
  if (key !== undefined) out.tlsKey = key;
  const mib = num(http['payload_request_size']);
  if (mib !== undefined) out.bodyLimitBytes = Math.round(mib * 1024 * 1024);

  const as = table(doc['attestation_service']);
  const timeout = num(as['timeout']);
  if (timeout !== undefined) out.sessionTimeoutSeconds = timeout * 60;
  const broker = table(as['attestation_token_broker']);
  const duration = num(broker['duration_min']);
  if (duration !== undefined) out.tokenLifetimeSeconds = duration * 60;
  const signer = str(table(broker['signer'])['key_path']);
  if (signer !== undefined) out.tokenSignerKey = signer;

  const admin = table(doc['admin']);
  const keys: string[] = [];
  const legacy = str(admin['auth_public_key']);
  if (legacy !== undefined) keys.push(legacy);
  const personas = admin['personas'];
  if (Array.isArray(personas)) for (const p of personas) {
    const k = str(table(p)['public_key_path']);
    if (k !== undefined) keys.push(k);
  }
  if (keys.length > 0) out.adminKeyFiles = keys;
  const mode = str(admin['authorization_mode']) ?? str(admin['type']);
  if (mode === 'InsecureAllowAll' || admin['insecure_api'] === true) out.ignored.push('admin: InsecureAllowAll (the admin API is never open here)');
  if (str(admin['authorization_mode']) === 'AuthenticatedAuthorization') out.ignored.push('admin.authentication.bearer_jwt identity providers (use --admin-key)');

  const storage = table(doc['storage_backend']);
  const type = str(storage['storage_type']);
  const backends = table(storage['backends']);
  if (type === 'Memory') out.storage = 'memory:';
  else if (type === 'LocalFs' || type === 'LocalJson') {
    const dir = str(table(backends[type === 'LocalFs' ? 'local_fs' : 'local_json'])['dir_path']) ?? '/opt/confidential-containers/storage';
    out.storage = `sqlite:${path.join(dir, 'kbs.sqlite')}`;
  } else if (type === 'Postgres') {
    const pg = table(backends['postgres']);
    const url = str(pg['db_url']) ?? str(pg['url']);
    if (url !== undefined) out.storage = url;
    else out.ignored.push('storage_backend.backends.postgres without db_url');
  } else if (type !== undefined) out.ignored.push(`storage_backend.storage_type = "${type}"`);

  if (Array.isArray(table(doc['attestation_token'])['trusted_jwk_sets']) && (table(doc['attestation_token'])['trusted_jwk_sets'] as unknown[]).length > 0) {
    out.ignored.push('attestation_token.trusted_jwk_sets (only this KBS\'s own tokens are accepted)');
  }
  return out;
}
