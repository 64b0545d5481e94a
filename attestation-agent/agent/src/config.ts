import { parse as parseToml } from 'smol-toml';
import type { TeeKeyAlgorithm } from '@kata-cc/kbs-client';
import { aaError } from './errors.js';

/** aa.toml as guest-components parses it (`attestation-agent/src/config/mod.rs`). */
export interface AaConfig {
  /** `[token_configs.kbs]`: where GetToken("kbs") attests. */
  kbs: { url: string; cert?: string; teeKeyAlgorithm: TeeKeyAlgorithm } | undefined;
  /** `[token_configs.coco_as]`: parsed for compatibility; GetToken("coco_as") is not supported. */
  cocoAs: { url: string } | undefined;
  /** `[eventlog_config]`: the AA event log (AAEL) and the PCR it extends by default. */
  eventlog: { enable: boolean; initPcr: number };
  /** `[log] level`. */
  logLevel: string | undefined;
  /** Keys the file has that this AA does not know; the binary warns about them. */
  ignoredKeys: string[];
}

/** The defaults of guest-components: no KBS, event log off, PCR 17. */
export const DEFAULT_AA_CONFIG: AaConfig = {
  kbs: undefined,
  cocoAs: undefined,
  eventlog: { enable: false, initPcr: 17 },
  logLevel: undefined,
  ignoredKeys: [],
};

type Table = Record<string, unknown>;

// Checked here rather than with kbs-client's parser so that the KBS client (HTTP, JOSE) is only
// loaded on the first GetToken; `satisfies` keeps the list in step with kbs-client's type.
const TEE_KEY_ALGORITHMS = ['ECDH-ES+A256KW-P256', 'ECDH-ES+A256KW-P521', 'RSA-OAEP-256'] as const satisfies readonly TeeKeyAlgorithm[];

function parseTeeKeyAlgorithm(value: string): TeeKeyAlgorithm {
  if ((TEE_KEY_ALGORITHMS as readonly string[]).includes(value)) return value as TeeKeyAlgorithm;
  throw new Error(`unknown algorithm ${value}`);
}

function table(v: unknown, where: string): Table {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw aaError('AA_INVALID_CONFIG', `Invalid aa.toml: "${where}" must be a table`);
  return v as Table;
}

function str(t: Table, key: string, where: string, required: true): string;
function str(t: Table, key: string, where: string, required: false): string | undefined;
function str(t: Table, key: string, where: string, required: boolean): string | undefined {
  const v = t[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw aaError('AA_INVALID_CONFIG', `Invalid aa.toml: "${where}.${key}" must be a string`);
  return v;
}

function noteUnknown(t: Table, known: string[], where: string, out: string[]): void {
  for (const k of Object.keys(t)) if (!known.includes(k)) out.push(where === '' ? k : `${where}.${k}`);
}

/**
 * Parses aa.toml. Unknown keys are collected in `ignoredKeys` rather than rejected: aa.toml
 * files are written for the Rust AA too (often inside initdata) and may carry its newer keys.
 */
export function parseAaConfig(text: string): AaConfig {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (cause) {
    throw aaError('AA_INVALID_CONFIG', `Cannot parse aa.toml: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { cause });
  }
  const ignored: string[] = [];
  noteUnknown(doc, ['token_configs', 'eventlog_config', 'log'], '', ignored);
  const config: AaConfig = { ...DEFAULT_AA_CONFIG, eventlog: { ...DEFAULT_AA_CONFIG.eventlog }, ignoredKeys: ignored };
  if (doc['token_configs'] !== undefined) {
    const tc = table(doc['token_configs'], 'token_configs');
    noteUnknown(tc, ['kbs', 'coco_as'], 'token_configs', ignored);
    if (tc['kbs'] !== undefined) {
      const kbs = table(tc['kbs'], 'token_configs.kbs');
      noteUnknown(kbs, ['url', 'cert', 'tee_key_algorithm'], 'token_configs.kbs', ignored);
      const url = str(kbs, 'url', 'token_configs.kbs', true);
      const cert = str(kbs, 'cert', 'token_configs.kbs', false);
      const alg = str(kbs, 'tee_key_algorithm', 'token_configs.kbs', false);
      let teeKeyAlgorithm: TeeKeyAlgorithm;
      try {
        teeKeyAlgorithm = parseTeeKeyAlgorithm(alg ?? 'ECDH-ES+A256KW-P256');
      } catch (cause) {
        throw aaError('AA_INVALID_CONFIG', `Invalid aa.toml: "token_configs.kbs.tee_key_algorithm" is "${alg}"; expected ECDH-ES+A256KW-P256, ECDH-ES+A256KW-P521 or RSA-OAEP-256`, { cause });
      }
      config.kbs = { url, teeKeyAlgorithm, ...(cert === undefined || cert.trim() === '' ? {} : { cert }) };
    }
    if (tc['coco_as'] !== undefined) {
      const as = table(tc['coco_as'], 'token_configs.coco_as');
      config.cocoAs = { url: str(as, 'url', 'token_configs.coco_as', true) };
    }
  }
  if (doc['eventlog_config'] !== undefined) {
    const ev = table(doc['eventlog_config'], 'eventlog_config');
    noteUnknown(ev, ['enable_eventlog', 'init_pcr', 'eventlog_algorithm'], 'eventlog_config', ignored);
    const enable = ev['enable_eventlog'] ?? false;
    const pcr = ev['init_pcr'] ?? 17;
    if (typeof enable !== 'boolean') throw aaError('AA_INVALID_CONFIG', 'Invalid aa.toml: "eventlog_config.enable_eventlog" must be a boolean');
    if (typeof pcr !== 'number' || !Number.isInteger(pcr) || pcr < 0 || pcr > 23) {
      throw aaError('AA_INVALID_CONFIG', 'Invalid aa.toml: "eventlog_config.init_pcr" must be an integer 0..23');
    }
    config.eventlog = { enable, initPcr: pcr };
  }
  if (doc['log'] !== undefined) {
    const log = table(doc['log'], 'log');
    const level = str(log, 'level', 'log', false);
    if (level !== undefined) config.logLevel = level;
  }
  return config;
}

/**
 * `AA_KBC_PARAMS` / `agent.aa_kbc_params` (`cc_kbc::http://kbs:8080`): the legacy way to name
 * the KBS; used when no aa.toml gives one.
 */
export function kbsUrlFromKbcParams(params: string): string {
  const m = /^([a-z_]+)::(.+)$/.exec(params.trim());
  if (m === null || m[1] !== 'cc_kbc') {
    throw aaError('AA_INVALID_CONFIG', `Invalid KBC params "${params}": expected cc_kbc::<KBS URL>`);
  }
  return m[2] ?? '';
}
