/**
 * The binary SEV-SNP ATTESTATION_REPORT (1184 bytes) as the `sev` crate serializes it with
 * serde, i.e. what guest-components' AA puts in `attestation_report` and trustee parses.
 * Byte arrays are JSON number arrays; TCB versions are objects (with `fmc` on Turin).
 */
import { attesterError } from '../errors.js';

export const SNP_REPORT_SIZE = 0x4a0;

function isTurin(famId: number): boolean {
  return famId === 0x1a;
}

function tcb(b: Buffer, off: number, turin: boolean): Record<string, number | null> {
  if (turin) return { fmc: b[off]!, bootloader: b[off + 1]!, tee: b[off + 2]!, snp: b[off + 3]!, microcode: b[off + 7]! };
  return { fmc: null, bootloader: b[off]!, tee: b[off + 1]!, snp: b[off + 6]!, microcode: b[off + 7]! };
}

export function snpReportToJson(raw: Uint8Array): Record<string, unknown> {
  if (raw.length < SNP_REPORT_SIZE) {
    throw attesterError('ATTESTER_EVIDENCE_FAILED', `SNP report is ${raw.length} bytes, expected ${SNP_REPORT_SIZE}`);
  }
  const b = Buffer.from(raw.buffer, raw.byteOffset, SNP_REPORT_SIZE);
  const version = b.readUInt32LE(0);
  const arr = (off: number, n: number): number[] => [...b.subarray(off, off + n)];
  const num64 = (off: number): number => Number(b.readBigUInt64LE(off));
  const v3 = version >= 3;
  const turin = v3 && isTurin(b[0x188]!);
  const ver = (off: number): Record<string, number> => ({ major: b[off + 2]!, minor: b[off + 1]!, build: b[off]! });
  const out: Record<string, unknown> = {
    version,
    guest_svn: b.readUInt32LE(0x04),
    policy: num64(0x08),
    family_id: arr(0x10, 16),
    image_id: arr(0x20, 16),
    vmpl: b.readUInt32LE(0x30),
    sig_algo: b.readUInt32LE(0x34),
    current_tcb: tcb(b, 0x38, turin),
    plat_info: num64(0x40),
    key_info: b.readUInt32LE(0x48),
    report_data: arr(0x50, 64),
    measurement: arr(0x90, 48),
    host_data: arr(0xc0, 32),
    id_key_digest: arr(0xe0, 48),
    author_key_digest: arr(0x110, 48),
    report_id: arr(0x140, 32),
    report_id_ma: arr(0x160, 32),
    reported_tcb: tcb(b, 0x180, turin),
    cpuid_fam_id: v3 ? b[0x188]! : null,
    cpuid_mod_id: v3 ? b[0x189]! : null,
    cpuid_step: v3 ? b[0x18a]! : null,
    chip_id: arr(0x1a0, 64),
    committed_tcb: tcb(b, 0x1e0, turin),
    current: ver(0x1e8),
    committed: ver(0x1ec),
    launch_tcb: tcb(b, 0x1f0, turin),
  };
  if (version >= 5) {
    out['launch_mit_vector'] = num64(0x1f8);
    out['current_mit_vector'] = num64(0x200);
  }
  out['signature'] = { r: arr(0x2a0, 72), s: arr(0x2e8, 72) };
  return out;
}

const GUIDS: Record<string, string> = {
  '63da758d-e664-4564-adc5-f4b93be8accd': 'VCEK',
  'a8074bc2-a25a-483e-aae6-39c045a0b8a1': 'VLEK',
  '4ab7b379-bbac-4fe4-a02f-05aef327c782': 'ASK',
  'c0b406a4-a803-4952-9743-3fb6014cd0ae': 'ARK',
  '92f81bc3-5811-4d3d-97ff-d19f88dc67ea': 'CRL',
};

function guidString(g: Buffer): string {
  const h = (x: Buffer): string => x.toString('hex');
  const le = (x: Buffer): string => h(Buffer.from(x).reverse());
  return `${le(g.subarray(0, 4))}-${le(g.subarray(4, 6))}-${le(g.subarray(6, 8))}-${h(g.subarray(8, 10))}-${h(g.subarray(10, 16))}`;
}

/** The GHCB certificate table (auxblob): {guid, offset u32, length u32}* ending in a zero entry. */
export function parseCertTable(aux: Uint8Array): { cert_type: string | { OTHER: string }; data: number[] }[] {
  const b = Buffer.from(aux.buffer, aux.byteOffset, aux.byteLength);
  const out: { cert_type: string | { OTHER: string }; data: number[] }[] = [];
  for (let p = 0; p + 24 <= b.length; p += 24) {
    const guid = b.subarray(p, p + 16);
    const off = b.readUInt32LE(p + 16);
    const len = b.readUInt32LE(p + 20);
    if (guid.every((x) => x === 0) && off === 0 && len === 0) break;
    if (off + len > b.length) throw attesterError('ATTESTER_EVIDENCE_FAILED', 'SNP certificate table entry runs past the auxblob');
    const id = guidString(guid);
    out.push({ cert_type: GUIDS[id] ?? { OTHER: id }, data: [...b.subarray(off, off + len)] });
  }
  return out;
}
