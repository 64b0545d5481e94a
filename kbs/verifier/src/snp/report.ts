/**
 * SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI spec, table "ATTESTATION_REPORT Structure"),
 * versions 2 to 5, 1184 bytes. Parsing is pure; `reportFromJson` rebuilds the exact signed
 * bytes from the `sev` crate's serde JSON that the guest-components AA sends.
 */
import { KccError } from '@kata-cc/errors';
import { Reader } from '../common/bytes.js';

export const REPORT_SIZE = 0x4a0;
export const SIGNED_SIZE = 0x2a0;
const MALFORMED = 'VERIFIER_SNP_REPORT_MALFORMED';

export type Generation = 'Milan' | 'Genoa' | 'Turin';

/** TCB_VERSION fields; the byte layout differs on Turin (an FMC SPL byte first). */
export interface Tcb {
  readonly fmc?: number;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
}

export interface SnpReport {
  readonly raw: Uint8Array;
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: bigint;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly sigAlgo: number;
  readonly currentTcb: Uint8Array;
  readonly platInfo: bigint;
  readonly keyInfo: number;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: Uint8Array;
  readonly cpuidFamId: number;
  readonly cpuidModId: number;
  readonly cpuidStep: number;
  readonly chipId: Uint8Array;
  readonly committedTcb: Uint8Array;
  readonly currentVersion: { build: number; minor: number; major: number };
  readonly committedVersion: { build: number; minor: number; major: number };
  readonly launchTcb: Uint8Array;
  readonly signatureR: Uint8Array;
  readonly signatureS: Uint8Array;
}

function fail(message: string): never {
  throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message });
}

export function parseSnpReport(raw: Uint8Array): SnpReport {
  if (raw.length < REPORT_SIZE) fail(`SNP report is ${raw.length} bytes, expected ${REPORT_SIZE}`);
  const buf = raw.subarray(0, REPORT_SIZE);
  const r = new Reader(buf, MALFORMED);
  const version = r.u32('version');
  if (version < 2 || version > 5) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_SNP_REPORT_UNSUPPORTED', message: `SNP report version ${version} is not supported (2 to 5)` });
  }
  const guestSvn = r.u32('guest_svn');
  const policy = r.u64('policy');
  const familyId = r.bytes(16, 'family_id');
  const imageId = r.bytes(16, 'image_id');
  const vmpl = r.u32('vmpl');
  const sigAlgo = r.u32('signature_algo');
  const currentTcb = r.bytes(8, 'current_tcb');
  const platInfo = r.u64('platform_info');
  const keyInfo = r.u32('key_info');
  r.u32('reserved');
  const reportData = r.bytes(64, 'report_data');
  const measurement = r.bytes(48, 'measurement');
  const hostData = r.bytes(32, 'host_data');
  const idKeyDigest = r.bytes(48, 'id_key_digest');
  const authorKeyDigest = r.bytes(48, 'author_key_digest');
  const reportId = r.bytes(32, 'report_id');
  const reportIdMa = r.bytes(32, 'report_id_ma');
  const reportedTcb = r.bytes(8, 'reported_tcb');
  const cpuidFamId = r.u8('cpuid_fam_id');
  const cpuidModId = r.u8('cpuid_mod_id');
  const cpuidStep = r.u8('cpuid_step');
  r.pos = 0x1a0;
  const chipId = r.bytes(64, 'chip_id');
  const committedTcb = r.bytes(8, 'committed_tcb');
  const currentVersion = { build: r.u8('current_build'), minor: r.u8('current_minor'), major: r.u8('current_major') };
  r.u8('reserved');
  const committedVersion = { build: r.u8('committed_build'), minor: r.u8('committed_minor'), major: r.u8('committed_major') };
  r.u8('reserved');
  const launchTcb = r.bytes(8, 'launch_tcb');
  r.pos = SIGNED_SIZE;
  const signatureR = r.bytes(72, 'signature r');
  const signatureS = r.bytes(72, 'signature s');
  return {
    raw: buf, version, guestSvn, policy, familyId, imageId, vmpl, sigAlgo, currentTcb, platInfo, keyInfo,
    reportData, measurement, hostData, idKeyDigest, authorKeyDigest, reportId, reportIdMa, reportedTcb,
    cpuidFamId, cpuidModId, cpuidStep, chipId, committedTcb, currentVersion, committedVersion, launchTcb,
    signatureR, signatureS,
  };
}

/** Processor generation from CPUID (report v3+); undefined for v2 reports. */
export function generationFromCpuid(report: SnpReport): Generation | undefined {
  if (report.version < 3) return undefined;
  const fam = report.cpuidFamId;
  const mod = report.cpuidModId;
  if (fam === 0x19 && mod <= 0x0f) return 'Milan';
  if (fam === 0x19 && ((mod >= 0x10 && mod <= 0x1f) || (mod >= 0xa0 && mod <= 0xaf))) return 'Genoa';
  if (fam === 0x1a && mod <= 0x11) return 'Turin';
  return undefined;
}

export function decodeTcb(raw: Uint8Array, gen: Generation): Tcb {
  if (gen === 'Turin') return { fmc: raw[0]!, bootloader: raw[1]!, tee: raw[2]!, snp: raw[3]!, microcode: raw[7]! };
  return { bootloader: raw[0]!, tee: raw[1]!, snp: raw[6]!, microcode: raw[7]! };
}

export function encodeTcb(t: Tcb): Uint8Array {
  const out = new Uint8Array(8);
  if (t.fmc !== undefined && t.fmc !== null) {
    out.set([t.fmc, t.bootloader, t.tee, t.snp], 0);
  } else {
    out[0] = t.bootloader;
    out[1] = t.tee;
    out[6] = t.snp;
  }
  out[7] = t.microcode;
  return out;
}
