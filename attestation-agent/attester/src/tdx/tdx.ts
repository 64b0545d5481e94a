/**
 * The TDX attester (guest-components `attester/src/tdx`): the TD quote through configfs-tsm
 * (provider `tdx_guest`; the host's QGS signs it), the CC event log from the ACPI CCEL table
 * (plus the AA event log when present), RTMR extension through the Linux >= 6.16 sysfs
 * measurement files, and init-data checked against MRCONFIGID read from a fresh quote.
 * Evidence: `{"cc_eventlog": b64 | null, "quote": b64}`.
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import type { Attester, AttesterDeps, InitDataBinding, RuntimeMeasurement } from '../attester.js';
import { attesterError, padReportData } from '../errors.js';
import type { Tee } from '../tee.js';
import { trimEventLog } from '../common/eventlog.js';
import { nodeTsmFs, tsmReport, TSM_REPORT_DIR, type TsmFs } from '../common/tsm.js';

export const CCEL_PATH = '/sys/firmware/acpi/tables/data/CCEL';
export const AAEL_PATH = '/run/attestation-agent/eventlog';
const RTMR_DIR = '/sys/devices/virtual/misc/tdx_guest/measurements';

export interface TdxAttesterConfig {
  /** configfs-tsm file operations; tests pass a fake kernel. */
  tsm?: TsmFs;
}

export interface TdxEvidence {
  cc_eventlog: string | null;
  quote: string;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/** TDX guest: the tdx_guest misc device and configfs-tsm are present. */
export async function detectTdx(deps: AttesterDeps): Promise<boolean> {
  const root = deps.root ?? '';
  return (await exists(`${root}/dev/tdx_guest`)) && (await exists(root + TSM_REPORT_DIR));
}

/** PCR → RTMR (guest-components `pcr_to_ccmr`): 1,7 → 0; 2..6 → 1; 8..15 → 2; else 3. */
export function rtmrForPcr(pcr: number): number {
  if (pcr === 1 || pcr === 7) return 0;
  if (pcr >= 2 && pcr <= 6) return 1;
  if (pcr >= 8 && pcr <= 15) return 2;
  return 3;
}

class TdxRtmrs implements RuntimeMeasurement {
  readonly algorithm = 'sha384' as const;
  readonly #root: string;
  constructor(root: string) {
    this.#root = root;
  }
  ccmrForPcr(pcr: number): number {
    return rtmrForPcr(pcr) + 1;
  }
  #file(pcr: number): string {
    return `${this.#root}${RTMR_DIR}/rtmr${rtmrForPcr(pcr)}:sha384`;
  }
  async extend(digest: Uint8Array, pcr: number): Promise<void> {
    if (digest.length !== 48) throw attesterError('ATTESTER_INVALID_ARGUMENT', `Cannot extend an RTMR with a ${digest.length}-byte digest (SHA-384 expected)`);
    try {
      await writeFile(this.#file(pcr), digest);
    } catch (cause) {
      throw attesterError('ATTESTER_MEASUREMENT_FAILED', `Cannot extend RTMR${rtmrForPcr(pcr)} (needs Linux >= 6.16 tdx_guest measurements)`, { cause });
    }
  }
  async read(pcr: number): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.#file(pcr)));
    } catch (cause) {
      throw attesterError('ATTESTER_MEASUREMENT_FAILED', `Cannot read RTMR${rtmrForPcr(pcr)}`, { cause });
    }
  }
}

/** MRCONFIGID of a v4/v5 quote (header 48 bytes, v5 adds type u16 + size u32). */
export function quoteMrConfigId(quote: Uint8Array): Uint8Array {
  const version = quote[0]! | (quote[1]! << 8);
  const off = 48 + (version === 5 ? 6 : 0) + 16 + 48 + 48 + 8 + 8 + 8 + 48;
  return quote.subarray(off, off + 48);
}

export class TdxAttester implements Attester {
  readonly tee: Tee = 'tdx';
  readonly runtimeMeasurement: RuntimeMeasurement;
  readonly #root: string;
  readonly #tsm: TsmFs;
  readonly #aael: string;

  constructor(config: TdxAttesterConfig = {}, deps: AttesterDeps = {}) {
    this.#root = deps.root ?? '';
    this.#tsm = config.tsm ?? nodeTsmFs;
    this.#aael = (deps.env ?? process.env)['AAEL_PATH'] ?? `${this.#root}${AAEL_PATH}`;
    this.runtimeMeasurement = new TdxRtmrs(this.#root);
  }

  async #quote(reportData: Uint8Array): Promise<Uint8Array> {
    return (await tsmReport({ provider: 'tdx_guest', inblob: padReportData(reportData, 64) }, this.#root, this.#tsm)).outblob;
  }

  async #eventLog(): Promise<Uint8Array | undefined> {
    const ccel = await readFile(`${this.#root}${CCEL_PATH}`).catch(() => undefined);
    if (!ccel) return undefined;
    const aael = await readFile(this.#aael).catch(() => Buffer.alloc(0));
    return Buffer.concat([trimEventLog(ccel), aael]);
  }

  async getEvidence(reportData: Uint8Array): Promise<TdxEvidence> {
    const quote = await this.#quote(reportData);
    const log = await this.#eventLog();
    return { cc_eventlog: log ? Buffer.from(log).toString('base64') : null, quote: Buffer.from(quote).toString('base64') };
  }

  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    const want = new Uint8Array(48);
    want.set(digest.subarray(0, 48));
    const got = quoteMrConfigId(await this.#quote(new Uint8Array(64)));
    // SECURITY: MRCONFIGID is set by the host at TD launch and measured; it must be our init-data.
    if (!Buffer.from(got).equals(Buffer.from(want))) {
      throw attesterError('ATTESTER_INITDATA_MISMATCH', 'MRCONFIGID does not match the init-data digest', {
        details: { mrconfigid: Buffer.from(got).toString('hex'), expected: Buffer.from(want).toString('hex') },
      });
    }
    return 'verified';
  }
}
