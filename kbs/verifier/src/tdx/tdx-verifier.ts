/**
 * The TDX verifier: evidence `{"quote": b64, "cc_eventlog": b64|null}` (guest-components AA)
 * or a raw quote; DCAP with offline collateral; CCEL replay; report_data and MRCONFIGID binding.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import type { VerifyOptions } from '../verifier.js';
import { checkBinding, decodeBase64, evidenceObject } from '../common/evidence.js';
import { ConfiguredHardwareVerifier, type HardwareVerified, type OptionalBinding } from '../common/hardware-verifier.js';
import { parseCcel, replayRtmrs, type CcEvent } from './ccel.js';
import { tdxClaims } from './claims.js';
import { loadCollateralDir, parseCollateralJson, type QuoteCollateral } from './collateral.js';
import { tdxRoots, verifyDcap } from './dcap.js';
import { parseTdxQuote, type TdxQuote } from './quote.js';
import { parsePckExtensions } from './pck.js';
import { pcsCollateral } from './pcs.js';
import { parseCertificate, pemBlocks } from '../common/x509.js';

export interface TdxVerifierConfig {
  /** QuoteCollateralV3 object, or a path to its JSON file or to a directory of PCS responses. */
  collateral?: QuoteCollateral | string;
  /** Accept debug TDs (td_attributes.DEBUG). Off by default: a debug TD's memory is readable. */
  allowDebug?: boolean;
  /** Skip, instead of failing, the checks whose collateral is absent (reported in claims). */
  allowMissingCollateral?: boolean;
  /** PCCS/PCS base URL used when no offline `collateral` is configured. */
  pccsUrl?: string;
  /** On-disk cache for PCCS/PCS collateral. */
  collateralCacheDir?: string;
  /** Root CA CRL URL (default `<pccsUrl>/sgx/certification/v4/rootcacrl`). */
  rootCaCrlUrl?: string;
  /** Roots (PEM text or PEM file paths) REPLACING the bundled Intel SGX Root CA (README "Trust anchors"). */
  trustAnchors?: readonly string[];
}

const MALFORMED = 'VERIFIER_TDX_EVIDENCE_MALFORMED';

export interface TdxEvidence {
  quote: Uint8Array;
  ccel: Uint8Array | undefined;
}

export function decodeTdxEvidence(evidence: unknown): TdxEvidence {
  if (evidence instanceof Uint8Array) {
    const obj = evidenceObject(evidence, MALFORMED);
    if (!obj) return { quote: evidence, ccel: undefined };
    evidence = obj;
  }
  const o = evidenceObject(evidence, MALFORMED)!;
  const quote = decodeBase64(o['quote'], MALFORMED, 'TDX quote');
  const log = o['cc_eventlog'];
  const ccel = log === undefined || log === null || log === '' ? undefined : decodeBase64(log, MALFORMED, 'CC event log');
  return { quote, ccel };
}

function resolveCollateral(c: QuoteCollateral | string | undefined, fmspc: () => string): QuoteCollateral | undefined {
  if (c === undefined || typeof c !== 'string') return c;
  if (!existsSync(c)) {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_TDX_COLLATERAL_MISSING', message: `Collateral path "${c}" does not exist` });
  }
  return statSync(c).isDirectory() ? loadCollateralDir(c, fmspc()) : parseCollateralJson(readFileSync(c, 'utf8'));
}

/**
 * FMSPC and PCK CA type of the quote's PCK leaf, only to choose which collateral to fetch: the
 * leaf is verified (and its FMSPC compared with the TCB info's) by DCAP afterwards.
 */
function platformOf(q: TdxQuote): { fmspc: string; ca: 'platform' | 'processor' } {
  const certs = pemBlocks(q.pckChainPem);
  if (!certs[0]) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_TDX_PCK_CHAIN_MALFORMED', message: 'The quote has no PCK certificate' });
  const leaf = parseCertificate(certs[0], 'VERIFIER_TDX_PCK_CHAIN_MALFORMED');
  return { fmspc: parsePckExtensions(leaf).fmspc, ca: /Processor CA/.test(leaf.x509.issuer) ? 'processor' : 'platform' };
}

export class TdxVerifier extends ConfiguredHardwareVerifier<TdxVerifierConfig> {
  readonly tee: Tee = 'tdx';

  async inspect(evidence: unknown, expected: OptionalBinding, options: VerifyOptions = {}): Promise<HardwareVerified> {
    const ev = decodeTdxEvidence(evidence);
    const quote = parseTdxQuote(ev.quote);
    const at = options.now ?? new Date();
    const c = this.config;
    if (c.collateral === undefined && c.pccsUrl !== undefined) {
      const { fmspc, ca } = platformOf(quote);
      const collateral = await pcsCollateral({
        url: c.pccsUrl,
        ...(c.collateralCacheDir === undefined ? {} : { cacheDir: c.collateralCacheDir }),
        ...(c.rootCaCrlUrl === undefined ? {} : { rootCaCrlUrl: c.rootCaCrlUrl }),
      }, fmspc, ca, at);
      return verifyTdxQuote(quote, ev.ccel, expected, { ...c, collateral, at });
    }
    return verifyTdxQuote(quote, ev.ccel, expected, { ...c, at });
  }
}

export function verifyTdxQuote(
  quote: TdxQuote,
  ccel: Uint8Array | undefined,
  expected: OptionalBinding,
  config: TdxVerifierConfig & { at: Date },
): HardwareVerified {
  const collateral = resolveCollateral(config.collateral, () => platformOf(quote).fmspc);
  const dcap = verifyDcap(quote, { at: config.at, collateral, allowMissingCollateral: config.allowMissingCollateral === true, roots: tdxRoots(config.trustAnchors) });
  const attrs = quote.body.tdAttributes;
  // SECURITY: a debug TD exposes its memory and registers to the host; refuse unless allowed.
  if ((attrs[0]! & 1) === 1 && config.allowDebug !== true) {
    throw new KccError({ kind: 'PERMISSION_DENIED', code: 'VERIFIER_TDX_DEBUG_NOT_ALLOWED', message: 'The TD runs in debug mode (td_attributes.DEBUG), which is not allowed' });
  }
  const skipped = [...dcap.skipped];
  if (expected.reportData) checkBinding(quote.body.reportData, expected.reportData, 'VERIFIER_TDX_REPORT_DATA_MISMATCH', 'report_data');
  else skipped.push('report_data');
  if (expected.initDataHash) checkBinding(quote.body.mrConfigId, expected.initDataHash, 'VERIFIER_TDX_INIT_DATA_MISMATCH', 'MRCONFIGID (init_data)');
  let events: CcEvent[] | undefined;
  if (ccel) {
    events = parseCcel(ccel);
    const replayed = replayRtmrs(events);
    // SECURITY: event-log claims are only meaningful when the log replays to the signed RTMRs.
    const bad = replayed.findIndex((r, i) => !Buffer.from(r).equals(Buffer.from(quote.body.rtmr[i]!)));
    if (bad >= 0) {
      throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_TDX_CCEL_RTMR_MISMATCH', message: `The CC event log does not replay to RTMR${bad} of the quote` });
    }
  }
  const claims = tdxClaims(quote, dcap, events);
  const out: HardwareVerified = { claims, teeClass: 'cpu', skipped };
  if (dcap.tcb) out.tcbStatus = dcap.tcb.status;
  return out;
}
