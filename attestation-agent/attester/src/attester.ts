import type { Logger } from '@kata-cc/log';
import type { Tee } from './tee.js';

/** Hash algorithms of runtime-measurement registers and initdata digests. */
export type MeasurementAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** The outcome of binding an initdata digest to the TEE's launch-time field. */
export type InitDataBinding =
  /** The TEE carries a launch-time field (MRCONFIGID, HOST_DATA, ...) and it equals the digest. */
  | 'verified'
  /** The digest was extended into a runtime register (vTPM PCR 8): bound, but not at launch. */
  | 'extended'
  /** The TEE has no field to bind initdata to; the KBS checks `init-data` alone. */
  | 'unsupported';

/**
 * Runtime measurement (RTMR / PCR extension), an optional ability of an attester
 * (guest-components `extend_runtime_measurement`, `get_runtime_measurement`, `pcr_to_ccmr`,
 * `ccel_hash_algorithm`). Registers are addressed by TCG PCR index, as the AA API does; the
 * attester maps a PCR to its own register (TDX: PCR 1,7 → RTMR0; 2..6 → RTMR1; 8..15 → RTMR2;
 * others → RTMR3; a TPM uses the PCR itself).
 */
export interface RuntimeMeasurement {
  /** The hash algorithm of the registers (and of AAEL digests): sha384 for TDX RTMRs. */
  readonly algorithm: MeasurementAlgorithm;
  /**
   * The Confidential Computing measurement register index (UEFI CC event log numbering; TDX:
   * 0 = MRTD, 1..4 = RTMR0..3) that `pcr` maps to: the register number written in AAEL entries.
   */
  ccmrForPcr(pcr: number): number;
  /** Extends the register `pcr` maps to with `digest` (length of `algorithm`). */
  extend(digest: Uint8Array, pcr: number): Promise<void>;
  /** The current value of the register `pcr` maps to. */
  read(pcr: number): Promise<Uint8Array>;
}

/**
 * An attester produces the TEE evidence for one platform (guest-components `trait Attester`).
 *
 * Implementations live in one folder per TEE (`src/<tee>/`), are constructed complete with
 * `(config, deps)`, and are picked only by `createAttester()` in `registry.ts`.
 */
export interface Attester {
  /** The primary TEE this attester speaks for; it is the `tee` of the KBS `Request`. */
  readonly tee: Tee;
  /**
   * Returns the evidence JSON value sent as `tee-evidence.primary_evidence` (and returned by the
   * AA's GetEvidence as UTF-8 JSON). `reportData` is the raw runtime-data digest (48 bytes for
   * SHA-384, 64 for SHA-512) or the caller's bytes; the attester zero-pads it to its TEE's
   * report_data size and rejects it when longer (`ATTESTER_REPORT_DATA_TOO_LONG`).
   * May be called concurrently; each call produces fresh evidence.
   */
  getEvidence(reportData: Uint8Array): Promise<unknown>;
  /**
   * Optional: the report data to pass to `getEvidence` for a KBS challenge, when the TEE needs
   * more than the runtime-data digest. IBM SE: the challenge nonce is a JSON
   * `SeAttestationRequest` into which the digest is injected (kbs_protocol does this for
   * `Tee::Se`). Absent means `getEvidence(runtimeDigest)`.
   */
  reportDataForChallenge?(nonce: string, runtimeDigest: Uint8Array): Promise<Uint8Array>;
  /** Present when the TEE can extend runtime measurement registers. */
  readonly runtimeMeasurement?: RuntimeMeasurement;
  /**
   * Checks `digest` (the initdata digest) against the TEE's launch-time field, padded or
   * truncated to its size. Throws `ATTESTER_INITDATA_MISMATCH` when it differs. Absent means
   * the TEE has no such field (same as resolving `'unsupported'`).
   */
  bindInitData?(digest: Uint8Array): Promise<InitDataBinding>;
}

/** What every attester and platform probe may use; tests point `root` at a fake tree. */
export interface AttesterDeps {
  logger?: Logger;
  /**
   * Prefix prepended to absolute platform paths (`/dev`, `/sys`, `/run`); default `''`.
   * Lets tests run a real attester against a directory laid out like the platform.
   */
  root?: string;
  /** Environment variables consulted by attesters (e.g. `AA_TPM_DEVICE`); default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Detects whether this machine is the TEE of one attester module. Must not throw for "absent"
 * (resolve false); may throw for a platform that is present but broken.
 */
export type DetectPlatform = (deps: AttesterDeps) => Promise<boolean>;
