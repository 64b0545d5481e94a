/**
 * SEV-SNP reports through /dev/sev-guest (Linux `include/uapi/linux/sev-guest.h`), for guest
 * kernels without configfs-tsm (< 6.7). The native addon only issues the ioctl; the request
 * (`struct snp_report_req`), the response (`struct snp_report_resp`: status, report_size,
 * 24 reserved bytes, report) and the certificate-length retry are handled here so that they are
 * unit-tested through the `SevGuestIoctl` seam with a fake kernel.
 *
 * SNP_GET_EXT_REPORT with a too small certificate buffer: the kernel re-issues a plain request
 * (so the message sequence number is not reused), fails with EIO (older kernels: EINVAL) and
 * vmm_error = SNP_GUEST_VMM_ERR_INVALID_LEN, and writes the length the host needs into
 * certs_len; we retry once with that (page-aligned, at most SEV_FW_BLOB_MAX_SIZE) buffer.
 */
import type { SnpExtIoctlOutcome, SnpIoctlOutcome } from '@kata-cc/tee-devices';
import { attesterError } from '../errors.js';
import { deviceError, nativeDevices } from '../common/device.js';
import { SNP_REPORT_SIZE } from './report-json.js';

export const SEV_GUEST_DEVICE = '/dev/sev-guest';
/** sizeof(struct snp_report_req): user_data[64], vmpl (u32), rsvd[28]. */
export const SNP_REPORT_REQ_SIZE = 96;
/** sizeof(struct snp_report_resp). */
export const SNP_REPORT_RESP_SIZE = 4000;
/** status (u32), report_size (u32), reserved[24] precede the report in the response. */
export const SNP_RESP_HEADER_SIZE = 32;
export const SNP_GUEST_VMM_ERR_INVALID_LEN = 1;
/** The kernel refuses certificate buffers above this (include/uapi/linux/psp-sev.h). */
export const SEV_FW_BLOB_MAX_SIZE = 0x4000;
export const PAGE_SIZE = 4096;

/** The two kernel calls; `nativeSevGuest()` is the real one, tests pass a fake kernel. */
export interface SevGuestIoctl {
  getReport(device: string, req: Uint8Array, resp: Uint8Array): Promise<SnpIoctlOutcome>;
  getExtReport(device: string, req: Uint8Array, resp: Uint8Array, certs: Uint8Array | null): Promise<SnpExtIoctlOutcome>;
}

/** The real /dev/sev-guest through the tee-devices addon (loaded on first use). */
export function nativeSevGuest(): SevGuestIoctl {
  return {
    getReport: (d, req, resp) => nativeDevices().snpGetReport(d, req, resp),
    getExtReport: (d, req, resp, certs) => nativeDevices().snpGetExtReport(d, req, resp, certs),
  };
}

/** AMD-SP firmware status names (SEV_RET_* in include/uapi/linux/psp-sev.h) met on this path. */
const FW_STATUS: Record<number, string> = {
  0x01: 'INVALID_PLATFORM_STATE',
  0x02: 'INVALID_GUEST_STATE',
  0x07: 'POLICY_FAILURE',
  0x15: 'UNSUPPORTED',
  0x16: 'INVALID_PARAM',
  0x27: 'INVALID_KEY',
};

function fwName(status: number): string {
  return `0x${status.toString(16)}${FW_STATUS[status] ? ` ${FW_STATUS[status]}` : ''}`;
}

/** struct snp_report_req: the 64-byte report data, the VMPL, zeroed reserved bytes. */
export function snpReportRequest(reportData64: Uint8Array, vmpl: number): Uint8Array {
  if (reportData64.length !== 64) throw attesterError('ATTESTER_INVALID_ARGUMENT', 'SNP report data must be 64 bytes');
  if (!Number.isInteger(vmpl) || vmpl < 0 || vmpl > 3) throw attesterError('ATTESTER_INVALID_ARGUMENT', `VMPL must be 0..3, got ${vmpl}`);
  const req = Buffer.alloc(SNP_REPORT_REQ_SIZE);
  req.set(reportData64, 0);
  req.writeUInt32LE(vmpl, 64);
  return req;
}

