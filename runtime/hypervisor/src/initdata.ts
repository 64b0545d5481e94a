import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { KccError } from '@kata-cc/errors';
import type { TeeProfile } from './config.js';

/** The pod annotation carrying base64(gzip(initdata.toml)) (kata `KATA_ANNO_CFG_HYPERVISOR_INIT_DATA`). */
export const INITDATA_ANNOTATION = 'io.katacontainers.config.hypervisor.cc_init_data';
/** Disk magic the agent scans for (kata-types initdata). */
export const INITDATA_MAGIC = 'initdata';

const MAX_DECOMPRESSED = 1 << 20; // k8s caps all annotations at 256 KiB; 1 MiB leaves room for gzip ratio
const ALGORITHMS = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' } as const;
export type InitdataAlgorithm = keyof typeof ALGORITHMS;

export interface Initdata {
  version: string;
  algorithm: InitdataAlgorithm;
  data: Record<string, string>;
  /** The exact decompressed TOML: the digest is over these bytes, never a re-serialization. */
  toml: Buffer;
  /** The gzip stream as received; the initdata disk carries it unchanged. */
  gzip: Buffer;
  /** H(algorithm) over `toml`. */
  digest: Buffer;
}

const bad = (message: string, cause?: unknown): KccError =>
  new KccError({ kind: 'INVALID_ARGUMENT', code: 'HV_INITDATA_INVALID', message: `Invalid initdata annotation: ${message}`, ...(cause === undefined ? {} : { cause }) });

/** Decodes and validates the annotation value (kata-types `initdata.rs` rules). */
export function decodeInitdata(annotation: string): Initdata {
  const b64 = annotation.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw bad('not standard padded base64');
  const gzip = Buffer.from(b64, 'base64');
  let toml: Buffer;
  try {
    toml = gunzipSync(gzip, { maxOutputLength: MAX_DECOMPRESSED });
  } catch (cause) {
    throw bad('not a gzip stream of at most 1 MiB', cause);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(toml.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw bad(`not TOML (${(cause as Error).message.split('\n')[0]})`, cause);
  }
  if (doc['version'] !== '0.1.0') throw bad(`version must be "0.1.0", got ${JSON.stringify(doc['version'] ?? null)}`);
  const algorithm = doc['algorithm'];
  if (typeof algorithm !== 'string' || !(algorithm in ALGORITHMS)) throw bad(`algorithm must be sha256, sha384 or sha512, got ${JSON.stringify(algorithm ?? null)}`);
  const rawData = doc['data'] ?? {};
  if (typeof rawData !== 'object' || rawData === null || Array.isArray(rawData)) throw bad('[data] must be a table of strings');
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawData)) {
    if (typeof v !== 'string') throw bad(`data."${k}" must be a string`);
    data[k] = v;
  }
  const digest = createHash(ALGORITHMS[algorithm as InitdataAlgorithm]).update(toml).digest();
  return { version: '0.1.0', algorithm: algorithm as InitdataAlgorithm, data, toml, gzip, digest };
}

/**
 * The digest fitted to the TEE's launch field (kata `adjust_digest`): zero-padded or truncated
 * to MRCONFIGID (TDX, 48 bytes) or HOST_DATA (SNP, 32 bytes); SE and none have no launch field.
 */
export function launchFieldDigest(profile: TeeProfile, digest: Buffer): Buffer | undefined {
  const size = profile === 'tdx' ? 48 : profile === 'snp' ? 32 : undefined;
  if (size === undefined) return undefined;
  const out = Buffer.alloc(size);
  digest.copy(out, 0, 0, Math.min(size, digest.length));
  return out;
}

/** The raw disk the agent reads: "initdata", u64 LE gzip length, gzip, zero padding to 512 B. */
export function initdataDiskImage(init: Initdata): Buffer {
  const len = 16 + init.gzip.length;
  const img = Buffer.alloc(Math.ceil(len / 512) * 512);
  img.write(INITDATA_MAGIC, 0, 'ascii');
  img.writeBigUInt64LE(BigInt(init.gzip.length), 8);
  init.gzip.copy(img, 16);
  return img;
}
