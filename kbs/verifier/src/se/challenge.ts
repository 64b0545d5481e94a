/**
 * IBM SE supplemental challenge (trustee `generate_supplemental_challenge`): the /auth nonce for
 * `se` is a JSON SeAttestationRequest holding an Attestation Request Control Block (ARCB) for the
 * Ultravisor, plus the measurement key and nonce encrypted (RSA PKCS#1 v1.5) to this verifier's
 * key so the response can be checked statelessly (any replica). ARCB layout from s390-tools'
 * public libpv (MIT): 48-byte request header (magic 0, version 0x0100, size, IV, key-slot count,
 * encrypted size), flags + measurement algorithm (HMAC-SHA512), the customer's ephemeral P-521
 * public key (x, y padded to 80 bytes each), one 80-byte key slot per host key (SHA-256 of the
 * host key coordinates, the AES-256-GCM-wrapped request protection key and its tag; wrap key =
 * SHA-256(ECDH(customer, host) ‖ 00000001), IV 0), then AES-256-GCM over measurement key (64) ‖
 * nonce (16) with everything before as AAD, and the tag.
 *
 * Host-key documents are checked by hkd.ts (IBM Z signing key, chain, CRLs) unless the operator
 * skips it. NOT done (see README): hybrid (ML-KEM, v2) key
 * slots are not produced; no real Ultravisor has consumed our ARCB. With libpv's fixed test keys,
 * IV and protection key, buildArcb output was byte-identical to libpv's `exp/arcb.bin` (checked
 * by hand on 2026-11-23; that file is not ours to commit).
 */
