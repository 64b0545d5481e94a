/**
 * The SNP evidence as the guest-components AA sends it (`sev` crate serde):
 * `{"attestation_report": {...}, "cert_chain": [{"cert_type": "VCEK", "data": [..]}] | null}`.
 * The report object is turned back into the exact 1184 signed bytes (reserved bytes are zero,
 * as the firmware writes them); any mismatch simply fails the signature check.
 */
import { KccError } from '@kata-cc/errors';
import { encodeTcb, REPORT_SIZE, type Tcb } from './report.js';

const MALFORMED = 'VERIFIER_SNP_EVIDENCE_MALFORMED';

export interface CertEntry {
  readonly type: string;
  readonly data: Uint8Array;
}

function bad(message: string): never {
  throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message });
}

function bytes(o: Record<string, unknown>, key: string, len: number): Uint8Array {
  const v = o[key];
  if (!Array.isArray(v) || v.length !== len || !v.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) {
    bad(`attestation_report.${key} must be an array of ${len} bytes`);
  }
  return Uint8Array.from(v as number[]);
}

function num(o: Record<string, unknown>, key: string, optional = false): number {
  const v = o[key];
  if (v === undefined && optional) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`attestation_report.${key} must be a non-negative integer`);
  return v;
}

function tcb(o: Record<string, unknown>, key: string): Uint8Array {
  const t = o[key];
  if (typeof t !== 'object' || t === null) bad(`attestation_report.${key} must be a TCB object`);
  const x = t as Record<string, unknown>;
  const fmc = x['fmc'];
  const out: Tcb = {
    bootloader: num(x, 'bootloader'),
    tee: num(x, 'tee'),
    snp: num(x, 'snp'),
    microcode: num(x, 'microcode'),
    ...(typeof fmc === 'number' ? { fmc } : {}),
  };
  return encodeTcb(out);
}

function version(o: Record<string, unknown>, key: string): Uint8Array {
  const v = o[key];
  if (typeof v !== 'object' || v === null) return new Uint8Array(4);
  const x = v as Record<string, unknown>;
  return Uint8Array.from([num(x, 'build'), num(x, 'minor'), num(x, 'major'), 0]);
}

/** Rebuilds the binary report from its serde JSON object. */
export function reportFromJson(value: unknown): Uint8Array {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('attestation_report must be an object');
  const o = value as Record<string, unknown>;
  const buf = new Uint8Array(REPORT_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0x00, num(o, 'version'), true);
  dv.setUint32(0x04, num(o, 'guest_svn'), true);
  dv.setBigUint64(0x08, BigInt(num(o, 'policy')), true);
  buf.set(bytes(o, 'family_id', 16), 0x10);
  buf.set(bytes(o, 'image_id', 16), 0x20);
  dv.setUint32(0x30, num(o, 'vmpl'), true);
  dv.setUint32(0x34, num(o, 'sig_algo'), true);
  buf.set(tcb(o, 'current_tcb'), 0x38);
  dv.setBigUint64(0x40, BigInt(num(o, 'plat_info')), true);
  dv.setUint32(0x48, o['key_info'] !== undefined ? num(o, 'key_info') : num(o, 'flags', true), true);
  buf.set(bytes(o, 'report_data', 64), 0x50);
  buf.set(bytes(o, 'measurement', 48), 0x90);
  buf.set(bytes(o, 'host_data', 32), 0xc0);
  buf.set(bytes(o, 'id_key_digest', 48), 0xe0);
  buf.set(bytes(o, 'author_key_digest', 48), 0x110);
  buf.set(bytes(o, 'report_id', 32), 0x140);
  buf.set(bytes(o, 'report_id_ma', 32), 0x160);
  buf.set(tcb(o, 'reported_tcb'), 0x180);
  buf[0x188] = num(o, 'cpuid_fam_id', true);
  buf[0x189] = num(o, 'cpuid_mod_id', true);
  buf[0x18a] = num(o, 'cpuid_step', true);
  buf.set(bytes(o, 'chip_id', 64), 0x1a0);
  buf.set(tcb(o, 'committed_tcb'), 0x1e0);
  buf.set(version(o, 'current'), 0x1e8);
  buf.set(version(o, 'committed'), 0x1ec);
  buf.set(tcb(o, 'launch_tcb'), 0x1f0);
  if (o['launch_mit_vector'] !== undefined) dv.setBigUint64(0x1f8, BigInt(num(o, 'launch_mit_vector')), true);
  if (o['current_mit_vector'] !== undefined) dv.setBigUint64(0x200, BigInt(num(o, 'current_mit_vector')), true);
  const sig = o['signature'];
  if (typeof sig !== 'object' || sig === null) bad('attestation_report.signature must be an object');
  buf.set(bytes(sig as Record<string, unknown>, 'r', 72), 0x2a0);
  buf.set(bytes(sig as Record<string, unknown>, 's', 72), 0x2e8);
  return buf;
}

/** The `cert_chain` array (or null) of the wire evidence. */
export function certTableFromJson(value: unknown): CertEntry[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) bad('cert_chain must be an array or null');
  return value.map((e: unknown) => {
    const x = e as Record<string, unknown> | null;
    const t = x?.['cert_type'];
    const type = typeof t === 'string' ? t : typeof t === 'object' && t !== null ? 'OTHER' : bad('cert_chain entry needs cert_type');
    const d = x?.['data'];
    if (!Array.isArray(d)) bad('cert_chain entry data must be a byte array');
    return { type, data: Uint8Array.from(d as number[]) };
  });
}
