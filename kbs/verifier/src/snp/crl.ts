/**
 * AMD's ARK CRL (`/vcek/v1/{product}/crl`, `/vlek/v1/{product}/crl` on the KDS): DER, signed by
 * the ARK with RSASSA-PSS (SHA-384), listing revoked ASK/ASVK certificates. Taken from
 * configured files (offline) or from a KDS-compatible URL, cached on disk until its nextUpdate.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { crlSignedBy, parseCrl, pemBlocks, sameBytes, type Certificate, type Crl } from '../common/x509.js';
import type { Generation } from './report.js';
import type { VekType } from './vek.js';

export interface ArkCrlSources {
  /** CRL files (DER or PEM `X509 CRL`); each applies to the ARK that issued it. */
  arkCrls?: readonly string[] | undefined;
  /** KDS-compatible URL to fetch the CRL from when no file matches. */
  kdsUrl?: string | undefined;
  /** Cache directory: `<dir>/crl/<Generation>_<vcek|vlek>.crl`. */
  storeDir?: string | undefined;
  fetch?: typeof fetch;
}

const CODE_MALFORMED = 'VERIFIER_SNP_CRL_MALFORMED';
const fileCache = new Map<string, Crl>();
/** KDS CRLs by URL, reused until their nextUpdate (also without a store directory). */
const urlCache = new Map<string, Crl>();

function crlFromBytes(bytes: Uint8Array): Crl {
  const text = Buffer.from(bytes).toString('latin1');
  const der = text.includes('-----BEGIN X509 CRL-----') ? pemBlocks(text)[0] : bytes;
  if (!der) throw new KccError({ kind: 'INVALID_ARGUMENT', code: CODE_MALFORMED, message: 'The ARK CRL is neither DER nor PEM' });
  return parseCrl(der, CODE_MALFORMED);
}

function fromFile(file: string): Crl {
  let c = fileCache.get(file);
  if (!c) {
    c = crlFromBytes(new Uint8Array(readFileSync(file)));
    fileCache.set(file, c);
  }
  return c;
}

/** The CRL issued by `ark`: a configured file, else the cache, else the KDS. Undefined when none is configured. */
export async function findArkCrl(ark: Certificate, gen: Generation, type: VekType, src: ArkCrlSources, at: Date): Promise<Crl | undefined> {
  for (const f of src.arkCrls ?? []) {
    const c = fromFile(f);
    if (sameBytes(c.issuerDer, ark.subjectDer)) return c;
  }
  if (src.kdsUrl === undefined) return undefined;
  const kind = type === 'VCEK' ? 'vcek' : 'vlek';
  const cacheFile = src.storeDir === undefined ? undefined : path.join(src.storeDir, 'crl', `${gen}_${kind}.crl`);
  if (cacheFile !== undefined && existsSync(cacheFile)) {
    const cached = crlFromBytes(new Uint8Array(readFileSync(cacheFile)));
    // A cached CRL is reused until its nextUpdate; after that a fresh one is fetched.
    if (cached.nextUpdate !== undefined && cached.nextUpdate > at) return cached;
  }
  const u = `${src.kdsUrl.replace(/\/+$/, '')}/${kind}/v1/${gen}/crl`;
  const mem = urlCache.get(u);
  if (mem?.nextUpdate !== undefined && mem.nextUpdate > at) return mem;
  let res: Response;
  try {
    res = await (src.fetch ?? fetch)(u, { signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new KccError({ kind: 'UNAVAILABLE', code: 'VERIFIER_SNP_CRL_FETCH_FAILED', message: `Cannot fetch the ARK CRL from ${src.kdsUrl}`, cause });
  }
  if (!res.ok) throw new KccError({ kind: 'UNAVAILABLE', code: 'VERIFIER_SNP_CRL_FETCH_FAILED', message: `The KDS at ${src.kdsUrl} returned HTTP ${res.status} for the ${gen} CRL` });
  const der = new Uint8Array(await res.arrayBuffer());
  const crl = crlFromBytes(der);
  if (crlSignedBy(crl, ark)) urlCache.set(u, crl);
  if (cacheFile !== undefined && crlSignedBy(crl, ark)) {
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeFileSync(`${cacheFile}.tmp`, der);
    renameSync(`${cacheFile}.tmp`, cacheFile);
  }
  return crl;
}

/**
 * SECURITY: a CRL counts only when the ARK signed it and it is current; then no certificate of
 * the chain below the ARK (ASK/ASVK, VEK) may be listed in it.
 */
export function checkArkCrl(crl: Crl, ark: Certificate, chain: readonly Certificate[], at: Date): void {
  if (!crlSignedBy(crl, ark)) {
    throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_CRL_SIGNATURE', message: `The ARK CRL is not signed by "${ark.subject}"` });
  }
  if (crl.thisUpdate > at || (crl.nextUpdate !== undefined && crl.nextUpdate <= at)) {
    throw new KccError({
      kind: 'UNAUTHENTICATED',
      code: 'VERIFIER_SNP_CRL_EXPIRED',
      message: `The ARK CRL is not valid at ${at.toISOString()}`,
      details: { thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate?.toISOString() },
    });
  }
  for (const c of chain) {
    if (crl.revoked.has(c.serialHex)) {
      throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_CERT_REVOKED', message: `Certificate "${c.subject}" is revoked by the ARK CRL`, details: { serial: c.serialHex } });
    }
  }
}
