import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeMeasurement } from '@kata-cc/attester';
import { aaError } from './errors.js';

/** Where guest-components keeps the AA event log; the TDX attester appends it to the CCEL. */
export const DEFAULT_EVENTLOG_DIR = '/run/attestation-agent';

/** TCG `EV_EVENT_TAG`, and the tagged-event id of AAEL (ASCII "AAEL" as a little-endian u32). */
const EV_EVENT_TAG = 0x6;
const AAEL_TAGGED_EVENT_ID = 0x4141454c;
const TCG_ALG: Record<'sha256' | 'sha384' | 'sha512', number> = { sha256: 0xb, sha384: 0xc, sha512: 0xd };

/** One AAEL event: `<Domain> <Operation> <Content>`, each printable, the first two without spaces. */
export interface AaelEvent {
  domain: string;
  operation: string;
  content: string;
}

/** Checks the AAEL field rules (trustee confidential-containers-eventlog.md) and returns the plaintext. */
export function aaelPlaintext(event: AaelEvent): string {
  const printable = /^[\x21-\x7e]+$/;
  if (!printable.test(event.domain) || !printable.test(event.operation)) {
    throw aaError('AA_INVALID_EVENT', 'Invalid event: domain and operation must be non-empty printable ASCII without spaces');
  }
  // SECURITY: a newline or control character in content would let a caller forge a second entry.
  if (!/^[\x20-\x7e]*$/.test(event.content)) throw aaError('AA_INVALID_EVENT', 'Invalid event: content must be printable ASCII without newlines');
  return `${event.domain} ${event.operation} ${event.content}`;
}

/**
 * A TCG2 crypto-agile event entry wrapping an AAEL tagged event (guest-components
 * `Tcg2EventEntry`): register u32, type u32 (EV_EVENT_TAG), digest count u32 (1), algorithm u16,
 * digest, event size u32, event = {tag id u32, size u32, plaintext}; all little endian. The
 * digest is over the event bytes, and that digest is what extends the register.
 */
export function encodeAaelEntry(plaintext: string, ccmr: number, algorithm: 'sha256' | 'sha384' | 'sha512'): { entry: Buffer; digest: Buffer } {
  const text = Buffer.from(plaintext, 'utf8');
  const event = Buffer.alloc(8 + text.length);
  event.writeUInt32LE(AAEL_TAGGED_EVENT_ID, 0);
  event.writeUInt32LE(text.length, 4);
  text.copy(event, 8);
  const digest = createHash(algorithm).update(event).digest();
  const head = Buffer.alloc(14);
  head.writeUInt32LE(ccmr, 0);
  head.writeUInt32LE(EV_EVENT_TAG, 4);
  head.writeUInt32LE(1, 8);
  head.writeUInt16LE(TCG_ALG[algorithm], 12);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(event.length, 0);
  return { entry: Buffer.concat([head, digest, size, event]), digest };
}

/** Reads the AAEL plaintexts back from a log (for tests and diagnostics). */
export function decodeAaelLog(log: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  const lens: Record<number, number> = { 0xb: 32, 0xc: 48, 0xd: 64 };
  while (at < log.length) {
    if (log.length - at < 14) throw aaError('AA_EVENTLOG_FAILED', 'Truncated AAEL entry');
    const type = log.readUInt32LE(at + 4);
    const count = log.readUInt32LE(at + 8);
    const dlen = lens[log.readUInt16LE(at + 12)];
    if (type !== EV_EVENT_TAG || count !== 1 || dlen === undefined) throw aaError('AA_EVENTLOG_FAILED', 'Unexpected AAEL entry header');
    at += 14 + dlen;
    const size = log.readUInt32LE(at);
    const event = log.subarray(at + 4, at + 4 + size);
    if (event.length !== size || event.readUInt32LE(0) !== AAEL_TAGGED_EVENT_ID || event.readUInt32LE(4) !== size - 8) throw aaError('AA_EVENTLOG_FAILED', 'Malformed AAEL tagged event');
    out.push(event.subarray(8).toString('utf8'));
    at += 4 + size;
  }
  return out;
}

