/**
 * DCAP collateral from a PCCS or Intel PCS (API v4) with an on-disk cache laid out exactly like
 * an offline collateral directory (README "Offline collateral"), one per FMSPC and PCK CA. The
 * cache is used while every piece is inside its validity window at the verification time, and
 * refreshed otherwise; writes are atomic (temp dir + rename). Nothing fetched is trusted: the
 * verifier checks every signature and chain as for offline collateral.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { parseCrl } from '../common/x509.js';
import { crlBytes, loadCollateralDir, splitSignedBody, type QuoteCollateral } from './collateral.js';

export interface PcsConfig {
  /** PCCS or PCS base URL, e.g. https://pccs.example:8081 or https://api.trustedservices.intel.com. */
  url: string;
  /** Root CA CRL URL; default `<url>/sgx/certification/v4/rootcacrl` (PCCS). */
  rootCaCrlUrl?: string;
  /** On-disk cache root; without it every verification fetches. */
  cacheDir?: string;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
}

function unavailable(message: string, cause?: unknown): KccError {
  return new KccError({ kind: 'UNAVAILABLE', code: 'VERIFIER_TDX_COLLATERAL_FETCH_FAILED', message, ...(cause === undefined ? {} : { cause }) });
}

async function get(cfg: PcsConfig, url: string, chainHeaders: string[]): Promise<{ body: Buffer; chain?: string }> {
  let res: Response;
  try {
    res = await (cfg.fetch ?? fetch)(url, { signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw unavailable(`Cannot fetch DCAP collateral from ${url}`, cause);
  }
  if (!res.ok) throw unavailable(`DCAP collateral request ${url} failed with HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const h = chainHeaders.map((n) => res.headers.get(n)).find((v) => v);
  return h ? { body, chain: decodeURIComponent(h) } : { body };
}

/** True when every piece present in `c` is inside its window at `at` and none is missing. */
function fresh(c: QuoteCollateral, at: Date): boolean {
  if (!c.tcbInfo || !c.qeIdentity || !c.pckCrl || !c.rootCaCrl || !c.tcbInfoIssuerChain || !c.qeIdentityIssuerChain || !c.pckCrlIssuerChain) return false;
  try {
    const t = JSON.parse(c.tcbInfo) as { nextUpdate: string };
    const q = JSON.parse(c.qeIdentity) as { nextUpdate: string };
    const crls = [parseCrl(c.pckCrl), parseCrl(c.rootCaCrl)];
    return new Date(t.nextUpdate) > at && new Date(q.nextUpdate) > at && crls.every((x) => !x.nextUpdate || x.nextUpdate > at);
  } catch {
    return false;
  }
}

const inflight = new Map<string, Promise<QuoteCollateral>>();

/**
 * Collateral for `fmspc` and PCK CA type (`platform` or `processor`), cached when configured.
 * Concurrent verifications of the same platform share one fetch.
 */
export function pcsCollateral(cfg: PcsConfig, fmspc: string, ca: 'platform' | 'processor', at: Date): Promise<QuoteCollateral> {
  const key = `${cfg.url}|${cfg.cacheDir ?? ''}|${fmspc}|${ca}|${at.getTime()}`;
  let p = inflight.get(key);
  if (!p) {
    p = fetchOrCached(cfg, fmspc, ca, at).finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

async function fetchOrCached(cfg: PcsConfig, fmspc: string, ca: 'platform' | 'processor', at: Date): Promise<QuoteCollateral> {
  const dir = cfg.cacheDir ? path.join(cfg.cacheDir, `${fmspc}-${ca}`) : undefined;
  if (dir && existsSync(dir)) {
    const cached = loadCollateralDir(dir, fmspc);
    if (fresh(cached, at)) return cached;
  }
  const base = cfg.url.replace(/\/+$/, '');
  const [tcb, qe, pck, root] = await Promise.all([
    get(cfg, `${base}/tdx/certification/v4/tcb?fmspc=${fmspc}`, ['TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain']),
    get(cfg, `${base}/tdx/certification/v4/qe/identity`, ['SGX-Enclave-Identity-Issuer-Chain', 'Enclave-Identity-Issuer-Chain']),
    get(cfg, `${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`, ['SGX-PCK-CRL-Issuer-Chain']),
    get(cfg, cfg.rootCaCrlUrl ?? `${base}/sgx/certification/v4/rootcacrl`, []),
  ]);
  const t = splitSignedBody(tcb.body.toString('utf8'), 'tcbInfo');
  const q = splitSignedBody(qe.body.toString('utf8'), 'enclaveIdentity');
  const out: QuoteCollateral = {
    tcbInfo: t.raw,
    tcbInfoSignature: t.signature,
    qeIdentity: q.raw,
    qeIdentitySignature: q.signature,
    pckCrl: crlBytes(pck.body),
    rootCaCrl: crlBytes(root.body),
    ...(tcb.chain ? { tcbInfoIssuerChain: tcb.chain } : {}),
    ...(qe.chain ? { qeIdentityIssuerChain: qe.chain } : {}),
    ...(pck.chain ? { pckCrlIssuerChain: pck.chain } : {}),
  };
  if (dir) {
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    mkdirSync(tmp, { recursive: true });
    writeFileSync(path.join(tmp, `tcbinfo-${fmspc}.json`), tcb.body);
    writeFileSync(path.join(tmp, 'qe_identity.json'), qe.body);
    writeFileSync(path.join(tmp, 'pck_crl.der'), out.pckCrl!);
    writeFileSync(path.join(tmp, 'root_ca_crl.der'), out.rootCaCrl!);
    if (tcb.chain) writeFileSync(path.join(tmp, 'tcb_info_issuer_chain.pem'), tcb.chain);
    if (qe.chain) writeFileSync(path.join(tmp, 'qe_identity_issuer_chain.pem'), qe.chain);
    if (pck.chain) writeFileSync(path.join(tmp, 'pck_crl_issuer_chain.pem'), pck.chain);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return out;
}
