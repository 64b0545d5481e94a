/**
 * TPM 2.0 quote structures (TCG TPM 2.0 Part 2, big-endian): TPMS_ATTEST of type
 * TPM_ST_ATTEST_QUOTE and TPMT_SIGNATURE (RSASSA, RSAPSS, ECDSA), and the checks every TPM-based
 * verifier (tpm, az-snp-vtpm, az-tdx-vtpm) shares: AK signature and PCR digest.
 */
import { constants, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { KccError } from '@kata-cc/errors';

const MALFORMED = 'VERIFIER_TPM_QUOTE_MALFORMED';
const TPM_GENERATED = 0xff544347;
const TPM_ST_ATTEST_QUOTE = 0x8018;
const HASH: Record<number, { name: string; size: number }> = {
  0x0004: { name: 'sha1', size: 20 },
  0x000b: { name: 'sha256', size: 32 },
  0x000c: { name: 'sha384', size: 48 },
  0x000d: { name: 'sha512', size: 64 },
};

export interface PcrSelection {
  readonly hash: string;
  readonly pcrs: readonly number[];
}

export interface TpmAttest {
  readonly raw: Uint8Array;
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
  readonly firmwareVersion: bigint;
  readonly selections: readonly PcrSelection[];
  readonly pcrDigest: Uint8Array;
}

export interface TpmSignature {
  readonly alg: 'rsassa' | 'rsapss' | 'ecdsa';
  readonly hash: string;
  /** RSA signature bytes, or r||s for ECDSA (each left-padded to the same length). */
  readonly sig: Uint8Array;
}

class Be {
  pos = 0;
  readonly b: Buffer;
  constructor(b: Uint8Array) {
    this.b = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: 'Truncated TPM structure' });
  }
  u8(): number { this.need(1); return this.b.readUInt8(this.pos++); }
  u16(): number { this.need(2); const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32BE(this.pos); this.pos += 4; return v; }
  u64(): bigint { this.need(8); const v = this.b.readBigUInt64BE(this.pos); this.pos += 8; return v; }
  bytes(n: number): Uint8Array { this.need(n); const v = this.b.subarray(this.pos, this.pos + n); this.pos += n; return new Uint8Array(v); }
  tpm2b(): Uint8Array { return this.bytes(this.u16()); }
}

function bad(message: string): never {
  throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message });
}

export function parseTpmAttest(raw: Uint8Array): TpmAttest {
  const r = new Be(raw);
  if (r.u32() !== TPM_GENERATED) bad('TPMS_ATTEST magic is not TPM_GENERATED_VALUE');
  if (r.u16() !== TPM_ST_ATTEST_QUOTE) bad('TPMS_ATTEST is not a quote');
  const qualifiedSigner = r.tpm2b();
  const extraData = r.tpm2b();
  const clock = r.u64();
  const resetCount = r.u32();
  const restartCount = r.u32();
  const safe = r.u8() !== 0;
  const firmwareVersion = r.u64();
  const count = r.u32();
  if (count > 16) bad('Too many PCR selections');
  const selections: PcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const alg = r.u16();
    const bitmap = r.bytes(r.u8());
    const pcrs: number[] = [];
    bitmap.forEach((byte, j) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) pcrs.push(j * 8 + bit);
    });
    selections.push({ hash: HASH[alg]?.name ?? bad(`Unknown PCR bank 0x${alg.toString(16)}`), pcrs });
  }
  const pcrDigest = r.tpm2b();
  return { raw, qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, selections, pcrDigest };
}

export function parseTpmSignature(raw: Uint8Array): TpmSignature {
  const r = new Be(raw);
  const alg = r.u16();
  const hashAlg = r.u16();
  const hash = HASH[hashAlg]?.name ?? bad(`Unknown signature hash 0x${hashAlg.toString(16)}`);
  if (alg === 0x0014 || alg === 0x0016) return { alg: alg === 0x0014 ? 'rsassa' : 'rsapss', hash, sig: r.tpm2b() };
  if (alg === 0x0018) {
    const rr = r.tpm2b();
    const ss = r.tpm2b();
    const n = Math.max(rr.length, ss.length);
    const pad = (x: Uint8Array): Buffer => Buffer.concat([Buffer.alloc(n - x.length), x]);
    return { alg: 'ecdsa', hash, sig: Buffer.concat([pad(rr), pad(ss)]) };
  }
  return bad(`Unsupported TPM signature algorithm 0x${alg.toString(16)}`);
}

/** Verifies the AK signature over the TPMS_ATTEST bytes. */
export function verifyTpmSignature(attest: Uint8Array, sig: TpmSignature, ak: KeyObject, code: string): void {
  let ok = false;
  try {
    if (sig.alg === 'ecdsa') ok = cryptoVerify(sig.hash, attest, { key: ak, dsaEncoding: 'ieee-p1363' }, sig.sig);
    else if (sig.alg === 'rsapss') ok = cryptoVerify(sig.hash, attest, { key: ak, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig.sig);
    else ok = cryptoVerify(sig.hash, attest, ak, sig.sig);
  } catch {
    ok = false;
  }
  // SECURITY: the quote (nonce, PCR digest) is only trustworthy if signed by the trusted AK.
  if (!ok) throw new KccError({ kind: 'UNAUTHENTICATED', code, message: 'The TPM quote signature does not verify with the attestation key' });
}

/**
 * PCR values must hash to the signed pcrDigest: the digest (with the signature's hash) of the
 * selected PCRs, banks in selection order, PCRs in ascending index.
 */
export function checkPcrDigest(attest: TpmAttest, pcrs: readonly Uint8Array[], hash: string, code: string): Map<number, Uint8Array> {
  const h = createHash(hash);
  const signed = new Map<number, Uint8Array>();
  for (const sel of attest.selections) {
    // The evidence carries one list of SHA-256 values (trustee's format): other banks cannot be checked.
    if (sel.hash !== 'sha256') throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: `PCR bank ${sel.hash} is not supported (SHA-256 only)` });
    for (const i of sel.pcrs) {
      const v = pcrs[i];
      if (!v) throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: `PCR ${i} is selected by the quote but missing from the evidence` });
      h.update(v);
      signed.set(i, v);
    }
  }
  // SECURITY: PCR values in the evidence are unsigned; only the signed digest binds them.
  if (!Buffer.from(h.digest()).equals(Buffer.from(attest.pcrDigest))) {
    throw new KccError({ kind: 'UNAUTHENTICATED', code, message: 'The PCR values do not match the PCR digest signed in the quote' });
  }
  // SECURITY: only PCRs covered by the signed digest may become claims.
  return signed;
}
