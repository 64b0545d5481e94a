/**
 * FAKE AZURE PARAVISOR for tests (no Azure confidential VM here): the HCL ("IGVM attestation")
 * report an Azure CVM's paravisor writes into vTPM NV index 0x01400001, in the layout of
 * Microsoft's az-cvm-vtpm crate: a 32-byte header ("HCLA", version, size, request type,
 * status), the hardware report (an SNP ATTESTATION_REPORT, or a TDREPORT padded to 1184
 * bytes), then the IGVM request data (size, version, report type 2 = SNP / 4 = TDX, hash type
 * 1 = SHA-256, variable-data size) and the variable data: the runtime JSON holding the vTPM
 * attestation key as the `HCLAkPub` JWK. The hardware report's report_data starts with the
 * SHA-256 of that JSON, which is what ties the vTPM AK to the TEE. The SNP report is signed by
 * a fake SNP platform's VCEK; for TDX the TDREPORT is MACed with a key only this fake "CPU"
 * holds, and `tdQuote` plays Azure's quoting service (IMDS `/acc/tdquote`): it checks the MAC
 * and has the fake TDX platform's QE sign a quote for the TDREPORT's report_data.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { FakeSnpPlatform } from './snp.js';
import type { FakeTdxPlatform } from './tdx.js';

const HW_REPORT_SIZE = 0x4a0;
const TD_REPORT_SIZE = 1024;
const TD_REPORT_DATA = 128;
const TD_MAC = 224;

/** The HCL runtime data: the vTPM AK (`HCLAkPub`, RSA JWK) and a VM configuration, compact (swtpm NV indices hold 2048 bytes). */
export function hclRuntimeData(akPublic: KeyObject): Buffer {
  const jwk = akPublic.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA') throw new Error('the Azure vTPM AK is an RSA key');
  return Buffer.from(JSON.stringify({
    keys: [{ kid: 'HCLAkPub', key_ops: ['sign'], kty: 'RSA', e: jwk.e, n: jwk.n }],
    'vm-configuration': { 'console-enabled': false, 'secure-boot': true, 'tpm-enabled': true, 'tpm-persisted': true, vmUniqueId: 'fake-azure-cvm' },
  }));
}

/** Header + hardware report (padded) + IGVM request data + runtime data. */
function hclReport(type: 'snp' | 'tdx', hwReport: Uint8Array, runtime: Buffer): Buffer {
  const header = Buffer.alloc(32);
  header.write('HCLA', 0, 'latin1');
  header.writeUInt32LE(2, 4); // header version
  header.writeUInt32LE(HW_REPORT_SIZE, 8);
  header.writeUInt32LE(2, 12); // request type: key release / attestation
  const hw = Buffer.alloc(HW_REPORT_SIZE);
  Buffer.from(hwReport).copy(hw);
  const igvm = Buffer.alloc(20);
  igvm.writeUInt32LE(20 + runtime.length, 0);
  igvm.writeUInt32LE(1, 4);
  igvm.writeUInt32LE(type === 'snp' ? 2 : 4, 8);
  igvm.writeUInt32LE(1, 12); // SHA-256 of the runtime data
  igvm.writeUInt32LE(runtime.length, 16);
  return Buffer.concat([header, hw, igvm, runtime]);
}

/** An az-snp-vtpm HCL report: the SNP report (signed by `chip`'s VCEK) binds SHA-256(runtime data). */
export function fakeAzSnpHclReport(chip: FakeSnpPlatform, akPublic: KeyObject): Buffer {
  const runtime = hclRuntimeData(akPublic);
  return hclReport('snp', chip.report(createHash('sha256').update(runtime).digest()), runtime);
}

export interface FakeAzTdx {
  /** The HCL report with a TDREPORT whose report_data is SHA-256(runtime data). */
  readonly hcl: Buffer;
  /** Azure's TD quoting service: a quote by `td`'s QE for this TDREPORT; throws for a TDREPORT this "CPU" did not MAC. */
  tdQuote(tdReport: Uint8Array): Uint8Array;
}

/**
 * An az-tdx-vtpm paravisor on the fake TDX platform `td`: TDREPORT (REPORTMACSTRUCT with
 * report_data at 128 and the MAC at 224, TEE_TCB_INFO at 256, TDINFO at 512 with the
 * platform's XFAM, MRTD and RTMRs) inside the HCL report.
 */
export function fakeAzTdxParavisor(td: FakeTdxPlatform, akPublic: KeyObject): FakeAzTdx {
  const macKey = randomBytes(32);
  const runtime = hclRuntimeData(akPublic);
  const r = Buffer.alloc(TD_REPORT_SIZE);
  r.set([0x81, 0, 1, 0], 0); // report type: TDX, subtype 0, version 1
  const tcbInfo = r.subarray(256, 256 + 239);
  tcbInfo.fill(0xff, 0, 8); // valid
  Buffer.from(td.teeTcbSvn).copy(tcbInfo, 8);
  createHash('sha384').update('fake tdx module').digest().copy(tcbInfo, 24);
  const tdInfo = r.subarray(512, 1024);
  Buffer.from('0000001000000000', 'hex').copy(tdInfo, 0);
  Buffer.from(td.xfam).copy(tdInfo, 8);
  Buffer.from(td.mrTd).copy(tdInfo, 16);
  td.rtmr.forEach((m, i) => Buffer.from(m).copy(tdInfo, 208 + 48 * i));
  createHash('sha384').update(tcbInfo).digest().copy(r, 32);
  createHash('sha384').update(tdInfo).digest().copy(r, 80);
  createHash('sha256').update(runtime).digest().copy(r, TD_REPORT_DATA);
  const mac = (rep: Uint8Array): Buffer => createHmac('sha256', macKey).update(rep.subarray(0, TD_MAC)).update(rep.subarray(256)).digest();
  mac(r).copy(r, TD_MAC);
  return {
    hcl: hclReport('tdx', r, runtime),
    tdQuote(tdReport) {
      // SECURITY (of the fake): like the QE's EVERIFYREPORT2, only a TDREPORT this CPU made is quoted.
      if (tdReport.length !== TD_REPORT_SIZE || !timingSafeEqual(mac(tdReport), tdReport.subarray(TD_MAC, TD_MAC + 32))) {
        throw new Error('fake TDX quoting service: the TDREPORT MAC does not verify');
      }
      return td.quote(tdReport.subarray(TD_REPORT_DATA, TD_REPORT_DATA + 64));
    },
  };
}
