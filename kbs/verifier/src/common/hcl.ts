/**
 * The Azure confidential VM HCL report (the paravisor's "IGVM attestation report", as in
 * Microsoft's az-cvm-vtpm crate): a 32-byte header ("HCLA"), the hardware report (SNP report,
 * or TDREPORT padded to 1184 bytes), then IGVM request data whose variable part is a JSON
 * document with the vTPM attestation key (`HCLAkPub`). The hardware report's report_data
 * starts with the hash of that variable data, which is what ties the vTPM AK to the TEE.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { Reader } from './bytes.js';

const HW_REPORT_OFFSET = 0x20;
const HW_REPORT_SIZE = 0x4a0;

export interface HclReport {
  readonly reportType: 'snp' | 'tdx';
  readonly hwReport: Uint8Array;
  readonly varData: Uint8Array;
  readonly varDataHash: Uint8Array;
  readonly runtime: Record<string, unknown>;
}

export function parseHclReport(raw: Uint8Array, code: string): HclReport {
  const bad = (message: string): never => {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code, message });
  };
  if (raw.length < HW_REPORT_OFFSET + HW_REPORT_SIZE + 20 || Buffer.from(raw.subarray(0, 4)).toString('latin1') !== 'HCLA') {
    bad('HCL report does not start with the "HCLA" header or is too short');
  }
  const r = new Reader(raw, code, HW_REPORT_OFFSET + HW_REPORT_SIZE);
  r.u32('igvm data size');
  r.u32('igvm data version');
  const type = r.u32('report type');
  const hashType = r.u32('report data hash type');
  const varData = r.bytes(r.u32('variable data size'), 'variable data');
  const reportType = type === 2 ? 'snp' : type === 4 ? 'tdx' : bad(`HCL report type ${type} is not SNP (2) or TDX (4)`);
  const alg = hashType === 1 ? 'sha256' : hashType === 2 ? 'sha384' : hashType === 3 ? 'sha512' : bad(`HCL report data hash type ${hashType} is unknown`);
  const hwReport = raw.subarray(HW_REPORT_OFFSET, HW_REPORT_OFFSET + (reportType === 'snp' ? HW_REPORT_SIZE : 1024));
  let runtime: Record<string, unknown>;
  try {
    runtime = JSON.parse(Buffer.from(varData).toString('utf8').replace(/\0+$/, '')) as Record<string, unknown>;
  } catch (cause) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'HCL runtime data is not JSON', cause });
  }
  return { reportType, hwReport, varData, varDataHash: new Uint8Array(createHash(alg).update(varData).digest()), runtime };
}

/** The vTPM attestation key (`HCLAkPub` JWK) from the HCL runtime data. */
export function hclAkPub(hcl: HclReport, code: string): KeyObject {
  const keys = hcl.runtime['keys'];
  const jwk = Array.isArray(keys) ? (keys as Record<string, unknown>[]).find((k) => k['kid'] === 'HCLAkPub') : undefined;
  if (!jwk) throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'HCL runtime data has no HCLAkPub key' });
  const { kid: _kid, key_ops: _ops, ...key } = jwk;
  return createPublicKey({ key: key as { kty: string }, format: 'jwk' });
}

/** SECURITY: the TEE report's report_data must begin with the hash of the runtime data (AK). */
export function checkHclBinding(hcl: HclReport, reportData: Uint8Array, code: string): void {
  const n = hcl.varDataHash.length;
  if (!Buffer.from(reportData.subarray(0, n)).equals(Buffer.from(hcl.varDataHash))) {
    throw new KccError({ kind: 'UNAUTHENTICATED', code, message: 'The TEE report does not bind the HCL runtime data (vTPM AK)' });
  }
}
