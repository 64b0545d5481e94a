/**
 * SE challenge (ARCB) round trip with a SAMPLE host key: no IBM host-key document or
 * Ultravisor exists here, so the test plays the Ultravisor with a P-521 key of its own: it
 * unwraps the key slot, decrypts the request and answers with the HMAC the UV would compute.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, tempDir } from '@kata-cc/testing';
import { buildArcb, ecCoords, seHeaderTags } from './challenge.js';
import { SeVerifier, seMeasurement } from './se-verifier.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('kcc-se-');
});
after(async () => tmp.cleanup());

function ungcm(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, data: Uint8Array): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
}

/** What the Ultravisor does with an ARCB: find its key slot, unwrap, decrypt. */
function ultravisorOpen(arcb: Buffer, host: { privateKey: KeyObject; publicKey: KeyObject }): { measurementKey: Buffer; nonce: Buffer; flags: bigint } {
  assert.equal(arcb.readUInt32BE(8), 0x0100);
  assert.equal(arcb.readUInt32BE(12), arcb.length);
  const nks = arcb[39]!;
  const sea = arcb.readUInt32BE(44);
  const coords = arcb.subarray(64, 224);
  const jwk = { kty: 'EC', crv: 'P-521', x: coords.subarray(14, 80).toString('base64url'), y: coords.subarray(94, 160).toString('base64url') };
  const cust = createPublicKey({ key: jwk, format: 'jwk' });
  const phkh = createHash('sha256').update(ecCoords(host.publicKey)).digest();
  let prot: Buffer | undefined;
  for (let i = 0; i < nks; i++) {
    const slot = arcb.subarray(224 + 80 * i, 304 + 80 * i);
    if (!slot.subarray(0, 32).equals(phkh)) continue;
    const wrap = createHash('sha256').update(diffieHellman({ privateKey: host.privateKey, publicKey: cust })).update(Buffer.from([0, 0, 0, 1])).digest();
    prot = ungcm(wrap, Buffer.alloc(12), Buffer.alloc(0), slot.subarray(32));
  }
  assert.ok(prot, 'a key slot for this host key');
  const aadEnd = arcb.length - sea - 16;
  const conf = ungcm(prot, arcb.subarray(16, 28), arcb.subarray(0, aadEnd), arcb.subarray(aadEnd));
  return { measurementKey: conf.subarray(0, 64), nonce: conf.subarray(64), flags: arcb.readBigUInt64BE(48) };
}

function sampleHeader(tags: Buffer, size = 0x280): Buffer {
  const h = Buffer.alloc(size);
  h.write('IBMSecEx', 0, 'latin1');
  h.writeUInt32BE(0x100, 8);
  h.writeUInt32BE(size, 12);
  tags.subarray(0, 192).copy(h, 0xe0);
  tags.subarray(192).copy(h, size - 16);
  return h;
}

test('ARCB (sample host keys): the host key holder recovers measurement key and nonce; a tampered byte breaks the GCM tag', () => {
  const hosts = [generateKeyPairSync('ec', { namedCurve: 'P-521' }), generateKeyPairSync('ec', { namedCurve: 'P-521' })];
  const measurementKey = Buffer.alloc(64, 0x77);
  const nonce = Buffer.alloc(16, 0xab);
  const arcb = buildArcb({ hostKeys: hosts.map((h) => h.publicKey), measurementKey, nonce });
  assert.equal(arcb.length, 48 + 16 + 160 + 2 * 80 + 80 + 16);
  for (const h of hosts) {
    const open = ultravisorOpen(arcb, h);
    assert.deepEqual([open.measurementKey, open.nonce], [measurementKey, nonce]);
    assert.equal(open.flags, (1n << 62n) | (1n << 61n) | (1n << 60n), 'flags: nonce, image PHKH, attestation PHKH (MSB-0 bits 1-3)');
  }
  const bad = Buffer.from(arcb);
  bad[0x3c]! ^= 1;
  assert.throws(() => ultravisorOpen(bad, hosts[0]!));
  assert.throws(() => buildArcb({ hostKeys: [], measurementKey, nonce }), { code: 'VERIFIER_SE_CONFIG_INVALID' });
});