import { constants, createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { KccError } from '@kata-cc/errors';
import { parseCertificate, pemBlocks, type Certificate } from '../common/x509.js';

const CONFIG = 'VERIFIER_SE_CONFIG_INVALID';
const PAGE = 4096;
const HDR_MAGIC = Buffer.from('IBMSecEx', 'latin1');
/** Flag bits are numbered from the most significant bit (IBM z/Architecture convention). */
const FLAG_NONCE = 1;
const FLAG_IMAGE_PHKH = 2;
const FLAG_ATTEST_PHKH = 3;
const PHKH_SIZE = 32;
const MEAS_ALG_HMAC_SHA512 = 1;
const MEAS_SIZE = 64;

function bad(message: string): KccError {
  return new KccError({ kind: 'FAILED_PRECONDITION', code: CONFIG, message });
}

/** The SE header tags (pld, ald, tld, tag = 208 bytes) of an SE image or a bare `hdr.bin`. */
export function seHeaderTags(image: Uint8Array): Uint8Array {
  const buf = Buffer.from(image);
  for (let off = 0; off < Math.min(buf.length, 0x15 * PAGE); off += PAGE) {
    if (!buf.subarray(off, off + 8).equals(HDR_MAGIC)) continue;
    if (buf.length < off + 0x1a0 || buf.readUInt32BE(off + 8) !== 0x100) break;
    const size = buf.readUInt32BE(off + 12);
    if (size < 0x1a0 + 16 || buf.length < off + size) break;
    return Buffer.concat([buf.subarray(off + 0xe0, off + 0x1a0), buf.subarray(off + size - 16, off + size)]);
  }
  throw bad('The SE image header (IBMSecEx, version 0x100) was not found or is truncated');
}

/** x ‖ y of an EC P-521 public key, each left-padded to 80 bytes (the Ultravisor's format). */
export function ecCoords(key: KeyObject): Buffer {
  const j = key.export({ format: 'jwk' });
  if (j.crv !== 'P-521' || j.x === undefined || j.y === undefined) throw bad('SE host keys must be EC P-521 keys');
  const pad = (b64: string): Buffer => {
    const b = Buffer.from(b64, 'base64url');
    return Buffer.concat([Buffer.alloc(80 - b.length), b]);
  };
  return Buffer.concat([pad(j.x), pad(j.y)]);
}

function gcm(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plain: Uint8Array): Buffer {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

export interface ArcbInput {
  hostKeys: readonly KeyObject[];
  measurementKey: Uint8Array;
  nonce: Uint8Array;
  /** Fixed values for tests; random otherwise. */
  customerKey?: KeyObject;
  protectionKey?: Uint8Array;
  iv?: Uint8Array;
}

/** Builds the encrypted ARCB (version 1, HMAC-SHA512, nonce + image and attestation PHKH flags). */
export function buildArcb(i: ArcbInput): Buffer {
  if (i.hostKeys.length === 0 || i.hostKeys.length > 255) throw bad('An SE challenge needs 1 to 255 host-key documents');
  const cust = i.customerKey ?? generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
  const prot = i.protectionKey ?? randomBytes(32);
  const iv = i.iv ?? randomBytes(12);
  const flags = Buffer.alloc(8);
  flags.writeBigUInt64BE([FLAG_NONCE, FLAG_IMAGE_PHKH, FLAG_ATTEST_PHKH].reduce((f, b) => f | (1n << BigInt(63 - b)), 0n));
  const auth = Buffer.alloc(16);
  flags.copy(auth, 0);
  auth.writeUInt32BE(MEAS_ALG_HMAC_SHA512, 8);
  const slots = i.hostKeys.map((hk) => {
    const wrapKey = createHash('sha256').update(diffieHellman({ privateKey: cust, publicKey: hk })).update(Buffer.from([0, 0, 0, 1])).digest();
    return Buffer.concat([createHash('sha256').update(ecCoords(hk)).digest(), gcm(wrapKey, Buffer.alloc(12), Buffer.alloc(0), prot)]);
  });
  const conf = Buffer.concat([Buffer.from(i.measurementKey), Buffer.from(i.nonce)]);
  const header = Buffer.alloc(48);
  const aadLen = 48 + auth.length + 160 + 80 * slots.length;
  header.writeUInt32BE(0x0100, 8);
  header.writeUInt32BE(aadLen + conf.length + 16, 12);
  Buffer.from(iv).copy(header, 16);
  header[39] = slots.length;
  header.writeUInt32BE(conf.length, 44);
  const aad = Buffer.concat([header, auth, ecCoords(createPublicKey(cust)), ...slots]);
  return Buffer.concat([aad, gcm(prot, iv, aad, conf)]);
}

function files(entry: string): string[] {
  return statSync(entry).isDirectory() ? readdirSync(entry).sort().map((n) => path.join(entry, n)).filter((f) => statSync(f).isFile()) : [entry];
}

/** The public keys of host-key documents (PEM or DER X.509 files, or directories of them), each passed to `check` first. */
export function loadHostKeys(entries: readonly string[], check: (hkd: Certificate) => void): KeyObject[] {
  return entries.flatMap(files).map((f) => {
    const raw = new Uint8Array(readFileSync(f));
    const der = pemBlocks(Buffer.from(raw).toString('latin1'))[0] ?? raw;
    let hkd: Certificate;
    try {
      hkd = parseCertificate(der, CONFIG);
    } catch {
      throw bad(`The host-key document ${path.basename(f)} is not an X.509 certificate`);
    }
    check(hkd);
    return hkd.publicKey;
  });
}

export interface SeChallengeInput {
  hostKeys: readonly KeyObject[];
  /** SE header tags (208 bytes) of the guest image. */
  imageHdrTags: Uint8Array;
  /** The verifier's RSA public key (the private half decrypts the echoed key and nonce). */
  measurementKeyPublic: KeyObject;
}

/** The `/auth` nonce for `se`: a JSON SeAttestationRequest, field order and encodings as trustee's serde. */
export function seChallenge(i: SeChallengeInput): string {
  const measurementKey = randomBytes(MEAS_SIZE);
  const nonce = randomBytes(16);
  const rsa = (data: Uint8Array): string => publicEncrypt({ key: i.measurementKeyPublic, padding: constants.RSA_PKCS1_PADDING }, data).toString('base64');
  return JSON.stringify({
    request_blob: buildArcb({ hostKeys: i.hostKeys, measurementKey, nonce }).toString('base64'),
    measurement_size: MEAS_SIZE,
    additional_size: 2 * PHKH_SIZE,
    encr_measurement_key: rsa(measurementKey),
    encr_request_nonce: rsa(nonce),
    image_hdr_tags: Buffer.from(i.imageHdrTags).toString('base64'),
  });
}
