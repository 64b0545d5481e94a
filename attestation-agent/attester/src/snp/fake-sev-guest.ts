/**
 * Test support: a FAKE /dev/sev-guest kernel driver behind the `SevGuestIoctl` seam, answering
 * like drivers/virt/coco/sev-guest: SNP_GET_REPORT fills struct snp_report_resp (status,
 * report_size, reserved, report); SNP_GET_EXT_REPORT also copies the host's certificate table
 * into the caller's buffer, refuses lengths that are not page-aligned or above 16 KiB (EINVAL),
 * and when the buffer is too small fails with EIO, vmm_error INVALID_LEN and the needed length in
 * certs_len. `produce` stands in for the AMD-SP; no SEV-SNP hardware is involved.
 */
import { constants } from 'node:os';
import type { SnpIoctlOutcome } from '@kata-cc/tee-devices';
import { PAGE_SIZE, SEV_FW_BLOB_MAX_SIZE, SNP_GUEST_VMM_ERR_INVALID_LEN, SNP_REPORT_REQ_SIZE, SNP_RESP_HEADER_SIZE, type SevGuestIoctl } from './sev-guest.js';

export interface FakeSevGuestOptions {
  /** The AMD-SP: the signed report for this report data and VMPL. */
  produce(reportData: Uint8Array, vmpl: number): Uint8Array;
  /** The host's certificate blob (GHCB table + certificates); absent: the host gave none. */
  certTable?: Uint8Array;
  /** A firmware status to put in the response header (0 = success). */
  status?: number;
  /** Fail the ioctl like the kernel does when the AMD-SP returns an error: EIO with this fw_error. */
  fwError?: number;
  /** Override the response's report_size (to test the bounds check). */
  reportSize?: number;
  /** The needed-length answer on INVALID_LEN (default: the table length rounded up to pages). */
  neededLen?: number;
  /** The errno of the INVALID_LEN answer: EIO (current kernels, default) or EINVAL (older ones). */
  invalidLenErrno?: number;
}

export interface FakeSevGuest extends SevGuestIoctl {
  calls: { call: 'report' | 'ext'; certsLen: number }[];
}

function pages(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

export function fakeSevGuest(o: FakeSevGuestOptions): FakeSevGuest {
  const respond = (req: Uint8Array, resp: Uint8Array): SnpIoctlOutcome => {
    if (req.length !== SNP_REPORT_REQ_SIZE) return { stage: 'ioctl', errno: constants.errno.EFAULT, fwError: 0, vmmError: 0 };
    if (o.fwError !== undefined) return { stage: 'ioctl', errno: constants.errno.EIO, fwError: o.fwError, vmmError: 0 };
    const b = Buffer.from(req);
    const report = o.produce(b.subarray(0, 64), b.readUInt32LE(64));
    const out = Buffer.from(resp.buffer, resp.byteOffset, resp.byteLength);
    out.fill(0);
    out.writeUInt32LE(o.status ?? 0, 0);
    out.writeUInt32LE(o.reportSize ?? report.length, 4);
    out.set(report, SNP_RESP_HEADER_SIZE);
    return { stage: 'ioctl', errno: 0, fwError: 0, vmmError: 0 };
  };
  const fake: FakeSevGuest = {
    calls: [],
    async getReport(_device, req, resp) {
      fake.calls.push({ call: 'report', certsLen: 0 });
      return respond(req, resp);
    },
    async getExtReport(_device, req, resp, certs) {
      const len = certs?.length ?? 0;
      fake.calls.push({ call: 'ext', certsLen: len });
      if (certs === null || len === 0) return { ...respond(req, resp), certsLen: 0 };
      if (len % PAGE_SIZE !== 0 || len > SEV_FW_BLOB_MAX_SIZE) return { stage: 'ioctl', errno: constants.errno.EINVAL, fwError: 0, vmmError: 0, certsLen: len };
      const table = o.certTable ?? new Uint8Array(0);
      if (table.length > len) {
        // The kernel re-issued a plain request to keep the sequence number; the response is not copied.
        return { stage: 'ioctl', errno: o.invalidLenErrno ?? constants.errno.EIO, fwError: 0, vmmError: SNP_GUEST_VMM_ERR_INVALID_LEN, certsLen: o.neededLen ?? pages(table.length) };
      }
      const r = respond(req, resp);
      if (r.errno === 0) {
        certs.fill(0);
        certs.set(table, 0);
      }
      return { ...r, certsLen: len };
    },
  };
  return fake;
}