test('SE header tags from a bare header or an image (header on a page boundary); bad headers refused', () => {
  const tags = Buffer.from(Array.from({ length: 208 }, (_, i) => i & 0xff));
  assert.deepEqual(Buffer.from(seHeaderTags(sampleHeader(tags))), tags);
  const img = Buffer.alloc(0x3000);
  sampleHeader(tags).copy(img, 0x2000);
  assert.deepEqual(Buffer.from(seHeaderTags(img)), tags);
  assert.throws(() => seHeaderTags(sampleHeader(tags).subarray(1)), { code: 'VERIFIER_SE_CONFIG_INVALID' });
  const v2 = sampleHeader(tags);
  v2.writeUInt32BE(0x200, 8);
  assert.throws(() => seHeaderTags(v2), { code: 'VERIFIER_SE_CONFIG_INVALID' });
});

test('SE challenge -> sample Ultravisor answer -> SeVerifier: verifies and binds report_data; a guest answering another challenge fails', async () => {
  requireTool('openssl');
  const d = tmp.dir;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp521r1', '-nodes', '-keyout', path.join(d, 'host.key'), '-out', path.join(d, 'hkd.crt'), '-subj', '/CN=sample host key', '-days', '1'], { stdio: 'ignore' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const tags = Buffer.alloc(208, 0x42);
  writeFileSync(path.join(d, 'hdr.bin'), sampleHeader(tags));
  const v = new SeVerifier({ measurementKeyPrivate: rsa, hostKeyDocuments: [path.join(d, 'hkd.crt')], imageHeader: path.join(d, 'hdr.bin'), skipHkdVerification: true });
  const req = JSON.parse(await v.challenge()) as Record<string, string | number>;
  assert.deepEqual(Object.keys(req), ['request_blob', 'measurement_size', 'additional_size', 'encr_measurement_key', 'encr_request_nonce', 'image_hdr_tags']);
  assert.deepEqual([req['measurement_size'], req['additional_size']], [64, 64]);
  const hostPriv = createPrivateKey(readFileSync(path.join(d, 'host.key')));
  const uv = ultravisorOpen(Buffer.from(String(req['request_blob']), 'base64'), { privateKey: hostPriv, publicKey: createPublicKey(hostPriv) });
  const reportData = Buffer.alloc(64, 5);
  const answer = { imageHdrTags: Buffer.from(String(req['image_hdr_tags']), 'base64'), cuid: Buffer.alloc(16, 1), userData: reportData, additionalData: Buffer.alloc(64, 9) };
  const response = {
    measurement: seMeasurement(uv.measurementKey, answer, uv.nonce).toString('base64'),
    additional_data: answer.additionalData.toString('base64'),
    user_data: reportData.toString('base64'),
    cuid: answer.cuid.toString('base64'),
    encr_measurement_key: req['encr_measurement_key'],
    encr_request_nonce: req['encr_request_nonce'],
    image_hdr_tags: req['image_hdr_tags'],
  };
  const out = await v.inspect(response, { reportData });
  assert.equal(out.claims['tag'], tags.subarray(192).toString('hex'));
  // The echo of another challenge's encrypted key/nonce does not match this measurement.
  const other = JSON.parse(await v.challenge()) as Record<string, string>;
  await assert.rejects(v.inspect({ ...response, encr_measurement_key: other['encr_measurement_key'], encr_request_nonce: other['encr_request_nonce'] }, { reportData }), { code: 'VERIFIER_SE_MEASUREMENT_MISMATCH' });
  await assert.rejects(new SeVerifier({ measurementKeyPrivate: rsa }).challenge(), { code: 'VERIFIER_SE_CONFIG_INVALID' });
  // Host-key documents are checked unless the operator explicitly skips it.
  await assert.rejects(new SeVerifier({ measurementKeyPrivate: rsa, hostKeyDocuments: [path.join(d, 'hkd.crt')], imageHeader: path.join(d, 'hdr.bin') }).challenge(), /need hkdTrust/);
});
