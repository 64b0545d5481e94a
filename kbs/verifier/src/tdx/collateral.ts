/**
 * DCAP collateral, offline: the `QuoteCollateralV3` JSON layout (the one Intel's QVL and
 * other verifiers exchange) or a directory of PCS responses. Every piece is optional here;
 * the verifier decides whether a missing piece is an error (it is, unless told otherwise).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { fromHex } from '../common/bytes.js';
import { rawJsonMember } from '../common/json-raw.js';
import { pemBlocks } from '../common/x509.js';

export interface QuoteCollateral {
  readonly pckCrlIssuerChain?: string;
  readonly rootCaCrl?: Uint8Array;
  readonly pckCrl?: Uint8Array;
  readonly tcbInfoIssuerChain?: string;
  /** The raw `tcbInfo` JSON text that was signed. */
  readonly tcbInfo?: string;
  readonly tcbInfoSignature?: Uint8Array;
  readonly qeIdentityIssuerChain?: string;
  /** The raw `enclaveIdentity` JSON text that was signed. */
  readonly qeIdentity?: string;
  readonly qeIdentitySignature?: Uint8Array;
}

const CODE = 'VERIFIER_TDX_COLLATERAL_MALFORMED';

function bad(message: string, cause?: unknown): KccError {
  return new KccError({ kind: 'INVALID_ARGUMENT', code: CODE, message, ...(cause === undefined ? {} : { cause }) });
}

/** Splits a PCS body `{"tcbInfo":{...},"signature":"hex"}` into signed text and signature. */
export function splitSignedBody(text: string, member: 'tcbInfo' | 'enclaveIdentity'): { raw: string; signature: Uint8Array } {
  const raw = rawJsonMember(text, member);
  const sig = (JSON.parse(text) as Record<string, unknown>)['signature'];
  if (raw === undefined || typeof sig !== 'string') throw bad(`PCS response has no "${member}" and "signature"`);
  return { raw, signature: fromHex(sig, CODE, `${member} signature`) };
}

/** A CRL given as DER bytes, hex text or PEM. */
export function crlBytes(data: Uint8Array): Uint8Array {
  if (data[0] === 0x30) return data;
  const text = Buffer.from(data).toString('latin1').trim();
  const pem = pemBlocks(text, 'X509 CRL')[0];
  if (pem) return pem;
  return fromHex(text, CODE, 'CRL');
}

function str(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`Collateral field "${key}" must be a string`);
  return v;
}

/** Parses the QuoteCollateralV3 JSON object (snake_case fields, hex CRLs and signatures). */
export function parseCollateralJson(text: string): QuoteCollateral {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw bad('Collateral is not valid JSON', err);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('Collateral must be a JSON object');
  const out: { -readonly [K in keyof QuoteCollateral]: QuoteCollateral[K] } = {};
  const hex = (k: string): Uint8Array | undefined => {
    const v = str(o, k);
    return v === undefined ? undefined : fromHex(v, CODE, k);
  };
  const set = <K extends keyof QuoteCollateral>(k: K, v: QuoteCollateral[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('pckCrlIssuerChain', str(o, 'pck_crl_issuer_chain'));
  set('rootCaCrl', hex('root_ca_crl'));
  set('pckCrl', hex('pck_crl'));
  set('tcbInfoIssuerChain', str(o, 'tcb_info_issuer_chain'));
  set('qeIdentityIssuerChain', str(o, 'qe_identity_issuer_chain'));
  const tcb = str(o, 'tcb_info');
  // A whole PCS body is accepted in place of the bare signed object.
  if (tcb !== undefined && rawJsonMember(tcb, 'tcbInfo') !== undefined) {
    const s = splitSignedBody(tcb, 'tcbInfo');
    set('tcbInfo', s.raw);
    set('tcbInfoSignature', s.signature);
  } else {
    set('tcbInfo', tcb);
    set('tcbInfoSignature', hex('tcb_info_signature'));
  }
  const qe = str(o, 'qe_identity');
  if (qe !== undefined && rawJsonMember(qe, 'enclaveIdentity') !== undefined) {
    const s = splitSignedBody(qe, 'enclaveIdentity');
    set('qeIdentity', s.raw);
    set('qeIdentitySignature', s.signature);
  } else {
    set('qeIdentity', qe);
    set('qeIdentitySignature', hex('qe_identity_signature'));
  }
  return out;
}

/**
 * A directory of PCS responses (README "Offline collateral"): `tcbinfo-<fmspc>.json` or
 * `tcb_info.json`, `qe_identity.json` (PCS bodies), `pck_crl.der`, `root_ca_crl.der` (DER, hex
 * or PEM), and the PCS issuer-chain headers URL-decoded as `tcb_info_issuer_chain.pem`,
 * `qe_identity_issuer_chain.pem`, `pck_crl_issuer_chain.pem`.
 */
export function loadCollateralDir(dir: string, fmspc: string): QuoteCollateral {
  if (!existsSync(dir)) throw bad(`Collateral directory "${dir}" does not exist`);
  const names = new Map(readdirSync(dir).map((n) => [n.toLowerCase(), n]));
  const pick = (...candidates: string[]): string | undefined => {
    for (const c of candidates) {
      const real = names.get(c.toLowerCase());
      if (real) return path.join(dir, real);
    }
    return undefined;
  };
  const text = (p: string | undefined): string | undefined => (p ? readFileSync(p, 'utf8') : undefined);
  const out: { -readonly [K in keyof QuoteCollateral]: QuoteCollateral[K] } = {};
  const tcbFile = pick(`tcbinfo-${fmspc}.json`, 'tcb_info.json', 'tcbinfo.json');
  if (tcbFile) {
    const s = splitSignedBody(readFileSync(tcbFile, 'utf8'), 'tcbInfo');
    out.tcbInfo = s.raw;
    out.tcbInfoSignature = s.signature;
  }
  const qeFile = pick('qe_identity.json', 'qeidentity.json', 'td_qe_identity.json');
  if (qeFile) {
    const s = splitSignedBody(readFileSync(qeFile, 'utf8'), 'enclaveIdentity');
    out.qeIdentity = s.raw;
    out.qeIdentitySignature = s.signature;
  }
  const pckCrl = pick('pck_crl.der', 'pckcrl.der', 'pck_crl');
  if (pckCrl) out.pckCrl = crlBytes(readFileSync(pckCrl));
  const rootCrl = pick('root_ca_crl.der', 'rootcrl.der', 'root_ca_crl');
  if (rootCrl) out.rootCaCrl = crlBytes(readFileSync(rootCrl));
  const chains: [keyof QuoteCollateral, string][] = [
    ['tcbInfoIssuerChain', 'tcb_info_issuer_chain.pem'],
    ['qeIdentityIssuerChain', 'qe_identity_issuer_chain.pem'],
    ['pckCrlIssuerChain', 'pck_crl_issuer_chain.pem'],
  ];
  for (const [key, file] of chains) {
    const t = text(pick(file));
    if (t !== undefined) (out as Record<string, unknown>)[key] = t;
  }
  return out;
}
