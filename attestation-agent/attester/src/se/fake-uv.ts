/**
 * Test support: a FAKE Ultravisor behind the `UvIoctl` seam. It does what the kernel's uvdevice
 * checks (EINVAL for empty or oversized ARCB / measurement, oversized additional data) and what
 * IBM documents the Ultravisor does with an Attestation Request Control Block (s390-tools
 * `pvattest`, libpv): find the key slot for one of its host keys, unwrap the request protection
 * key (AES-256-GCM under SHA-256(ECDH(host, customer) ‖ 00000001), zero IV), decrypt the
 * measurement key and nonce (AES-256-GCM, the header IV, everything before as AAD), then return
 * HMAC-SHA512(measurement key, header tags ‖ config UID ‖ user-data length (BE16) ‖ 0x0000 ‖
 * additional-data length (BE32) ‖ user data ‖ nonce ‖ additional data) with the additional data
 * (image and attestation public host-key hashes). No s390x hardware is involved; the failure rc
 * values (other than 0x0001 = executed) are this fake's, not the Ultravisor's documented ones.
 */
import { createDecipheriv, createHash, createHmac, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { constants } from 'node:os';
import type { UvIoctlOutcome } from '@kata-cc/tee-devices';
import { UVIO_ATT_ADDITIONAL_MAX_LEN, UVIO_ATT_ARCB_MAX_LEN, UVIO_ATT_MEASUREMENT_MAX_LEN, UVC_RC_EXECUTED, type UvIoctl } from './uv.js';

export interface FakeUltravisorOptions {
  /** The machine's host-key private keys (EC P-521). */
  hostKeys: KeyObject[];
  /** SE header tags (208 bytes) of the image this guest booted. */
  imageHdrTags: Uint8Array;
  /** The configuration UID of this guest (16 bytes); random by default. */
  configUid?: Uint8Array;
}

export interface FakeUltravisor extends UvIoctl {
  calls: number;
  readonly configUid: Uint8Array;
}

/** x ‖ y of a P-521 public key, each left-padded to 80 bytes. */
export function hostKeyCoords(key: KeyObject): Buffer {
  const j = createPublicKey(key).export({ format: 'jwk' });
  const pad = (s: string | undefined): Buffer => { const b = Buffer.from(s ?? '', 'base64url'); return Buffer.concat([Buffer.alloc(80 - b.length), b]); };
  return Buffer.concat([pad(j.x), pad(j.y)]);
}

function gcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  } catch {
    return undefined;
  }
}

const FLAG_NONCE = 1n << 62n;
const FLAG_IMAGE_PHKH = 1n << 61n;
const FLAG_ATTEST_PHKH = 1n << 60n;

export function fakeUltravisor(o: FakeUltravisorOptions): FakeUltravisor {
  const cuid = Buffer.from(o.configUid ?? randomBytes(16));
  const hosts = o.hostKeys.map((k) => ({ key: k, phkh: createHash('sha256').update(hostKeyCoords(k)).digest() }));
  const out = (uvRc: number, addDataLen = 0): UvIoctlOutcome => ({ stage: 'ioctl', errno: 0, uvRc, uvRrc: 0, addDataLen });
  const uv: FakeUltravisor = {
    calls: 0,
    configUid: cuid,
    async attest(_device, arcbIn, meas, add, user, uidOut) {
      uv.calls++;
      const einval = { stage: 'ioctl' as const, errno: constants.errno.EINVAL, uvRc: 0, uvRrc: 0, addDataLen: add.length };
      if (arcbIn.length === 0 || arcbIn.length > UVIO_ATT_ARCB_MAX_LEN || meas.length === 0 || meas.length > UVIO_ATT_MEASUREMENT_MAX_LEN || add.length > UVIO_ATT_ADDITIONAL_MAX_LEN) return einval;
      const a = Buffer.from(arcbIn);
      if (a.length < 224 || a.readUInt32BE(8) !== 0x0100 || a.readUInt32BE(12) !== a.length) return out(0x0102);
      const slots = a[39]!;
      const confLen = a.readUInt32BE(44);
      const aadLen = 224 + 80 * slots;
      if (a.length !== aadLen + confLen + 16) return out(0x0102);
      const flags = a.readBigUInt64BE(48);
      if (a.readUInt32BE(56) !== 1 || meas.length !== 64) return out(0x0103); // HMAC-SHA512 only
      const coords = a.subarray(64, 224);
      const customer = createPublicKey({ key: { kty: 'EC', crv: 'P-521', x: coords.subarray(14, 80).toString('base64url'), y: coords.subarray(94, 160).toString('base64url') }, format: 'jwk' });
      let prot: Buffer | undefined;
      let used: Buffer | undefined;
      for (let i = 0; i < slots && !prot; i++) {
        const slot = a.subarray(224 + 80 * i, 224 + 80 * (i + 1));
        const host = hosts.find((h) => h.phkh.equals(slot.subarray(0, 32)));
        if (!host) continue;
        const wrap = createHash('sha256').update(diffieHellman({ privateKey: host.key, publicKey: customer })).update(Buffer.from([0, 0, 0, 1])).digest();
        prot = gcmOpen(wrap, Buffer.alloc(12), Buffer.alloc(0), slot.subarray(32, 80));
        used = host.phkh;
      }
      if (!prot || !used) return out(0x0104); // no key slot for this machine
      const conf = gcmOpen(prot, a.subarray(16, 28), a.subarray(0, aadLen), a.subarray(aadLen));
      if (!conf || conf.length < 64) return out(0x0105);
      const nonce = flags & FLAG_NONCE ? conf.subarray(64, 80) : Buffer.alloc(0);
      const additional = Buffer.concat([flags & FLAG_IMAGE_PHKH ? used : Buffer.alloc(0), flags & FLAG_ATTEST_PHKH ? used : Buffer.alloc(0)]);
      if (additional.length > add.length) return out(0x0106);
      const lens = Buffer.alloc(8);
      lens.writeUInt16BE(user.length, 0);
      lens.writeUInt32BE(additional.length, 4);
      meas.set(createHmac('sha512', conf.subarray(0, 64)).update(o.imageHdrTags).update(cuid).update(lens).update(user).update(nonce).update(additional).digest());
      add.fill(0);
      add.set(additional);
      uidOut.set(cuid);
      return out(UVC_RC_EXECUTED, add.length);
    },
  };
  return uv;
}
