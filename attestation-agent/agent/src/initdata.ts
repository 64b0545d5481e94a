import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import { aaError } from './errors.js';

/** The initdata document (trustee kbs/docs/initdata.md): version, algorithm and config files. */
export interface InitData {
  /** The TOML text exactly as delivered: the KBS hashes these bytes, so it is never re-serialized. */
  readonly text: string;
  readonly version: string;
  readonly algorithm: 'sha256' | 'sha384' | 'sha512';
  /** `[data]`: file name → content (`aa.toml`, `cdh.toml`, `policy.rego`, ...). */
  readonly data: Readonly<Record<string, string>>;
  /** `algorithm(text)`: bound to MRCONFIGID / HOST_DATA at launch and checked by the KBS. */
  readonly digest: Uint8Array;
}

const ALGORITHMS: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  sha256: 'sha256', sha384: 'sha384', sha512: 'sha512',
  // kata accepts the dashed spellings in annotations; normalize them.
  'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512',
};

/** Parses an initdata TOML document and computes its digest over the exact bytes. */
export function parseInitData(text: string): InitData {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (cause) {
    throw aaError('AA_INVALID_INITDATA', `Cannot parse initdata: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { cause });
  }
  const version = doc['version'];
  const alg = doc['algorithm'];
  if (typeof version !== 'string') throw aaError('AA_INVALID_INITDATA', 'Invalid initdata: "version" must be a string');
  if (typeof alg !== 'string' || ALGORITHMS[alg.toLowerCase()] === undefined) {
    throw aaError('AA_INVALID_INITDATA', `Invalid initdata: "algorithm" is ${JSON.stringify(alg)}; expected sha256, sha384 or sha512`);
  }
  const algorithm = ALGORITHMS[alg.toLowerCase()] ?? 'sha384';
  const rawData = doc['data'] ?? {};
  if (typeof rawData !== 'object' || rawData === null || Array.isArray(rawData)) throw aaError('AA_INVALID_INITDATA', 'Invalid initdata: "data" must be a table');
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawData)) {
    if (typeof v !== 'string') throw aaError('AA_INVALID_INITDATA', `Invalid initdata: "data.${k}" must be a string`);
    data[k] = v;
  }
  const digest = new Uint8Array(createHash(algorithm).update(text, 'utf8').digest());
  return { text, version, algorithm, data, digest };
}
