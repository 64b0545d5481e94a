/**
 * IBM Secure Execution (s390x) attestation response, as far as IBM's public documents and
 * s390-tools (`pvattest`, libpv) describe it. The KBS's SE challenge carried an attestation
 * request (ARCB) whose measurement key and nonce the verifier generated and stored, encrypted
 * to its own RSA key, inside the challenge; the guest echoes them back. The Ultravisor's
 * measurement is HMAC-SHA512(measurement key, header tags ‖ config UID ‖ user-data length (BE16)
 * ‖ 0x0000 ‖ additional-data length (BE32) ‖ user data ‖ nonce ‖ additional data).
 *
 * NOT verified here (see README): the attestation request itself (ARCB creation, host-key
 * documents and their IBM signing chain/CRLs) is made when the challenge is generated, which
 * this package does not do; without that request a response proves nothing. The header tags
 * are authenticated by the HMAC but must be matched against the expected image by policy
 * (`tag` claim). No real SE evidence exists in the vectors, so tests use synthetic responses.
 */
import { constants, createHmac, createPrivateKey, createPublicKey, privateDecrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { KccError } from '@kata-cc/errors';
import type { Tee } from '@kata-cc/kbs-types';
import { toHex } from '../common/bytes.js';
import { loadHostKeys, seChallenge, seHeaderTags } from './challenge.js';
import { verifyHostKeyDocument, type HkdTrust } from './hkd.js';
import { checkBinding, decodeBase64, requireEvidenceObject } from '../common/evidence.js';
import { ConfiguredHardwareVerifier, type HardwareVerified, type OptionalBinding } from '../common/hardware-verifier.js';

export interface SeVerifierConfig {
  /** The RSA private key (PEM text or file) that encrypted the measurement key and nonce. */
  measurementKeyPrivate?: string;
  /** Host-key documents (X.509 files or directories) the /auth challenge is encrypted to. */
  hostKeyDocuments?: string[];
  /** The guest's SE image or its header (`hdr.bin`), for the header tags. */
  imageHeader?: string;
  /** Trust anchors for the host-key documents (IBM Z signing key chain and CRLs). */
  hkdTrust?: HkdTrust;
  /** Encrypt to the host-key documents without checking them (trustee's SE_SKIP_CERTS_VERIFICATION). */
  skipHkdVerification?: boolean;
}

const ARCB_VERSION_ONE = 0x0100;
const MALFORMED = 'VERIFIER_SE_EVIDENCE_MALFORMED';
const HDR_TAGS_SIZE = 64 * 3 + 16;
const SE_REPORT_DATA_SIZE = 64;
const PHKH_SIZE = 32;

export interface SeResponse {
  measurement: Uint8Array;
  additionalData: Uint8Array;
  userData: Uint8Array;
  cuid: Uint8Array;
  encrMeasurementKey: Uint8Array;
  encrRequestNonce: Uint8Array;
  imageHdrTags: Uint8Array;
}

export function decodeSeResponse(evidence: unknown): SeResponse {
  const o = requireEvidenceObject(evidence, MALFORMED, 'SE evidence (SeAttestationResponse)');
  const b = (k: string): Uint8Array => decodeBase64(o[k], MALFORMED, k);
  const r: SeResponse = {
    measurement: b('measurement'),
    additionalData: b('additional_data'),
    userData: b('user_data'),
    cuid: b('cuid'),
    encrMeasurementKey: b('encr_measurement_key'),
    encrRequestNonce: b('encr_request_nonce'),
    imageHdrTags: b('image_hdr_tags'),
  };
  if (r.cuid.length !== 16 || r.imageHdrTags.length !== HDR_TAGS_SIZE || r.userData.length > 256 || r.measurement.length !== 64) {
    throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: 'SE response fields have unexpected sizes' });
  }
  return r;
}

/** HMAC-SHA512 measurement as the Ultravisor computes it (s390-tools attestation.c). */
export function seMeasurement(key: Uint8Array, r: Pick<SeResponse, 'imageHdrTags' | 'cuid' | 'userData' | 'additionalData'>, nonce: Uint8Array): Buffer {
  const lens = Buffer.alloc(8);
  lens.writeUInt16BE(r.userData.length, 0);
  lens.writeUInt32BE(r.additionalData.length, 4);
  return createHmac('sha512', key).update(r.imageHdrTags).update(r.cuid).update(lens).update(r.userData).update(nonce).update(r.additionalData).digest();
}

/**
 * RSA PKCS#1 v1.5 decryption. Node 20 refuses RSA_PKCS1_PADDING in privateDecrypt, so the
 * padding is removed here; every failure is reported the same way (no padding oracle).
 */
