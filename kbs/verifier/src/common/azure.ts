/**
 * What the two Azure vTPM verifiers share: decoding the evidence (v0 byte arrays from the
 * older az-*-vtpm attesters, v1/v2 hex/base64 strings), and checking the vTPM quote signed by
 * the HCL attestation key: signature, PCR digest, nonce = report_data, PCR8 = init-data.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { KccError } from '@kata-cc/errors';
import { regularizeData } from '@kata-cc/kbs-types';
import { toHex } from './bytes.js';
import { checkBinding, decodeBase64 } from './evidence.js';
import type { OptionalBinding } from './hardware-verifier.js';
import { checkPcrDigest, parseTpmAttest, parseTpmSignature, verifyTpmSignature, type TpmSignature } from '../tpm/quote.js';

export interface AzQuote {
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  readonly pcrs: Uint8Array[];
}

function bytesOf(v: unknown, code: string, what: string): Uint8Array {
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Uint8Array.from(v as number[]);
  if (typeof v === 'string' && /^[0-9a-fA-F]*$/.test(v) && v.length % 2 === 0) return new Uint8Array(Buffer.from(v, 'hex'));
  if (typeof v === 'string') return decodeBase64(v, code, what);
  throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: `The ${what} must be bytes, hex or base64` });
}

/** Bytes given as a JSON byte array or base64 (std or url), e.g. `hcl_report`, `td_quote`. */
export function binaryField(v: unknown, code: string, what: string): Uint8Array {
  if (Array.isArray(v)) return bytesOf(v, code, what);
  return decodeBase64(v, code, what);
}

export function decodeAzQuote(q: unknown, code: string): AzQuote {
  if (typeof q !== 'object' || q === null) throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'The vTPM quote must be an object' });
  const o = q as Record<string, unknown>;
  const pcrs = o['pcrs'];
  if (!Array.isArray(pcrs)) throw new KccError({ kind: 'INVALID_ARGUMENT', code, message: 'The vTPM quote has no PCR list' });
  return {
    message: bytesOf(o['message'], code, 'quote message'),
    signature: bytesOf(o['signature'], code, 'quote signature'),
    pcrs: pcrs.map((p) => bytesOf(p, code, 'PCR')),
  };
}

/** Azure sends the raw RSASSA-SHA256 signature; trustee's tpm attester a TPMT_SIGNATURE. */
function signatureOf(raw: Uint8Array): TpmSignature {
  if (raw.length > 6 && raw[0] === 0 && (raw[1] === 0x14 || raw[1] === 0x16 || raw[1] === 0x18)) {
    try {
      return parseTpmSignature(raw);
    } catch {
      // fall through: a raw signature that happens to start like a TPMT_SIGNATURE
    }
  }
  return { alg: 'rsassa', hash: 'sha256', sig: raw };
}

/** Signature by the HCL AK, PCR digest, nonce and PCR8; returns the `tpm` claims. */
export function checkAzQuote(q: AzQuote, ak: KeyObject, expected: OptionalBinding, prefix: string, skipped: string[]): { nonce: Uint8Array; tpm: Record<string, string> } {
  const attest = parseTpmAttest(q.message);
  const sig = signatureOf(q.signature);
  verifyTpmSignature(q.message, sig, ak, `${prefix}_QUOTE_SIGNATURE`);
  const signed = checkPcrDigest(attest, q.pcrs, sig.hash, `${prefix}_PCR_DIGEST_MISMATCH`);
  // SECURITY: the quote's nonce carries this session's runtime-data digest.
  if (expected.reportData) checkBinding(attest.extraData, expected.reportData, `${prefix}_REPORT_DATA_MISMATCH`, 'vTPM quote nonce (report_data)');
  else skipped.push('report_data');
  if (expected.initDataHash) {
    const want = createHash('sha256').update(Buffer.alloc(32)).update(regularizeData(expected.initDataHash, 32)).digest();
    const pcr8 = signed.get(8);
    if (!pcr8 || !want.equals(Buffer.from(pcr8))) {
      throw new KccError({ kind: 'PERMISSION_DENIED', code: `${prefix}_INIT_DATA_MISMATCH`, message: 'vTPM PCR8 does not match the expected init-data digest' });
    }
  }
  const tpm = Object.fromEntries([...signed].sort(([a], [b]) => a - b).map(([i, p]) => [`pcr${String(i).padStart(2, '0')}`, toHex(p)]));
  return { nonce: attest.extraData, tpm };
}
