/**
 * The SEV-SNP attester (guest-components `attester/src/snp`): the attestation report at VMPL 0
 * with the host-provided certificate table when there is one, through configfs-tsm (provider
 * `sev_guest`, kernels >= 6.7) or, where configfs-tsm is missing, through /dev/sev-guest
 * (SNP_GET_EXT_REPORT, via the @kata-cc/tee-devices addon; see sev-guest.ts). Both paths give
 * the same evidence: `{"attestation_report": <sev serde JSON>, "cert_chain": [{"cert_type",
 * "data"}] | null}`, the certificate table parsed by the same `parseCertTable`.
 */
import { access } from 'node:fs/promises';
import type { Attester, AttesterDeps, InitDataBinding } from '../attester.js';
import { attesterError, padReportData } from '../errors.js';
import type { Tee } from '../tee.js';
import { nodeTsmFs, tsmReport, TSM_REPORT_DIR, type TsmFs } from '../common/tsm.js';
import { parseCertTable, snpReportToJson } from './report-json.js';
import { SEV_GUEST_DEVICE, nativeSevGuest, sevGuestExtReport, sevGuestReport, type SevGuestIoctl } from './sev-guest.js';

export interface SnpAttesterConfig {
  tsm?: TsmFs;
  /** The /dev/sev-guest ioctls (default: the native addon); tests pass a fake kernel. */
  sevGuest?: SevGuestIoctl;
  /** VMPL to request the report at (guest-components uses 0). */
  vmpl?: number;
}

export interface SnpEvidence {
  attestation_report: Record<string, unknown>;
  cert_chain: ReturnType<typeof parseCertTable> | null;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/** SEV-SNP guest: the sev-guest platform device exists. */
export async function detectSnp(deps: AttesterDeps): Promise<boolean> {
  return exists(`${deps.root ?? ''}/sys/devices/platform/sev-guest`);
}

export class SnpAttester implements Attester {
  readonly tee: Tee = 'snp';
  readonly #root: string;
  readonly #tsm: TsmFs;
  readonly #vmpl: number;
  readonly #sevGuest: SevGuestIoctl | undefined;

  constructor(config: SnpAttesterConfig = {}, deps: AttesterDeps = {}) {
    this.#root = deps.root ?? '';
    this.#tsm = config.tsm ?? nodeTsmFs;
    this.#vmpl = config.vmpl ?? 0;
    this.#sevGuest = config.sevGuest;
  }

  /**
   * configfs-tsm when the kernel has it, else /dev/sev-guest. A failure on the path that exists
   * is reported, never retried on the other one. `certs` false: no certificate table wanted.
   */
  async #report(reportData: Uint8Array, certs = true): Promise<{ report: Uint8Array; aux?: Uint8Array }> {
    const data = padReportData(reportData, 64);
    if (await exists(this.#root + TSM_REPORT_DIR)) {
      const r = await tsmReport({ provider: 'sev_guest', inblob: data, privlevel: this.#vmpl, aux: certs }, this.#root, this.#tsm);
      return r.auxblob ? { report: r.outblob, aux: r.auxblob } : { report: r.outblob };
    }
    const device = this.#root + SEV_GUEST_DEVICE;
    if (!(await exists(device))) {
      throw attesterError('ATTESTER_DEVICE_NOT_FOUND', `Neither configfs-tsm (${TSM_REPORT_DIR}) nor ${SEV_GUEST_DEVICE} exists: load the sev-guest driver`, { details: { device } });
    }
    const ioctl = this.#sevGuest ?? nativeSevGuest();
    if (!certs) return { report: await sevGuestReport(ioctl, device, data, this.#vmpl) };
    const ext = await sevGuestExtReport(ioctl, device, data, this.#vmpl);
    return { report: ext.report, aux: ext.certs };
  }

  async getEvidence(reportData: Uint8Array): Promise<SnpEvidence> {
    const { report, aux } = await this.#report(reportData);
    const certs = aux ? parseCertTable(aux) : [];
    return { attestation_report: snpReportToJson(report), cert_chain: certs.length > 0 ? certs : null };
  }

  /** HOST_DATA (32 bytes, set by the host at launch) must be the init-data digest, truncated. */
  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    const { report } = await this.#report(new Uint8Array(64), false);
    const hostData = Buffer.from(report.subarray(0xc0, 0xe0));
    const want = Buffer.alloc(32);
    Buffer.from(digest.subarray(0, 32)).copy(want);
    // SECURITY: HOST_DATA is measured into the launch; it must be exactly our init-data.
    if (!hostData.equals(want)) {
      throw attesterError('ATTESTER_INITDATA_MISMATCH', 'HOST_DATA does not match the init-data digest', { details: { host_data: hostData.toString('hex'), expected: want.toString('hex') } });
    }
    return 'verified';
  }
}
