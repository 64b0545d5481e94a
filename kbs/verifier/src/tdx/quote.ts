/**
 * TDX quote v4/v5 parsing (Intel TDX DCAP Quoting Library API, "Quote Format"). Pure: no
 * crypto. The parser stops at 48 + body + 4 + sig_data_len and ignores trailing bytes, which
 * real quotes carry as zero padding from fixed-size buffers.
 */
import { KccError } from '@kata-cc/errors';
import { Reader } from '../common/bytes.js';

export const TDX_TEE_TYPE = 0x81;
const ATT_KEY_ECDSA_P256 = 2;
const CERT_TYPE_QE_REPORT = 6;
const CERT_TYPE_PCK_CHAIN = 5;
const MALFORMED = 'VERIFIER_TDX_QUOTE_MALFORMED';
const UNSUPPORTED = 'VERIFIER_TDX_QUOTE_UNSUPPORTED';

export interface QuoteHeader {
  readonly version: number;
  readonly attKeyType: number;
  readonly teeType: number;
  /** 4 bytes after tee_type (QE SVN and PCE SVN in SGX quotes, reserved for TDX). */
  readonly reserved: Uint8Array;
  readonly vendorId: Uint8Array;
  readonly userData: Uint8Array;
  readonly raw: Uint8Array;
}

export interface TdReportBody {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  /** TDX 1.5 (v5 body type 3) only. */
  readonly teeTcbSvn2?: Uint8Array;
  readonly mrServiceTd?: Uint8Array;
}

/** SGX REPORT body of the Quoting Enclave (384 bytes). */
export interface EnclaveReport {
  readonly raw: Uint8Array;
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Uint8Array;
}

export interface TdxQuote {
  readonly header: QuoteHeader;
  /** v5 body type (2 = TDX 1.0, 3 = TDX 1.5); 2 for v4. */
  readonly bodyType: number;
  readonly bodySize: number;
  readonly body: TdReportBody;
  /** Header and body exactly as signed by the attestation key. */
  readonly signedRegion: Uint8Array;
  readonly signature: Uint8Array;
  readonly attestationKey: Uint8Array;
  readonly qeReport: EnclaveReport;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** PEM text of the PCK certificate chain (leaf, intermediate, root). */
  readonly pckChainPem: string;
  /** Bytes consumed; anything after this in the input was ignored. */
  readonly length: number;
}

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new KccError({ kind: 'INVALID_ARGUMENT', code, message, ...(details ? { details } : {}) });
}

function parseHeader(r: Reader): QuoteHeader {
  const start = r.pos;
  const version = r.u16('header.version');
  const attKeyType = r.u16('header.att_key_type');
  const teeType = r.u32('header.tee_type');
  const reserved = r.bytes(4, 'header.reserved');
  const vendorId = r.bytes(16, 'header.vendor_id');
  const userData = r.bytes(20, 'header.user_data');
  return { version, attKeyType, teeType, reserved, vendorId, userData, raw: r.buf.subarray(start, r.pos) };
}

function parseBody(r: Reader, tdx15: boolean): TdReportBody {
  const b = (n: number, w: string): Uint8Array => r.bytes(n, w);
  const teeTcbSvn = b(16, 'tee_tcb_svn');
  const mrSeam = b(48, 'mr_seam');
  const mrSignerSeam = b(48, 'mrsigner_seam');
  const seamAttributes = b(8, 'seam_attributes');
  const tdAttributes = b(8, 'td_attributes');
  const xfam = b(8, 'xfam');
  const mrTd = b(48, 'mr_td');
  const mrConfigId = b(48, 'mr_config_id');
  const mrOwner = b(48, 'mr_owner');
  const mrOwnerConfig = b(48, 'mr_owner_config');
  const rtmr = [b(48, 'rtmr0'), b(48, 'rtmr1'), b(48, 'rtmr2'), b(48, 'rtmr3')] as const;
  const reportData = b(64, 'report_data');
  const base = { teeTcbSvn, mrSeam, mrSignerSeam, seamAttributes, tdAttributes, xfam, mrTd, mrConfigId, mrOwner, mrOwnerConfig, rtmr, reportData };
  if (!tdx15) return base;
  return { ...base, teeTcbSvn2: b(16, 'tee_tcb_svn2'), mrServiceTd: b(48, 'mr_servicetd') };
}