function rsaDecrypt(key: KeyObject, data: Uint8Array): Buffer | undefined {
  try {
    const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, data);
    if (em[0] !== 0 || em[1] !== 2) return undefined;
    const sep = em.indexOf(0, 2);
    return sep < 10 ? undefined : em.subarray(sep + 1);
  } catch {
    return undefined;
  }
}

export class SeVerifier extends ConfiguredHardwareVerifier<SeVerifierConfig> {
  readonly tee: Tee = 'se';
  readonly #key: KeyObject | undefined;
  #challengeInput: Parameters<typeof seChallenge>[0] | undefined;
  /** When the host-key documents were last checked: re-checked hourly (CRLs, validity). */
  #checkedAt = 0;

  constructor(config: SeVerifierConfig = {}) {
    super(config);
    const k = config.measurementKeyPrivate;
    this.#key = k === undefined ? undefined : createPrivateKey(!k.includes('-----BEGIN') && existsSync(k) ? readFileSync(k, 'utf8') : k);
  }

  /** The /auth nonce: a JSON SeAttestationRequest (see challenge.ts for what is not verified). */
  async challenge(): Promise<string> {
    if (this.#challengeInput === undefined || Date.now() - this.#checkedAt > 3_600_000) {
      const c = this.config;
      if (!this.#key || c.hostKeyDocuments === undefined || c.imageHeader === undefined) {
        throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_SE_CONFIG_INVALID', message: 'An SE challenge needs measurementKeyPrivate, hostKeyDocuments and imageHeader in the se verifier config' });
      }
      const trust = c.hkdTrust;
      if (trust === undefined && c.skipHkdVerification !== true) {
        throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_SE_CONFIG_INVALID', message: 'SE host-key documents need hkdTrust {rootCa, caCerts, crls} (or skipHkdVerification)' });
      }
      const check = trust === undefined ? (): void => {} : (hkd: Parameters<typeof verifyHostKeyDocument>[0]): void => verifyHostKeyDocument(hkd, trust, new Date());
      this.#challengeInput = { hostKeys: loadHostKeys(c.hostKeyDocuments, check), imageHdrTags: seHeaderTags(new Uint8Array(readFileSync(c.imageHeader))), measurementKeyPublic: createPublicKey(this.#key) };
      this.#checkedAt = Date.now();
    }
    return seChallenge(this.#challengeInput);
  }

  async inspect(evidence: unknown, expected: OptionalBinding): Promise<HardwareVerified> {
    if (!this.#key) {
      throw new KccError({ kind: 'FAILED_PRECONDITION', code: 'VERIFIER_SE_CONFIG_INVALID', message: 'No SE measurement-encryption private key is configured' });
    }
    const r = decodeSeResponse(evidence);
    const key = rsaDecrypt(this.#key, r.encrMeasurementKey);
    const nonce = rsaDecrypt(this.#key, r.encrRequestNonce);
    const measured = key && nonce?.length === 16 ? seMeasurement(key, r, nonce) : undefined;
    // SECURITY: only the Ultravisor and this verifier know the measurement key; a matching HMAC
    // proves the UV measured this guest for the request this verifier made.
    if (!measured || !timingSafeEqual(measured, Buffer.from(r.measurement))) {
      throw new KccError({ kind: 'UNAUTHENTICATED', code: 'VERIFIER_SE_MEASUREMENT_MISMATCH', message: 'The SE attestation measurement does not verify' });
    }
    const skipped: string[] = [];
    if (expected.reportData) {
      if (r.userData.length < SE_REPORT_DATA_SIZE) throw new KccError({ kind: 'PERMISSION_DENIED', code: 'VERIFIER_SE_REPORT_DATA_MISMATCH', message: 'SE user data is shorter than report_data' });
      checkBinding(r.userData.subarray(0, SE_REPORT_DATA_SIZE), expected.reportData, 'VERIFIER_SE_REPORT_DATA_MISMATCH', 'user_data (report_data)');
    } else skipped.push('report_data');
    if (r.additionalData.length < 2 * PHKH_SIZE) {
      throw new KccError({ kind: 'INVALID_ARGUMENT', code: MALFORMED, message: 'SE additional data lacks the image and attestation public host-key hashes' });
    }
    const claims = {
      // The ARCB version (AttestationVersion::One = 0x0100), reported as trustee does: 256.
      version: ARCB_VERSION_ONE,
      cuid: toHex(r.cuid),
      report_data: toHex(r.userData.subarray(0, SE_REPORT_DATA_SIZE)),
      image_phkh: toHex(r.additionalData.subarray(0, PHKH_SIZE)),
      attestation_phkh: toHex(r.additionalData.subarray(PHKH_SIZE, 2 * PHKH_SIZE)),
      tag: toHex(r.imageHdrTags.subarray(HDR_TAGS_SIZE - 16)),
    };
    return { claims, teeClass: 'cpu', skipped: [...skipped, 'se_request_host_keys'] };
  }
}
