import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, publicEncrypt, constants, randomBytes } from 'node:crypto';
import { SeVerifier, seMeasurement } from './se-verifier.js';

// No real IBM SE evidence exists in the vectors: these are SYNTHETIC responses built the way
// s390-tools documents the Ultravisor measurement.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function syntheticResponse(userData: Buffer): Record<string, string> {
  const key = randomBytes(64);
  const nonce = randomBytes(16);
  const enc = (b: Buffer): string => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, b).toString('base64');
  const r = { imageHdrTags: randomBytes(208), cuid: randomBytes(16), userData, additionalData: randomBytes(64) };
  return {
    measurement: seMeasurement(key, r, nonce).toString('base64'),
    additional_data: r.additionalData.toString('base64'),
    user_data: userData.toString('base64'),
    cuid: r.cuid.toString('base64'),
    encr_measurement_key: enc(key),
    encr_request_nonce: enc(nonce),
    image_hdr_tags: r.imageHdrTags.toString('base64'),
  };
}

test('SE (synthetic response): measurement HMAC, user_data binding, claims; tampering fails with its code', async () => {
  const rd = randomBytes(64);
  const ev = syntheticResponse(Buffer.concat([rd, Buffer.alloc(16)]));
  const v = new SeVerifier({ measurementKeyPrivate: pem });
  const out = await v.inspect(ev, { reportData: rd });
  assert.equal(out.claims['report_data'], rd.toString('hex'));
  assert.equal((out.claims['tag'] as string).length, 32);
  await assert.rejects(v.inspect(ev, { reportData: randomBytes(64) }), { code: 'VERIFIER_SE_REPORT_DATA_MISMATCH' });
  const cuid = Buffer.from(ev['cuid']!, 'base64');
  cuid[0]! ^= 1;
  await assert.rejects(v.inspect({ ...ev, cuid: cuid.toString('base64') }, {}), { code: 'VERIFIER_SE_MEASUREMENT_MISMATCH' });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await assert.rejects(new SeVerifier({ measurementKeyPrivate: other }).inspect(ev, {}), { code: 'VERIFIER_SE_MEASUREMENT_MISMATCH' });
  await assert.rejects(new SeVerifier().inspect(ev, {}), { code: 'VERIFIER_SE_CONFIG_INVALID' });
  await assert.rejects(v.inspect({ measurement: 'AA==' }, {}), { code: 'VERIFIER_SE_EVIDENCE_MALFORMED' });
});
