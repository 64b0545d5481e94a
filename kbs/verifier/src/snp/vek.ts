/**
 * The versioned endorsement key (VCEK per chip and TCB, or VLEK per cloud provider): where it
 * comes from (evidence cert table, a configured file, the offline store
 * `<dir>/vcek/<hwid>/<tcb>_vcek.der` like trustee's OfflineStore), its chain to the bundled
 * AMD ARK through the ASK (VCEK) or ASVK (VLEK), and its TCB/hwID extensions.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { TAG, intValue, parseDer, readTlv } from '../common/der.js';
import { toHex } from '../common/bytes.js';
import { parseCertificate, pemBlocks, sameBytes, verifyChain, type Certificate } from '../common/x509.js';
import { AMD_CHAINS_PEM } from './amd-roots.js';
import { trustAnchorCerts } from '../common/trust-anchors.js';
import { decodeTcb, type Generation, type SnpReport, type Tcb } from './report.js';
import type { CertEntry } from './wire.js';

export type VekType = 'VCEK' | 'VLEK';
export const GENERATIONS: readonly Generation[] = ['Milan', 'Genoa', 'Turin'];

interface VendorChain {
  readonly ask: Certificate;
  readonly ark: Certificate;
  readonly asvk: Certificate;
}

/**
 * Operator trust anchors per generation (SnpVerifierConfig `trustAnchors`): PEM text or a PEM
 * file holding ASK, ARK and ASVK in AMD's KDS order (the VCEK `cert_chain` followed by the ASVK).
 * When set they REPLACE the bundled AMD chains: a generation without an entry has no anchor.
 */
export type SnpTrustAnchors = Partial<Record<Generation, string>>;

const chains = new Map<Generation, VendorChain>();
const configured = new WeakMap<SnpTrustAnchors, Map<Generation, VendorChain>>();

function configuredChain(gen: Generation, anchors: SnpTrustAnchors): VendorChain {
  let m = configured.get(anchors);
  if (!m) configured.set(anchors, (m = new Map()));
  let c = m.get(gen);
  if (c) return c;
  const pem = anchors[gen];
  if (pem === undefined) {
    throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_VEK_UNTRUSTED', message: `No trust anchor is configured for ${gen} (trustAnchors replaces the bundled AMD roots)` });
  }
  const [ask, ark, asvk] = trustAnchorCerts(pem, `SNP trustAnchors.${gen}`);
  if (!ask || !ark || !asvk) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_TRUST_ANCHOR_INVALID', message: `SNP trustAnchors.${gen} must hold ASK, ARK and ASVK (in that order)` });
  }
  c = { ask, ark, asvk };
  m.set(gen, c);
  return c;
}

export function vendorChain(gen: Generation, anchors?: SnpTrustAnchors): VendorChain {
  if (anchors !== undefined) return configuredChain(gen, anchors);
  let c = chains.get(gen);
  if (!c) {
    const [ask, ark, asvk] = pemBlocks(AMD_CHAINS_PEM[gen]).map((d) => parseCertificate(d));
    c = { ask: ask!, ark: ark!, asvk: asvk! };
    chains.set(gen, c);
  }
  return c;
}

/** key_info bits 4:2 (SIGNING_KEY): 0 = VCEK, 1 = VLEK, 7 = none. */
export function signingKeyType(report: SnpReport): VekType {
  const k = (report.keyInfo >> 2) & 7;
  if (k === 0) return 'VCEK';
  if (k === 1) return 'VLEK';
  throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_REPORT_UNSIGNED', message: `The report is not signed by a VCEK or VLEK (signing key ${k})` });
}

export function tcbPrefix(t: Tcb): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const base = `bl${p(t.bootloader)}_tee${p(t.tee)}_snp${p(t.snp)}_ucode${p(t.microcode)}`;
  return t.fmc === undefined ? base : `${base}_fmc${p(t.fmc)}`;
}

function certBytes(data: Uint8Array): Uint8Array {
  if (data[0] === 0x30) return data;
  const pem = pemBlocks(Buffer.from(data).toString('latin1'))[0];
  if (!pem) throw new KccError({ kind: 'INVALID_ARGUMENT', code: 'VERIFIER_SNP_VEK_MALFORMED', message: 'VEK is neither DER nor PEM' });
  return pem;
}

export interface VekSources {
  readonly certTable: readonly CertEntry[];
  /** A VCEK/VLEK given explicitly (DER or PEM bytes). */
  readonly vek?: Uint8Array | undefined;
  /** Offline store root: `<dir>/vcek/<hwid>/<tcb prefix>_vcek.der` or `<dir>/vcek/<hwid>/vcek.der`. */
  readonly storeDir?: string | undefined;
}