/** The attestation report inside struct snp_report_resp, after its status and size checks. */
export function parseSnpReportResponse(resp: Uint8Array, device = SEV_GUEST_DEVICE): Uint8Array {
  const b = Buffer.from(resp.buffer, resp.byteOffset, resp.byteLength);
  if (b.length < SNP_RESP_HEADER_SIZE) throw attesterError('ATTESTER_DEVICE_RESPONSE_INVALID', 'SNP report response is shorter than its header');
  const status = b.readUInt32LE(0);
  const size = b.readUInt32LE(4);
  if (status !== 0) {
    throw attesterError('ATTESTER_FIRMWARE_ERROR', `The AMD-SP refused the report request: status ${fwName(status)}`, { details: { device, status } });
  }
  // SECURITY: the size comes from the response; never read past the buffer or return a short report.
  if (size < SNP_REPORT_SIZE || SNP_RESP_HEADER_SIZE + size > b.length) {
    throw attesterError('ATTESTER_DEVICE_RESPONSE_INVALID', `SNP report_size ${size} is outside ${SNP_REPORT_SIZE}..${b.length - SNP_RESP_HEADER_SIZE}`, { details: { device, report_size: size } });
  }
  return Uint8Array.from(b.subarray(SNP_RESP_HEADER_SIZE, SNP_RESP_HEADER_SIZE + size));
}

function firmware(o: SnpIoctlOutcome): { message: string; details: Record<string, unknown> } | undefined {
  if (o.fwError === 0) return undefined;
  return { message: `firmware error ${fwName(o.fwError)}, VMM error ${o.vmmError}`, details: { fw_error: o.fwError, vmm_error: o.vmmError } };
}

/** SNP_GET_REPORT: the report without the host's certificates. */
export async function sevGuestReport(ioctl: SevGuestIoctl, device: string, reportData64: Uint8Array, vmpl: number): Promise<Uint8Array> {
  const resp = new Uint8Array(SNP_REPORT_RESP_SIZE);
  const o = await ioctl.getReport(device, snpReportRequest(reportData64, vmpl), resp);
  if (o.errno !== 0) throw deviceError(device, 'SNP_GET_REPORT', o, firmware(o));
  return parseSnpReportResponse(resp, device);
}

export interface ExtReport {
  report: Uint8Array;
  /** The certificate buffer (GHCB cert table at offset 0, zeros when the host gave none). */
  certs: Uint8Array;
}

/** SNP_GET_EXT_REPORT with the certificate-length retry. */
export async function sevGuestExtReport(ioctl: SevGuestIoctl, device: string, reportData64: Uint8Array, vmpl: number, firstCertsLen = PAGE_SIZE): Promise<ExtReport> {
  const req = snpReportRequest(reportData64, vmpl);
  let certsLen = firstCertsLen;
  for (let attempt = 0; attempt < 2; attempt++) {
    const resp = new Uint8Array(SNP_REPORT_RESP_SIZE);
    const certs = new Uint8Array(certsLen);
    const o = await ioctl.getExtReport(device, req, resp, certs);
    if (o.errno === 0) return { report: parseSnpReportResponse(resp, device), certs };
    if (o.stage !== 'ioctl' || o.vmmError !== SNP_GUEST_VMM_ERR_INVALID_LEN || attempt > 0) {
      throw deviceError(device, 'SNP_GET_EXT_REPORT', o, o.vmmError === SNP_GUEST_VMM_ERR_INVALID_LEN ? undefined : firmware(o));
    }
    const need = o.certsLen;
    // SECURITY: the length is the host's word; only grow to a page-aligned size the kernel accepts.
    if (need <= certsLen || need % PAGE_SIZE !== 0 || need > SEV_FW_BLOB_MAX_SIZE) {
      throw attesterError('ATTESTER_DEVICE_RESPONSE_INVALID', `The host asks for a ${need}-byte certificate buffer (had ${certsLen}; must be page-aligned and at most ${SEV_FW_BLOB_MAX_SIZE})`, { details: { device, certs_len: need } });
    }
    certsLen = need;
  }
  throw attesterError('ATTESTER_DEVICE_IO_ERROR', `SNP_GET_EXT_REPORT on ${device} kept failing with INVALID_LEN`);
}