export function parseEnclaveReport(raw: Uint8Array): EnclaveReport {
  const r = new Reader(raw, MALFORMED);
  const cpuSvn = r.bytes(16, 'qe.cpu_svn');
  const miscSelect = r.u32('qe.misc_select');
  r.bytes(28, 'qe.reserved1');
  const attributes = r.bytes(16, 'qe.attributes');
  const mrEnclave = r.bytes(32, 'qe.mr_enclave');
  r.bytes(32, 'qe.reserved2');
  const mrSigner = r.bytes(32, 'qe.mr_signer');
  r.bytes(96, 'qe.reserved3');
  const isvProdId = r.u16('qe.isv_prod_id');
  const isvSvn = r.u16('qe.isv_svn');
  r.bytes(60, 'qe.reserved4');
  const reportData = r.bytes(64, 'qe.report_data');
  return { raw, cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData };
}

export const TD_BODY_V4_SIZE = 584;
export const TD_BODY_V5_SIZE = 648;

export function parseTdxQuote(buf: Uint8Array): TdxQuote {
  const r = new Reader(buf, MALFORMED);
  const header = parseHeader(r);
  if (header.version !== 4 && header.version !== 5) {
    fail(UNSUPPORTED, `Quote version ${header.version} is not supported (TDX quotes are v4 or v5)`, { version: header.version });
  }
  if (header.teeType !== TDX_TEE_TYPE) fail(UNSUPPORTED, `Quote TEE type 0x${header.teeType.toString(16)} is not TDX (0x81)`);
  if (header.attKeyType !== ATT_KEY_ECDSA_P256) fail(UNSUPPORTED, `Attestation key type ${header.attKeyType} is not ECDSA-256-with-P-256`);
  let bodyType = 2;
  let bodySize = TD_BODY_V4_SIZE;
  if (header.version === 5) {
    bodyType = r.u16('body type');
    bodySize = r.u32('body size');
    const expected = bodyType === 2 ? TD_BODY_V4_SIZE : bodyType === 3 ? TD_BODY_V5_SIZE : -1;
    if (expected < 0) fail(UNSUPPORTED, `Quote v5 body type ${bodyType} is not TDX 1.0 (2) or TDX 1.5 (3)`);
    if (bodySize !== expected) fail(MALFORMED, `Quote v5 body size ${bodySize} does not match type ${bodyType}`);
  }
  const body = parseBody(r, bodyType === 3);
  const signedRegion = buf.subarray(0, r.pos);
  const sigLen = r.u32('sig_data_len');
  const sig = new Reader(r.bytes(sigLen, 'signature data'), MALFORMED);
  const signature = sig.bytes(64, 'quote signature');
  const attestationKey = sig.bytes(64, 'attestation key');
  const certType = sig.u16('certification data type');
  const certSize = sig.u32('certification data size');
  if (certType !== CERT_TYPE_QE_REPORT) fail(UNSUPPORTED, `Certification data type ${certType} is not QE report (6)`);
  const qe = new Reader(sig.bytes(certSize, 'QE report certification data'), MALFORMED);
  const qeReport = parseEnclaveReport(qe.bytes(384, 'QE report'));
  const qeReportSignature = qe.bytes(64, 'QE report signature');
  const qeAuthData = qe.bytes(qe.u16('QE auth data size'), 'QE auth data');
  const innerType = qe.u16('PCK certification data type');
  const innerSize = qe.u32('PCK certification data size');
  if (innerType !== CERT_TYPE_PCK_CHAIN) fail(UNSUPPORTED, `Inner certification data type ${innerType} is not a PCK chain (5)`);
  const pckChainPem = Buffer.from(qe.bytes(innerSize, 'PCK chain')).toString('latin1').replace(/\0+$/, '');
  return {
    header,
    bodyType,
    bodySize,
    body,
    signedRegion,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainPem,
    length: r.pos,
  };
}
