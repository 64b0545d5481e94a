/**
 * The SEV-SNP attester (guest-components `attester/src/snp`): the attestation report through
 * configfs-tsm (provider `sev_guest`, privlevel = VMPL 0), with the host-provided certificate
 * table (auxblob) when there is one. Evidence: `{"attestation_report": <sev serde JSON>,
 * "cert_chain": [{"cert_type", "data"}] | null}`.
 *
 * No /dev/sev-guest fallback: SNP_GET_REPORT is an ioctl, Node has no ioctl, and a native
 * addon would need a compiler and node headers at install time in the guest image. Guest
 * kernels >= 6.7 expose configfs-tsm for SEV; on older kernels this attester fails clearly.
 */
import { access } from 'node:fs/promises';
import type { Attester, AttesterDeps, InitDataBinding } from '../attester.js';
import { attesterError, padReportData } from '../errors.js';
import type { Tee } from '../tee.js';
import { nodeTsmFs, tsmReport, TSM_REPORT_DIR, type TsmFs } from '../common/tsm.js';
import { parseCertTable, snpReportToJson } from './report-json.js';

export interface SnpAttesterConfig {
  tsm?: TsmFs;
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

  constructor(config: SnpAttesterConfig = {}, deps: AttesterDeps = {}) {
    this.#root = deps.root ?? '';
    this.#tsm = config.tsm ?? nodeTsmFs;
    this.#vmpl = config.vmpl ?? 0;
  }

  async #report(reportData: Uint8Array): Promise<{ report: Uint8Array; aux?: Uint8Array }> {
    if (!(await exists(this.#root + TSM_REPORT_DIR))) {
      throw attesterError('ATTESTER_EVIDENCE_FAILED', 'configfs-tsm is not available (guest kernel >= 6.7 needed); /dev/sev-guest ioctls are not supported by this attester');
    }
    const r = await tsmReport({ provider: 'sev_guest', inblob: padReportData(reportData, 64), privlevel: this.#vmpl, aux: true }, this.#root, this.#tsm);
    return r.auxblob ? { report: r.outblob, aux: r.auxblob } : { report: r.outblob };
  }

  async getEvidence(reportData: Uint8Array): Promise<SnpEvidence> {
    const { report, aux } = await this.#report(reportData);
    const certs = aux ? parseCertTable(aux) : [];
    return { attestation_report: snpReportToJson(report), cert_chain: certs.length > 0 ? certs : null };
  }

  /** HOST_DATA (32 bytes, set by the host at launch) must be the init-data digest, truncated. */
  async bindInitData(digest: Uint8Array): Promise<InitDataBinding> {
    const { report } = await this.#report(new Uint8Array(64));
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