/** Finds the VEK: evidence cert table first, then the explicit one, then the offline store. */
export function findVek(report: SnpReport, type: VekType, gen: Generation | undefined, src: VekSources): Uint8Array {
  const fromTable = src.certTable.find((e) => e.type === type);
  if (fromTable) return certBytes(fromTable.data);
  if (src.vek) return certBytes(src.vek);
  if (src.storeDir && type === 'VCEK') {
    const hwid = toHex(gen === 'Turin' ? report.chipId.subarray(0, 8) : report.chipId);
    const dir = path.join(src.storeDir, 'vcek', hwid);
    const candidates = GENERATIONS.filter((g) => !gen || g === gen).map((g) => `${tcbPrefix(decodeTcb(report.reportedTcb, g))}_vcek.der`);
    for (const name of [...new Set(candidates), 'vcek.der']) {
      const p = path.join(dir, name);
      if (existsSync(p)) return certBytes(new Uint8Array(readFileSync(p)));
    }
  }
  throw new KccError({
    kind: 'FAILED_PRECONDITION',
    code: 'VERIFIER_SNP_VEK_MISSING',
    message: `No ${type} for this report: the evidence has no cert table entry and none was configured (--vcek or the offline store vcek/<hwid>/<tcb>_vcek.der)`,
  });
}

/** Verifies VEK -> ASK/ASVK -> ARK for the report's generation (all, when CPUID is absent). */
export function verifyVekChain(vek: Certificate, type: VekType, gen: Generation | undefined, at: Date, anchors?: SnpTrustAnchors): Generation {
  let last: unknown;
  // Without CPUID (v2 reports) only the generations that have an anchor are tried.
  for (const g of GENERATIONS.filter((x) => (!gen || x === gen) && (anchors === undefined || gen !== undefined || anchors[x] !== undefined))) {
    const v = vendorChain(g, anchors);
    const intermediate = type === 'VCEK' ? v.ask : v.asvk;
    if (!sameBytes(vek.issuerDer, intermediate.subjectDer)) continue;
    try {
      // SECURITY: ARK and ASK/ASVK are bundled (or configured by the operator), so the evidence only brings the leaf.
      verifyChain(vek, [intermediate], [v.ark], at, {
        untrusted: 'VERIFIER_SNP_VEK_UNTRUSTED',
        signature: 'VERIFIER_SNP_VEK_SIGNATURE',
        expired: 'VERIFIER_SNP_CERT_EXPIRED',
      });
      return g;
    } catch (err) {
      last = err;
    }
  }
  if (last) throw last;
  throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_VEK_UNTRUSTED', message: `The ${type} "${vek.subject}" is not issued by an AMD ${type === 'VCEK' ? 'ASK' : 'ASVK'}${gen ? ` for ${gen}` : ''}` });
}

const OID_SPL: [keyof Tcb, string][] = [
  ['bootloader', '1.3.6.1.4.1.3704.1.3.1'],
  ['tee', '1.3.6.1.4.1.3704.1.3.2'],
  ['snp', '1.3.6.1.4.1.3704.1.3.3'],
  ['microcode', '1.3.6.1.4.1.3704.1.3.8'],
  ['fmc', '1.3.6.1.4.1.3704.1.3.9'],
];
const OID_HWID = '1.3.6.1.4.1.3704.1.4';

function extInt(cert: Certificate, oid: string): number | undefined {
  const e = cert.extensions.get(oid);
  if (!e) return undefined;
  const n = parseDer(e.value);
  if (n.tag !== TAG.INTEGER) throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_VEK_MALFORMED', message: `VEK extension ${oid} is not an INTEGER` });
  return intValue(n.value);
}

/** The hwID extension: raw 64 bytes (legacy KDS) or a DER OCTET STRING of them. */
export function vekHwid(cert: Certificate): Uint8Array | undefined {
  const e = cert.extensions.get(OID_HWID);
  if (!e) return undefined;
  if (e.value.length === 64) return e.value;
  const { node } = readTlv(e.value);
  return node.tag === TAG.OCTET_STRING ? node.value : undefined;
}

/** Reported TCB and chip ID must be exactly those the VEK was issued for. */
export function checkVekMatchesReport(cert: Certificate, report: SnpReport, type: VekType, gen: Generation): void {
  const tcb = decodeTcb(report.reportedTcb, gen);
  for (const [field, oid] of OID_SPL) {
    if (field === 'fmc' && gen !== 'Turin') continue;
    const v = extInt(cert, oid);
    // SECURITY: a VEK certifies one TCB; a report claiming another TCB is not endorsed by it.
    if (v === undefined || v !== tcb[field]) {
      throw new KccError({
        kind: 'UNAUTHENTICATED',
        code: 'VERIFIER_SNP_TCB_MISMATCH',
        message: `Reported TCB ${field} ${String(tcb[field])} does not match the ${type} (${String(v)})`,
      });
    }
  }
  if (type === 'VCEK') {
    const hwid = vekHwid(cert);
    const chip = gen === 'Turin' ? report.chipId.subarray(0, 8) : report.chipId;
    const certChip = gen === 'Turin' && hwid ? hwid.subarray(0, 8) : hwid;
    // SECURITY: the VCEK belongs to one chip; chip_id must be that chip (unless masked by policy).
    if (!hwid || !sameBytes(certChip!, chip)) {
      throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SNP_CHIP_ID_MISMATCH', message: 'The report chip_id does not match the VCEK hwID' });
    }
  }
}
