/**
 * The TPM verifier (trustee `deps/verifier/src/tpm`): evidence
 * `{"ak_public": b64 SPKI DER, "tpm_quote": {"signature": b64 TPMT_SIGNATURE, "message": b64
 * TPMS_ATTEST, "pcrs": [hex SHA-256 x 24]}}`. The AK must be one of the configured trusted AKs
 * (SHA-256 of its SPKI DER); the quote is signed by it, the PCRs match the signed digest,
 * extraData is the report_data (zero-padded to 64) and PCR8 = SHA-256(0^32 || init-data digest).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { regularizeData, type Tee } from '@kata-cc/kbs-types';
import { fromHex, toHex } from '../common/bytes.js';
import { checkBinding, decodeBase64, requireEvidenceObject } from '../common/evidence.js';
import { ConfiguredHardwareVerifier, type HardwareVerified, type OptionalBinding } from '../common/hardware-verifier.js';
import { checkPcrDigest, parseTpmAttest, parseTpmSignature, verifyTpmSignature } from './quote.js';

export interface TpmVerifierConfig {
  /** Directory of trusted AK public keys (`*.pub`, PEM), as trustee's trusted_ak_keys_dir. */
  trustedAkKeysDir?: string;
  /** Trusted AK public keys (PEM text, or a file path). */
  trustedAks?: readonly string[];
}

const MALFORMED = 'VERIFIER_TPM_EVIDENCE_MALFORMED';
export const INITDATA_PCR = 8;

export function akFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

function loadTrusted(config: TpmVerifierConfig): Set<string> {
  const out = new Set<string>();
  const add = (pem: string): void => {
    out.add(akFingerprint(createPublicKey(pem)));
  };
  for (const k of config.trustedAks ?? []) add(!k.includes('-----BEGIN') && existsSync(k) ? readFileSync(k, 'utf8') : k);
  const dir = config.trustedAkKeysDir;
  if (dir) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_TPM_CONFIG_INVALID', message: `Trusted AK directory "${dir}" does not exist` });
    }
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.pub')).slice(0, 100)) add(readFileSync(path.join(dir, name), 'utf8'));
  }
  return out;
}

export interface TpmQuoteEvidence {
  readonly signature: Uint8Array;
  readonly message: Uint8Array;
  readonly pcrs: Uint8Array[];
}

export function decodeTpmQuote(q: unknown, code = MALFORMED): TpmQuoteEvidence {
  if (typeof q !== 'object' || q === null) throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'tpm_quote must be an object' });
  const o = q as Record<string, unknown>;
  const pcrs = o['pcrs'];
  if (!Array.isArray(pcrs) || !pcrs.every((p) => typeof p === 'string')) throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'tpm_quote.pcrs must be an array of hex strings' });
  // trustee's tpm attester sends base64; the Azure vTPM attesters send hex.
  const field = (k: string): Uint8Array => {
    const v = o[k];
    return typeof v === 'string' && /^[0-9a-fA-F]+$/.test(v) && v.length % 2 === 0 ? fromHex(v, code, k) : decodeBase64(v, code, `tpm_quote.${k}`);
  };
  return { signature: field('signature'), message: field('message'), pcrs: (pcrs as string[]).map((p) => fromHex(p, code, 'PCR')) };
}

export interface CheckedQuote {
  readonly nonce: Uint8Array;
  /** Only the PCRs the quote signed. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
}

/** Signature, PCR digest: the part shared with the Azure vTPM verifiers. */
export function checkQuote(q: TpmQuoteEvidence, ak: KeyObject, codePrefix: string): CheckedQuote {
  const attest = parseTpmAttest(q.message);
  const sig = parseTpmSignature(q.signature);
  verifyTpmSignature(q.message, sig, ak, `${codePrefix}_QUOTE_SIGNATURE`);
  const pcrs = checkPcrDigest(attest, q.pcrs, sig.hash, `${codePrefix}_PCR_DIGEST_MISMATCH`);
  return { nonce: attest.extraData, pcrs };
}

export function pcrClaims(pcrs: ReadonlyMap<number, Uint8Array>): Record<string, string> {
  return Object.fromEntries([...pcrs].sort(([a], [b]) => a - b).map(([i, p]) => [`pcr${String(i).padStart(2, '0')}`, toHex(p)]));
}

export class TpmVerifier extends ConfiguredHardwareVerifier<TpmVerifierConfig> {
  readonly tee: Tee = 'tpm';
  #trusted: Set<string> | undefined;
  readonly #keys = new Map<string, KeyObject>();

  async inspect(evidence: unknown, expected: OptionalBinding): Promise<HardwareVerified> {
    const o = requireEvidenceObject(evidence, MALFORMED, 'TPM evidence');
    const akDer = decodeBase64(o['ak_public'], MALFORMED, 'ak_public');
    // SECURITY: a TPM quote proves nothing unless its AK is one the operator trusts
    // (SHA-256 of the SPKI DER, as trustee compares it).
    const fp = createHash('sha256').update(akDer).digest('hex');
    this.#trusted ??= loadTrusted(this.config);
    if (!this.#trusted.has(fp)) {
      throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_TPM_AK_UNTRUSTED', message: 'The attestation key is not in the list of trusted AKs', details: { ak_sha256: fp } });
    }
    let ak = this.#keys.get(fp);
    if (!ak) {
      try {
        ak = createPublicKey({ key: Buffer.from(akDer), format: 'der', type: 'spki' });
      } catch (cause) {
        throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: 'ak_public is not a DER public key', cause });
      }
      this.#keys.set(fp, ak);
    }
    const q = checkQuote(decodeTpmQuote(o['tpm_quote']), ak, 'VERIFIER_TPM');
    const skipped: string[] = [];
    if (expected.reportData) checkBinding(q.nonce, expected.reportData, 'VERIFIER_TPM_REPORT_DATA_MISMATCH', 'quote nonce (report_data)');
    else skipped.push('report_data');
    const pcr8 = q.pcrs.get(INITDATA_PCR);
    if (expected.initDataHash) {
      const want = createHash('sha256').update(Buffer.alloc(32)).update(regularizeData(expected.initDataHash, 32)).digest();
      // SECURITY: init-data is bound by one extension of PCR8 from zero.
      if (!pcr8 || !want.equals(Buffer.from(pcr8))) {
        throw new KccError({ kind: 'PERMISSION_DENIED', code: 'VERIFIER_TPM_INIT_DATA_MISMATCH', message: `PCR${INITDATA_PCR} does not match the expected init-data digest` });
      }
    }
    const claims: Record<string, unknown> = {
      init_data: pcr8 ? toHex(pcr8) : '',
      report_data: toHex(q.nonce),
      ak_sha256: fp,
      // trustee's claim (base64 SPKI DER as sent), so trustee's "trusted_aks" policies run unchanged.
      ak_public: o['ak_public'],
      ...pcrClaims(q.pcrs),
    };
    return { claims, teeClass: 'cpu', skipped };
  }
}
