import { createHash } from 'node:crypto';
import { mkdir, open, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'smol-toml';
import { agentError } from './errors.js';

/** initdata as kata defines it: a TOML document with version, algorithm and data files. */
export interface Initdata {
  version: string;
  algorithm: 'sha256' | 'sha384' | 'sha512';
  data: Record<string, string>;
  /** The exact TOML bytes (the digest is over these, not over a canonical form). */
  toml: Buffer;
  /** H(algorithm) over `toml`, hex. */
  digest: string;
  device: string;
}

const MAGIC = Buffer.from('initdata');
/** Raw initdata disks are small; refuse anything that claims more (malformed or hostile). */
const MAX_PAYLOAD = 16 << 20;

/** Parses and validates the initdata TOML (kata-types: version must be 0.1.0). */
export function parseInitdata(toml: Buffer, device = ''): Initdata {
  let doc: Record<string, unknown>;
  try {
    doc = parse(toml.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw agentError('AGENT_INITDATA_INVALID', `initdata is not valid TOML: ${(cause as Error).message}`, cause);
  }
  const version = doc['version'];
  const algorithm = doc['algorithm'];
  if (version !== '0.1.0') throw agentError('AGENT_INITDATA_INVALID', `Unsupported initdata version ${JSON.stringify(version)} (expected "0.1.0")`);
  if (algorithm !== 'sha256' && algorithm !== 'sha384' && algorithm !== 'sha512') {
    throw agentError('AGENT_INITDATA_INVALID', `Unsupported initdata algorithm ${JSON.stringify(algorithm)}`);
  }
  const data: Record<string, string> = {};
  const raw = doc['data'];
  if (raw !== undefined) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw agentError('AGENT_INITDATA_INVALID', 'initdata "data" must be a table of strings');
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v !== 'string') throw agentError('AGENT_INITDATA_INVALID', `initdata data.${k} must be a string`);
      data[k] = v;
    }
  }
  return { version, algorithm, data, toml, digest: createHash(algorithm).update(toml).digest('hex'), device };
}

/** Decodes the raw disk layout: "initdata" magic, u64 LE length, gzip(TOML). */
export function decodeInitdataDisk(head: Buffer, readPayload: (len: number) => Buffer): Buffer | undefined {
  if (head.length < 16 || !head.subarray(0, 8).equals(MAGIC)) return undefined;
  const len = head.readBigUInt64LE(8);
  if (len === 0n || len > BigInt(MAX_PAYLOAD)) throw agentError('AGENT_INITDATA_INVALID', `initdata payload length ${len} is out of range`);
  try {
    return gunzipSync(readPayload(Number(len)), { maxOutputLength: MAX_PAYLOAD });
  } catch (cause) {
    throw agentError('AGENT_INITDATA_INVALID', 'initdata payload is not valid gzip', cause);
  }
}

/** Scans /dev/vd* and /dev/sd* for the initdata magic (kata's agent does the same). */
export async function readInitdataDevice(devDir = '/dev'): Promise<Initdata | undefined> {
  const names = (await readdir(devDir).catch(() => [] as string[])).filter((n) => /^(vd|sd)[a-z]+$/.test(n)).sort();
  for (const n of names) {
    const dev = path.join(devDir, n);
    const fh = await open(dev, 'r').catch(() => undefined);
    if (!fh) continue;
    try {
      const head = Buffer.alloc(16);
      await fh.read(head, 0, 16, 0);
      if (!head.subarray(0, 8).equals(MAGIC)) continue;
      const len = Number(head.readBigUInt64LE(8));
      const payload = Buffer.alloc(Math.min(len, MAX_PAYLOAD));
      await fh.read(payload, 0, payload.length, 16);
      const toml = decodeInitdataDisk(head, () => payload);
      if (toml) return parseInitdata(toml, dev);
    } finally {
      await fh.close();
    }
  }
  return undefined;
}

export const INITDATA_DIR = '/run/confidential-containers/initdata';

/** Writes initdata.toml, aa.toml and cdh.toml where the AA and CDH are told to read them. */
export async function writeInitdataFiles(init: Initdata, dir = INITDATA_DIR): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out: Record<string, string> = { 'initdata.toml': path.join(dir, 'initdata.toml') };
  await writeFile(out['initdata.toml'] as string, init.toml, { mode: 0o600 });
  for (const name of ['aa.toml', 'cdh.toml']) {
    const text = init.data[name];
    if (text === undefined) continue;
    out[name] = path.join(dir, name);
    await writeFile(out[name] as string, text, { mode: 0o600 });
  }
  return out;
}
