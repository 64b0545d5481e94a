/**
 * TDX claims in trustee's shape (`deps/verifier/src/tdx/claims.rs`, attestation-service
 * `docs/parsed_claims.md`), so policies written for trustee read them unchanged.
 */
import { toHex } from '../common/bytes.js';
import type { CcEvent } from './ccel.js';
import { ccelClaims, eventClaims } from './ccel.js';
import type { DcapResult } from './dcap.js';
import type { TdxQuote } from './quote.js';

const TD_ATTRIBUTE_BITS: [string, bigint][] = [
  ['debug', 0n],
  ['key_locker', 31n],
  ['perfmon', 63n],
  ['protection_keys', 30n],
  ['septve_disable', 28n],
];

export function tdAttributes(raw: Uint8Array): Record<string, boolean> {
  const v = Buffer.from(raw).readBigUInt64LE(0);
  return Object.fromEntries(TD_ATTRIBUTE_BITS.map(([name, bit]) => [name, ((v >> bit) & 1n) === 1n]));
}

export function quoteClaims(q: TdxQuote): Record<string, unknown> {
  const b = q.body;
  const h = q.header;
  const version = Buffer.alloc(2);
  version.writeUInt16LE(h.version);
  const body: Record<string, string> = {
    tcb_svn: toHex(b.teeTcbSvn),
    mr_seam: toHex(b.mrSeam),
    mrsigner_seam: toHex(b.mrSignerSeam),
    seam_attributes: toHex(b.seamAttributes),
    td_attributes: toHex(b.tdAttributes),
    xfam: toHex(b.xfam),
    mr_td: toHex(b.mrTd),
    mr_config_id: toHex(b.mrConfigId),
    mr_owner: toHex(b.mrOwner),
    mr_owner_config: toHex(b.mrOwnerConfig),
    rtmr_0: toHex(b.rtmr[0]),
    rtmr_1: toHex(b.rtmr[1]),
    rtmr_2: toHex(b.rtmr[2]),
    rtmr_3: toHex(b.rtmr[3]),
    report_data: toHex(b.reportData),
  };
  if (b.teeTcbSvn2 && b.mrServiceTd) {
    body['tee_tcb_svn2'] = toHex(b.teeTcbSvn2);
    body['mr_servicetd'] = toHex(b.mrServiceTd);
  }
  const out: Record<string, unknown> = {
    header: {
      version: version.toString('hex'),
      att_key_type: Buffer.from([h.attKeyType & 0xff, h.attKeyType >> 8]).toString('hex'),
      tee_type: Buffer.from(h.raw.subarray(4, 8)).toString('hex'),
      reserved: toHex(h.reserved),
      vendor_id: toHex(h.vendorId),
      user_data: toHex(h.userData),
    },
    body,
  };
  if (h.version === 5) {
    out['type'] = Buffer.from([q.bodyType & 0xff, q.bodyType >> 8]).toString('hex');
    const size = Buffer.alloc(4);
    size.writeUInt32LE(q.bodySize);
    out['size'] = size.toString('hex');
  }
  return out;
}

export function tdxClaims(q: TdxQuote, dcap: DcapResult, events: readonly CcEvent[] | undefined): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    quote: quoteClaims(q),
    ccel: events ? ccelClaims(events) : {},
    td_attributes: tdAttributes(q.body.tdAttributes),
    report_data: toHex(q.body.reportData),
    init_data: toHex(q.body.mrConfigId),
    fmspc: dcap.pck.fmspc,
    pce_id: dcap.pck.pceId,
    sgx_type: ['Standard', 'Scalable', 'Scalable with Integrity'][dcap.pck.sgxType] ?? String(dcap.pck.sgxType),
  };
  if (events) claims['uefi_event_logs'] = eventClaims(events);
  // trustee prints the platform instance ID byte-reversed; kept so its policies still match.
  if (dcap.pck.platformInstanceId !== undefined) {
    claims['platform_instance_id'] = Buffer.from(dcap.pck.platformInstanceId, 'hex').reverse().toString('hex');
  }
  if (dcap.pck.dynamicPlatform !== undefined) claims['is_dynamic_platform'] = dcap.pck.dynamicPlatform;
  if (dcap.pck.cachedKeys !== undefined) claims['is_cached_keys'] = dcap.pck.cachedKeys;
  if (dcap.pck.smtEnabled !== undefined) claims['is_smt_enabled'] = dcap.pck.smtEnabled;
  if (dcap.tcb) {
    claims['tcb_status'] = dcap.tcb.status;
    claims['advisory_ids'] = dcap.tcb.advisoryIds;
    claims['tcb_date'] = dcap.tcb.tcbDate;
  }
  for (const [k, v] of Object.entries(dcap.collateralInfo)) if (v !== undefined) claims[k] = v;
  if (dcap.skipped.length > 0) claims['collateral_skipped'] = dcap.skipped;
  return claims;
}
