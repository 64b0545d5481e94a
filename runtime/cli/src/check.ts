import { checkHost, type CheckResult, type TeeProfile } from '@kata-cc/hypervisor';

export interface CheckCommandOptions {
  tee: TeeProfile;
  qemu: string;
  tdxFirmware: string;
  snpFirmware: string;
  containerdConfig: string;
  json: boolean;
}

/** Prints the checks; returns 0 when everything `tee` needs passes. */
export async function checkCommand(o: CheckCommandOptions): Promise<number> {
  const results = await checkHost({ qemu: o.qemu, firmware: { tdx: o.tdxFirmware, snp: o.snpFirmware }, containerdConfig: o.containerdConfig, pathEnv: process.env['PATH'] ?? '' });
  const blocking = results.filter((r) => !r.ok && r.requiredFor.includes(o.tee));
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ tee: o.tee, ok: blocking.length === 0, checks: results }, null, 2)}\n`);
    return blocking.length === 0 ? 0 : 1;
  }
  const mark = (r: CheckResult): string => (r.ok ? '✓' : r.requiredFor.includes(o.tee) ? '✗' : '-');
  for (const r of results) {
    process.stdout.write(`${mark(r)} ${r.title}: ${r.detail}\n`);
    if (!r.ok && r.fix) process.stdout.write(`    fix: ${r.fix}\n`);
  }
  process.stdout.write(blocking.length === 0
    ? `\nThis host can run ${o.tee === 'none' ? 'non-TEE (coco-dev) pods' : `${o.tee.toUpperCase()} confidential pods`}.\n`
    : `\nThis host cannot run ${o.tee} pods: ${blocking.map((b) => b.title).join(', ')}.\n`);
  return blocking.length === 0 ? 0 : 1;
}
