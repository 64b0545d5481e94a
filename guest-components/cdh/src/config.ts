import { parse as parseToml } from 'smol-toml';
import { cdhError } from './errors.js';

/** The default CDH ttRPC socket (guest-components `ttrpc-cdh`). */
export const DEFAULT_CDH_SOCKET = 'unix:///run/confidential-containers/cdh.sock';
/** The default AA socket the CDH asks for tokens. */
export const DEFAULT_AA_SOCKET = 'unix:///run/confidential-containers/attestation-agent/attestation-agent.sock';
/** `[[credentials]]` files must land under this directory (guest-components `CDH_BASE_DIR/kbs`). */
export const CREDENTIALS_DIR = '/run/confidential-containers/cdh/kbs';

export type KbcName = 'cc_kbc' | 'offline_fs_kbc';

/** `[image]` of cdh.toml: what PullImage uses (image-rs options). */
export interface CdhImageConfig {
  maxConcurrentLayerDownloadsPerImage: number;
  imageSecurityPolicyUri: string | undefined;
  imageSecurityPolicy: string | undefined;
  sigstoreConfigUri: string | undefined;
  authenticatedRegistryCredentialsUri: string | undefined;
  extraRootCertificates: string[];
  workDir: string;
  /** Registries reached over plain HTTP / without TLS verification (`[[image.registry_config.registry]] insecure = true`). */
  insecureRegistries: string[];
}

/** cdh.toml as guest-components parses it (`hub/src/config/mod.rs`). */
export interface CdhConfig {
  socket: string;
  skipSealedSecretVerification: boolean;
  aaSocket: string;
  kbc: { name: KbcName; url: string; kbsCert: string | undefined };
  credentials: Array<{ resourceUri: string; path: string }>;
  image: CdhImageConfig;
  logLevel: string | undefined;
  /** Keys this CDH does not know (the binary warns). */
  ignoredKeys: string[];
}

type Table = Record<string, unknown>;

function table(v: unknown, where: string): Table {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw cdhError('CDH_INVALID_CONFIG', `Invalid cdh.toml: "${where}" must be a table`);
  return v as Table;
}

function optString(t: Table, key: string, where: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw cdhError('CDH_INVALID_CONFIG', `Invalid cdh.toml: "${where}${key}" must be a string`);
  return v;
}

function unknown(t: Table, known: string[], where: string, out: string[]): void {
  for (const k of Object.keys(t)) if (!known.includes(k)) out.push(`${where}${k}`);
}

/**
 * Parses cdh.toml. Unknown keys are reported, not rejected: cdh.toml is also written for the
 * Rust CDH (often inside initdata) and may carry keys of its other features.
 */
export function parseCdhConfig(text: string): CdhConfig {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (cause) {
    throw cdhError('CDH_INVALID_CONFIG', `Cannot parse cdh.toml: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { cause });
  }
  const ignored: string[] = [];
  unknown(doc, ['socket', 'skip_sealed_secret_verification', 'aa', 'kbc', 'credentials', 'image', 'log'], '', ignored);
  const skip = doc['skip_sealed_secret_verification'] ?? false;
  if (typeof skip !== 'boolean') throw cdhError('CDH_INVALID_CONFIG', 'Invalid cdh.toml: "skip_sealed_secret_verification" must be a boolean');
  const aa = doc['aa'] === undefined ? {} : table(doc['aa'], 'aa');
  const kbc = doc['kbc'] === undefined ? {} : table(doc['kbc'], 'kbc');
  unknown(kbc, ['name', 'url', 'kbs_cert'], 'kbc.', ignored);
  const name = optString(kbc, 'name', 'kbc.') ?? 'cc_kbc';
  if (name !== 'cc_kbc' && name !== 'offline_fs_kbc') {
    throw cdhError('CDH_UNKNOWN_KBC', `Invalid cdh.toml: kbc.name "${name}" is not supported; expected cc_kbc or offline_fs_kbc`);
  }
  const url = optString(kbc, 'url', 'kbc.') ?? '';
  if (name === 'cc_kbc' && url === '') throw cdhError('CDH_INVALID_CONFIG', 'Invalid cdh.toml: kbc.url is required for cc_kbc');
  const credentials: CdhConfig['credentials'] = [];
  const creds = doc['credentials'] ?? [];
  if (!Array.isArray(creds)) throw cdhError('CDH_INVALID_CONFIG', 'Invalid cdh.toml: "credentials" must be an array of tables');
  for (const [i, c] of creds.entries()) {
    const t = table(c, `credentials[${i}]`);
    const resourceUri = optString(t, 'resource_uri', `credentials[${i}].`);
    const path = optString(t, 'path', `credentials[${i}].`);
    if (resourceUri === undefined || path === undefined) throw cdhError('CDH_INVALID_CONFIG', `Invalid cdh.toml: credentials[${i}] needs resource_uri and path`);
    credentials.push({ resourceUri, path });
  }
  const image = doc['image'] === undefined ? {} : table(doc['image'], 'image');
  const maxDl = image['max_concurrent_layer_downloads_per_image'] ?? 3;
  if (typeof maxDl !== 'number' || !Number.isInteger(maxDl) || maxDl < 1) throw cdhError('CDH_INVALID_CONFIG', 'Invalid cdh.toml: image.max_concurrent_layer_downloads_per_image must be a positive integer');
  const roots = image['extra_root_certificates'] ?? [];
  if (!Array.isArray(roots) || roots.some((r) => typeof r !== 'string')) throw cdhError('CDH_INVALID_CONFIG', 'Invalid cdh.toml: image.extra_root_certificates must be a list of PEM strings');
  const insecureRegistries: string[] = [];
  if (image['registry_config'] !== undefined) {
    const rc = table(image['registry_config'], 'image.registry_config');
    const regs = rc['registry'] ?? [];
    if (!Array.isArray(regs)) throw cdhError('CDH_INVALID_CONFIG', 'Invalid cdh.toml: image.registry_config.registry must be an array of tables');
    for (const [i, r] of regs.entries()) {
      const t = table(r, `image.registry_config.registry[${i}]`);
      const where = `image.registry_config.registry[${i}].`;
      const host = optString(t, 'location', where) ?? optString(t, 'prefix', where);
      if (t['insecure'] === true && host !== undefined) insecureRegistries.push(host);
    }
  }
  const log = doc['log'] === undefined ? {} : table(doc['log'], 'log');
  return {
    socket: optString(doc, 'socket', '') ?? DEFAULT_CDH_SOCKET,
    skipSealedSecretVerification: skip,
    aaSocket: optString(aa, 'aa_socket', 'aa.') ?? DEFAULT_AA_SOCKET,
    kbc: { name, url, kbsCert: optString(kbc, 'kbs_cert', 'kbc.') },
    credentials,
    image: {
      maxConcurrentLayerDownloadsPerImage: maxDl,
      imageSecurityPolicyUri: optString(image, 'image_security_policy_uri', 'image.'),
      imageSecurityPolicy: optString(image, 'image_security_policy', 'image.'),
      sigstoreConfigUri: optString(image, 'sigstore_config_uri', 'image.'),
      authenticatedRegistryCredentialsUri: optString(image, 'authenticated_registry_credentials_uri', 'image.'),
      extraRootCertificates: roots as string[],
      workDir: optString(image, 'work_dir', 'image.') ?? '/run/image-rs',
      insecureRegistries,
    },
    logLevel: optString(log, 'level', 'log.'),
    ignoredKeys: ignored,
  };
}
