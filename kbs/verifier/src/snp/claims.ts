/**
 * SEV-SNP claims in trustee's shape (`deps/verifier/src/snp/mod.rs` `parse_tee_evidence`):
 * numbers and booleans as strings, measurement/report_data/init_data as standard base64, so
 * trustee policies and reference values (e.g. `snp_launch_measurement`) match unchanged.
 */
import { decodeTcb, type Generation, type SnpReport } from './report.js';

export function snpClaims(report: SnpReport, gen: Generation): Record<string, unknown> {
  const p = report.policy;
  const bit = (v: bigint, n: bigint): string => String(((v >> n) & 1n) === 1n);
  const tcb = decodeTcb(report.reportedTcb, gen);
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
  const claims: Record<string, unknown> = {
    policy_abi_major: String((p >> 8n) & 0xffn),
    policy_abi_minor: String(p & 0xffn),
    policy_smt_allowed: bit(p, 16n),
    policy_migrate_ma: bit(p, 18n),
    policy_debug_allowed: bit(p, 19n),
    policy_single_socket: bit(p, 20n),
    reported_tcb_bootloader: String(tcb.bootloader),
    reported_tcb_tee: String(tcb.tee),
    reported_tcb_snp: String(tcb.snp),
    reported_tcb_microcode: String(tcb.microcode),
    platform_tsme_enabled: bit(report.platInfo, 1n),
    platform_smt_enabled: bit(report.platInfo, 0n),
    measurement: b64(report.measurement),
    report_data: b64(report.reportData),
    init_data: b64(report.hostData),
    report_version: String(report.version),
    vmpl: String(report.vmpl),
    generation: gen,
  };
  if (tcb.fmc !== undefined) claims['reported_tcb_fmc'] = String(tcb.fmc);
  return claims;
}
