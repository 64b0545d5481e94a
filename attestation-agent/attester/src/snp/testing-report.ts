/**
 * Test support only: the inverse of `snpReportToJson`, so a fake AMD-SP can return the binary
 * report behind a real serde JSON vector (trustee's e2e evidence).
 */
import { SNP_REPORT_SIZE } from './report-json.js';

export function reportFromJsonForTest(o: Record<string, unknown>): Buffer {
  const b = Buffer.alloc(SNP_REPORT_SIZE);
  const arr = (k: string, off: number): void => { Buffer.from(o[k] as number[]).copy(b, off); };
  const tcb = (k: string, off: number): void => {
    const t = o[k] as Record<string, number | null>;
    if (t['fmc'] !== null && t['fmc'] !== undefined) b.set([t['fmc'], t['bootloader']!, t['tee']!, t['snp']!], off);
    else { b[off] = t['bootloader']!; b[off + 1] = t['tee']!; b[off + 6] = t['snp']!; }
    b[off + 7] = t['microcode']!;
  };
  const ver = (k: string, off: number): void => { const v = o[k] as Record<string, number>; b.set([v['build']!, v['minor']!, v['major']!], off); };
  b.writeUInt32LE(o['version'] as number, 0);
  b.writeUInt32LE(o['guest_svn'] as number, 4);
  b.writeBigUInt64LE(BigInt(o['policy'] as number), 8);
  arr('family_id', 0x10); arr('image_id', 0x20);
  b.writeUInt32LE(o['vmpl'] as number, 0x30);
  b.writeUInt32LE(o['sig_algo'] as number, 0x34);
  tcb('current_tcb', 0x38);
  b.writeBigUInt64LE(BigInt(o['plat_info'] as number), 0x40);
  b.writeUInt32LE(o['key_info'] as number, 0x48);
  arr('report_data', 0x50); arr('measurement', 0x90); arr('host_data', 0xc0); arr('id_key_digest', 0xe0);
  arr('author_key_digest', 0x110); arr('report_id', 0x140); arr('report_id_ma', 0x160);
  tcb('reported_tcb', 0x180);
  b.set([(o['cpuid_fam_id'] as number) ?? 0, (o['cpuid_mod_id'] as number) ?? 0, (o['cpuid_step'] as number) ?? 0], 0x188);
  arr('chip_id', 0x1a0);
  tcb('committed_tcb', 0x1e0);
  ver('current', 0x1e8); ver('committed', 0x1ec);
  tcb('launch_tcb', 0x1f0);
  const sig = o['signature'] as Record<string, number[]>;
  Buffer.from(sig['r']!).copy(b, 0x2a0);
  Buffer.from(sig['s']!).copy(b, 0x2e8);
  return b;
}
