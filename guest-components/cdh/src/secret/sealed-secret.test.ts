import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasCode } from '@kata-cc/errors';
import { tempDir } from '@kata-cc/testing';
import { MapResources } from '../testing-resources.js';
import { kbsEnvelope, sealSecret } from './seal.js';
import { unsealSecret } from './sealed-secret.js';

const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = JSON.stringify(signer.publicKey.export({ format: 'jwk' }));
const vault = { type: 'vault', provider: 'kbs', name: 'kbs:///default/secret/1', provider_settings: {}, annotations: {} };

test('unsealSecret() verifies an ES256 vault secret with a KBS-held JWK and returns the resource', async () => {
  const res = new MapResources().set('kbs:///default/sealing/pub', jwk).set('kbs:///default/secret/1', 'db-password');
  const sealed = sealSecret(vault, signer.privateKey, 'kbs:///default/sealing/pub');
  assert.equal(Buffer.from(await unsealSecret(sealed, { resources: res, skipVerification: false })).toString(), 'db-password');
  assert.deepEqual(res.requested, ['kbs:///default/sealing/pub', 'kbs:///default/secret/1']);
});

test('unsealSecret() opens a kbs envelope secret (KEK from the KBS)', async () => {
  const kek = randomBytes(32);
  const res = new MapResources().set('kbs:///default/sealing/pub', jwk).set('kbs:///default/kek/1', kek);
  const sealed = sealSecret(kbsEnvelope(Buffer.from('envelope plaintext'), kek, 'kbs:///default/kek/1'), signer.privateKey, 'kbs:///default/sealing/pub');
  assert.equal(Buffer.from(await unsealSecret(sealed, { resources: res, skipVerification: false })).toString(), 'envelope plaintext');
  // The wrong KEK fails closed.
  res.set('kbs:///default/kek/1', randomBytes(32));
  await assert.rejects(unsealSecret(sealed, { resources: res, skipVerification: false }), (e) => hasCode(e, 'CDH_DECRYPT_FAILED'));
});

test('unsealSecret() uses a local key file for a plain kid and refuses a kid escaping the keys dir', async (t) => {
  const { dir, cleanup } = await tempDir('sealed-');
  t.after(cleanup);
  const keys = path.join(dir, 'keys');
  await mkdir(keys);
  await writeFile(path.join(keys, 'test-key'), jwk);
  await writeFile(path.join(dir, 'outside'), jwk);
  const res = new MapResources().set('kbs:///default/secret/1', 's');
  const ok = sealSecret(vault, signer.privateKey, 'test-key');
  assert.equal(Buffer.from(await unsealSecret(ok, { resources: res, skipVerification: false, keysDir: keys })).toString(), 's');
  const escape = sealSecret(vault, signer.privateKey, '../outside');
  await assert.rejects(unsealSecret(escape, { resources: res, skipVerification: false, keysDir: keys }), (e) => hasCode(e, 'CDH_SEALED_SECRET_KEY'));
  assert.deepEqual(res.requested, ['kbs:///default/secret/1'], 'nothing fetched for the refused secret');
});

test('unsealSecret() rejects tampering, a wrong key, a wrong alg, bad versions and malformed input', async () => {
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const res = new MapResources().set('kbs:///k', jwk).set('kbs:///default/secret/1', 's');
  const sealed = sealSecret(vault, signer.privateKey, 'kbs:///k');
  const parts = sealed.split('.');
  const tampered = [parts[0], parts[1], Buffer.from(JSON.stringify({ version: '0.1.0', ...vault, name: 'kbs:///default/other/1' })).toString('base64url'), parts[3]].join('.');
  const opts = { resources: res, skipVerification: false };
  await assert.rejects(unsealSecret(tampered, opts), (e) => hasCode(e, 'CDH_SEALED_SECRET_SIGNATURE'));
  await assert.rejects(unsealSecret(sealSecret(vault, other.privateKey, 'kbs:///k'), opts), (e) => hasCode(e, 'CDH_SEALED_SECRET_SIGNATURE'));
  const hs = [Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'kbs:///k' })).toString('base64url'), parts[2], parts[3]].join('.');
  await assert.rejects(unsealSecret(`sealed.${hs}`, opts), (e) => hasCode(e, 'CDH_SEALED_SECRET_SIGNATURE'));
  await assert.rejects(unsealSecret(sealSecret({ ...vault, version: '0.2.0' }, signer.privateKey, 'kbs:///k'), opts), (e) => hasCode(e, 'CDH_SEALED_SECRET_VERSION'));
  for (const bad of ['notsealed.a.b.c', 'sealed.a.b', 'sealed.a.b.c.d', 'sealed.!!.b.c']) {
    await assert.rejects(unsealSecret(bad, opts), (e) => hasCode(e, 'CDH_SEALED_SECRET_MALFORMED'), bad);
  }
  await assert.rejects(unsealSecret(sealSecret({ ...vault, provider: 'aliyun' }, signer.privateKey, 'kbs:///k'), opts), (e) => hasCode(e, 'CDH_UNSUPPORTED'));
});

test('unsealSecret() with verification skipped accepts the fake headers guest-components tests use', async () => {
  const payload = Buffer.from(JSON.stringify({ version: '0.1.0', ...vault })).toString('base64url');
  const res = new MapResources().set('kbs:///default/secret/1', 'plain');
  assert.equal(Buffer.from(await unsealSecret(`sealed.fakeheader.${payload}.fakesignature`, { resources: res, skipVerification: true })).toString(), 'plain');
  await assert.rejects(unsealSecret(`sealed.fakeheader.${payload}`, { resources: res, skipVerification: true }), (e) => hasCode(e, 'CDH_SEALED_SECRET_MALFORMED'));
});
