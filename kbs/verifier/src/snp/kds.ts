/**
 * VCEKs from AMD's Key Distribution Service (or a KDS-compatible cache/proxy), written into the
 * offline store layout (`<dir>/vcek/<hwid>/<tcb>_vcek.der`) when a store is configured, so the
 * next verification of the same chip and TCB needs no network. The fetched VCEK is trusted only
 * through the chain to the bundled ARK, like any other.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { toHex } from '../common/bytes.js';
import { decodeTcb, type Generation, type SnpReport } from './report.js';
import { GENERATIONS, tcbPrefix } from './vek.js';

export interface KdsConfig {
  /** e.g. https://kdsintf.amd.com */
  url: string;
  storeDir?: string;
  fetch?: typeof fetch;
}

export async function fetchVcek(cfg: KdsConfig, report: SnpReport, gen: Generation | undefined): Promise<Uint8Array> {
  if (report.chipId.every((b) => b === 0)) {
    throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_SNP_VEK_MISSING', message: 'chip_id is masked (MASK_CHIP_ID): the VCEK cannot be looked up' });
  }
  let lastStatus = 0;
  for (const g of GENERATIONS.filter((x) => !gen || x === gen)) {
    const tcb = decodeTcb(report.reportedTcb, g);
    const hwid = toHex(g === 'Turin' ? report.chipId.subarray(0, 8) : report.chipId);
    const q = `${g === 'Turin' ? `fmcSPL=${tcb.fmc}&` : ''}blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`;
    const u = `${cfg.url.replace(/\/+$/, '')}/vcek/v1/${g}/${hwid}?${q}`;
    let res: Response;
    try {
      res = await (cfg.fetch ?? fetch)(u, { signal: AbortSignal.timeout(30_000) });
    } catch (cause) {
      throw new KccError({ kind: 'UNAVAILABLE', code: 'VERIFIER_SNP_VEK_FETCH_FAILED', message: `Cannot fetch the VCEK from ${cfg.url}`, cause });
    }
    lastStatus = res.status;
    if (res.status === 404 && !gen) continue; // v2 report: try the next generation
    if (!res.ok) break;
    const der = new Uint8Array(await res.arrayBuffer());
    if (cfg.storeDir) {
      const dir = path.join(cfg.storeDir, 'vcek', hwid);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${tcbPrefix(tcb)}_vcek.der`);
      writeFileSync(`${file}.tmp`, der);
      renameSync(`${file}.tmp`, file);
    }
    return der;
  }
  throw new KccError({ kind: 'UNAVAILABLE', code: 'VERIFIER_SNP_VEK_FETCH_FAILED', message: `The KDS at ${cfg.url} returned HTTP ${lastStatus} for this chip and TCB` });
}