/**
 * The AA event log: appends an entry and extends the register, crash-safely. Order (as in
 * guest-components): write a write-ahead record (offset, expected register value, plaintext),
 * extend the register, append the entry, delete the record. On start, a leftover record is
 * replayed so that log and register agree again.
 */
export class EventLog {
  readonly #file: FileHandle;
  readonly #rm: RuntimeMeasurement;
  readonly #walPath: string;
  readonly #pcr: number;
  #size: number;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(file: FileHandle, size: number, rm: RuntimeMeasurement, walPath: string, pcr: number) {
    this.#file = file;
    this.#size = size;
    this.#rm = rm;
    this.#walPath = walPath;
    this.#pcr = pcr;
  }

  /** Opens (or creates) `<dir>/eventlog` and recovers from an interrupted append. */
  static async open(dir: string, rm: RuntimeMeasurement, defaultPcr: number): Promise<EventLog> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const logPath = path.join(dir, 'eventlog');
    const walPath = path.join(dir, '.wal_event_entry');
    const file = await open(logPath, 'a+', 0o600);
    const size = (await file.stat()).size;
    const log = new EventLog(file, size, rm, walPath, defaultPcr);
    await log.#recover();
    return log;
  }

  /** The PCR used when a request names none (`[eventlog_config] init_pcr`). */
  get defaultPcr(): number {
    return this.#pcr;
  }

  /** Appends `event` and extends the register `pcr` maps to; serialized per log. */
  extend(event: AaelEvent, pcr: number = this.#pcr): Promise<void> {
    const run = this.#queue.then(() => this.#extend(event, pcr));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#file.close();
  }

  async #extend(event: AaelEvent, pcr: number): Promise<void> {
    const plaintext = aaelPlaintext(event);
    const { entry, digest } = encodeAaelEntry(plaintext, this.#rm.ccmrForPcr(pcr), this.#rm.algorithm);
    const current = await this.#rm.read(pcr);
    const expected = createHash(this.#rm.algorithm).update(current).update(digest).digest();
    await this.#writeWal(this.#size, pcr, expected, plaintext);
    await this.#rm.extend(digest, pcr);
    await this.#append(entry, this.#size);
    await rm(this.#walPath, { force: true });
  }

  async #append(entry: Buffer, offset: number): Promise<void> {
    await this.#file.truncate(offset);
    await this.#file.write(entry, 0, entry.length, offset);
    await this.#file.datasync();
    this.#size = offset + entry.length;
  }

  async #writeWal(offset: number, pcr: number, expected: Buffer, plaintext: string): Promise<void> {
    const head = Buffer.alloc(12);
    head.writeBigUInt64LE(BigInt(offset), 0);
    head.writeUInt32LE(pcr, 8);
    await writeFile(this.#walPath, Buffer.concat([head, expected, Buffer.from(plaintext, 'utf8')]), { mode: 0o600 });
  }

  async #recover(): Promise<void> {
    let wal: Buffer;
    try {
      wal = await readFile(this.#walPath);
    } catch {
      return;
    }
    const dlen = { sha256: 32, sha384: 48, sha512: 64 }[this.#rm.algorithm];
    if (wal.length < 12 + dlen) throw aaError('AA_EVENTLOG_FAILED', `Cannot recover the event log: ${this.#walPath} is truncated; delete it and restart`);
    const offset = Number(wal.readBigUInt64LE(0));
    const pcr = wal.readUInt32LE(8);
    const expected = wal.subarray(12, 12 + dlen);
    const plaintext = wal.subarray(12 + dlen).toString('utf8');
    const { entry, digest } = encodeAaelEntry(plaintext, this.#rm.ccmrForPcr(pcr), this.#rm.algorithm);
    const current = Buffer.from(await this.#rm.read(pcr));
    if (!current.equals(expected)) {
      // SECURITY: extend only when that yields exactly the recorded value; anything else means
      // someone else extended the register and the log can no longer be trusted to replay it.
      const next = createHash(this.#rm.algorithm).update(current).update(digest).digest();
      if (!next.equals(expected)) throw aaError('AA_EVENTLOG_FAILED', `Cannot recover the event log: PCR ${pcr} was extended by someone else since the interrupted append`);
      await this.#rm.extend(digest, pcr);
    }
    await this.#append(entry, offset);
    await rm(this.#walPath, { force: true });
  }
}
