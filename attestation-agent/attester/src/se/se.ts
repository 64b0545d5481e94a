/**
 * The IBM Secure Execution attester (guest-components `attester/src/se`, s390x). The KBS
 * challenge nonce for `se` is a JSON `SeAttestationRequest` made by the verifier (the ARCB
 * encrypted to the host keys, the measurement key and nonce encrypted to the verifier, the
 * image's SE header tags). As trustee's kbs_protocol does for `Tee::Se`, `reportDataForChallenge`
 * injects the runtime-data digest into that request (`runtime_data_digest`, base64), and
 * `getEvidence` takes the request bytes: it runs UVIO_IOCTL_ATT with user data = the digest
 * zero-padded to 64 bytes and returns the `SeAttestationResponse` JSON (base64 STANDARD fields
 * measurement, additional_data, user_data, cuid, encr_measurement_key, encr_request_nonce,
 * image_hdr_tags), the echoed fields copied from the request.
 */
import { access, readFile } from 'node:fs/promises';
import type { Attester, AttesterDeps } from '../attester.js';
import { attesterError, padReportData } from '../errors.js';
import type { Tee } from '../tee.js';
import { UV_DEVICE, nativeUv, uvAttest, type UvIoctl } from './uv.js';

/** Where s390x Linux says whether it runs as a protected (Secure Execution) guest. */
export const PROT_VIRT_GUEST = '/sys/firmware/uv/prot_virt_guest';
/** The user data is the SHA-512 runtime digest, zero-padded (guest-components SE_REPORT_DATA_SIZE). */
export const SE_REPORT_DATA_SIZE = 64;
/** BootHdrTags: pld, ald, tld (64 bytes each) and the header tag (16). */
export const SE_HDR_TAGS_SIZE = 208;

export interface SeAttestationRequest {
  request_blob: string;
  measurement_size: number;
  additional_size: number;
  encr_measurement_key: string;
  encr_request_nonce: string;
  image_hdr_tags: string;
  runtime_data_digest?: string;
}

export interface SeEvidence {
  measurement: string;
  additional_data: string;
  user_data: string;
  cuid: string;
  encr_measurement_key: string;
  encr_request_nonce: string;
  image_hdr_tags: string;
}

export interface SeAttesterConfig {
  /** The /dev/uv ioctl (default: the native addon); tests pass a fake Ultravisor. */
  uv?: UvIoctl;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/**
 * An SE guest: the kernel says it is a protected guest (as guest-components' `pv_guest_bit_set`)
 * and the Ultravisor device is there. `/dev/uv` alone is not enough: an s390x KVM host with the
 * UV facility has it too.
 */
export async function detectSe(deps: AttesterDeps): Promise<boolean> {
  const root = deps.root ?? '';
  const bit = await readFile(root + PROT_VIRT_GUEST, 'utf8').then((s) => s.trim(), () => '');
  return bit === '1' && (await exists(root + UV_DEVICE));
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalid(message: string): never {
  throw attesterError('ATTESTER_INVALID_ARGUMENT', `Malformed SE attestation request: ${message}`);
}

function b64(o: Record<string, unknown>, key: string): Uint8Array {
  const v = o[key];
  if (typeof v !== 'string' || !B64.test(v)) invalid(`"${key}" must be a base64 string`);
  return Buffer.from(v, 'base64');
}

function u32(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) invalid(`"${key}" must be a u32`);
  return v;
}

/** Parses and checks a `SeAttestationRequest` (JSON text or bytes), field by field. */
export function parseSeRequest(input: string | Uint8Array): { request: SeAttestationRequest; arcb: Uint8Array; runtimeDigest?: Uint8Array } {
  let o: unknown;
  try {
    o = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch {
    invalid('not JSON (the se attester takes the KBS challenge nonce, with runtime_data_digest injected)');
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) invalid('not a JSON object');
  const r = o as Record<string, unknown>;
  const arcb = b64(r, 'request_blob');
  for (const k of ['encr_measurement_key', 'encr_request_nonce']) b64(r, k);
  if (b64(r, 'image_hdr_tags').length !== SE_HDR_TAGS_SIZE) invalid(`"image_hdr_tags" must be ${SE_HDR_TAGS_SIZE} bytes`);
  const request: SeAttestationRequest = {
    request_blob: r['request_blob'] as string,
    measurement_size: u32(r, 'measurement_size'),
    additional_size: u32(r, 'additional_size'),
    encr_measurement_key: r['encr_measurement_key'] as string,
    encr_request_nonce: r['encr_request_nonce'] as string,
    image_hdr_tags: r['image_hdr_tags'] as string,
  };
  if (r['runtime_data_digest'] === undefined || r['runtime_data_digest'] === null) return { request, arcb };
  const runtimeDigest = b64(r, 'runtime_data_digest');
  request.runtime_data_digest = r['runtime_data_digest'] as string;
  return { request, arcb, runtimeDigest };
}

export class SeAttester implements Attester {
  readonly tee: Tee = 'se';
  readonly #root: string;
  readonly #uv: UvIoctl | undefined;

  constructor(config: SeAttesterConfig = {}, deps: AttesterDeps = {}) {
    this.#root = deps.root ?? '';
    this.#uv = config.uv;
  }

  /** The challenge's SeAttestationRequest with `runtime_data_digest` added (trustee's field order). */
  async reportDataForChallenge(nonce: string, runtimeDigest: Uint8Array): Promise<Uint8Array> {
    padReportData(runtimeDigest, SE_REPORT_DATA_SIZE);
    const { request } = parseSeRequest(nonce);
    const withDigest: SeAttestationRequest = { ...request, runtime_data_digest: Buffer.from(runtimeDigest).toString('base64') };
    return Buffer.from(JSON.stringify(withDigest), 'utf8');
  }

  async getEvidence(requestBytes: Uint8Array): Promise<SeEvidence> {
    const { request, arcb, runtimeDigest } = parseSeRequest(requestBytes);
    if (runtimeDigest === undefined) invalid('"runtime_data_digest" is missing (reportDataForChallenge adds it)');
    // SECURITY: the digest binds the KBS session (nonce, TEE key) into the UV measurement; refuse, never truncate.
    const userData = padReportData(runtimeDigest, SE_REPORT_DATA_SIZE);
    const r = await uvAttest(this.#uv ?? nativeUv(), this.#root + UV_DEVICE, {
      arcb,
      measurementSize: request.measurement_size,
      additionalSize: request.additional_size,
      userData,
    });
    const b = (x: Uint8Array): string => Buffer.from(x).toString('base64');
    return {
      measurement: b(r.measurement),
      additional_data: b(r.additionalData),
      user_data: b(userData),
      cuid: b(r.configUid),
      encr_measurement_key: request.encr_measurement_key,
      encr_request_nonce: request.encr_request_nonce,
      image_hdr_tags: request.image_hdr_tags,
    };
  }
}
