import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encryptFile, wrapForKbs } from './ocicrypt.js';
import { parseOciRef } from './layout.js';
import { parseDockerRef } from './registry.js';

test('encryptFile: AES-256-CTR with the private nonce, HMAC-SHA256 over the ciphertext, digest of the plaintext', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kbs-cli-ocicrypt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const plain = randomBytes(300_003);
  writeFileSync(path.join(dir, 'plain'), plain);
  const e = await encryptFile(path.join(dir, 'plain'), path.join(dir, 'enc'));
  const ciphertext = readFileSync(path.join(dir, 'enc'));
  assert.equal(e.size, ciphertext.length);
  assert.equal(e.digest, `sha256:${createHash('sha256').update(ciphertext).digest('hex')}`);
  const priv = JSON.parse(e.privateOpts.toString()) as { symkey: string; digest: string; cipheroptions: { nonce: string } };
  assert.deepEqual(Object.keys(priv), ['symkey', 'digest', 'cipheroptions']);
  const pub = JSON.parse(Buffer.from(e.pubopts, 'base64').toString()) as { cipher: string; hmac: string; cipheroptions: object };
  assert.deepEqual(Object.keys(pub), ['cipher', 'hmac', 'cipheroptions']);
  const key = Buffer.from(priv.symkey, 'base64');
  assert.equal(key.length, 32);
  assert.equal(priv.digest, `sha256:${createHash('sha256').update(plain).digest('hex')}`);
  assert.deepEqual(createHmac('sha256', key).update(ciphertext).digest(), Buffer.from(pub.hmac, 'base64'));
  const d = createDecipheriv('aes-256-ctr', key, Buffer.from(priv.cipheroptions.nonce, 'base64'));
  assert.deepEqual(Buffer.concat([d.update(ciphertext), d.final()]), plain);
  await encryptFile(path.join(dir, 'plain'), path.join(dir, 'enc2'));
  assert.notDeepEqual(readFileSync(path.join(dir, 'enc2')), ciphertext, 'fresh key and nonce per layer');
});

test('wrapForKbs: the coco_keyprovider annotation, GCM tag appended, fails under another KEK', () => {
  const kek = randomBytes(32);
  const a = JSON.parse(Buffer.from(wrapForKbs(Buffer.from('{"x":1}'), kek, 'kbs:///a/b/c'), 'base64').toString()) as { kid: string; wrapped_data: string; iv: string; wrap_type: string };
  assert.equal(a.kid, 'kbs:///a/b/c');
  assert.equal(a.wrap_type, 'A256GCM');
  const w = Buffer.from(a.wrapped_data, 'base64');
  const open = (k: Buffer): Buffer => {
    const d = createDecipheriv('aes-256-gcm', k, Buffer.from(a.iv, 'base64'));
    d.setAuthTag(w.subarray(-16));
    return Buffer.concat([d.update(w.subarray(0, -16)), d.final()]);
  };
  assert.equal(open(kek).toString(), '{"x":1}');
  assert.throws(() => open(randomBytes(32)));
});

test('references: oci:DIR[:TAG] and docker://HOST/REPO[:TAG]', () => {
  assert.deepEqual(parseOciRef('oci:/tmp/x:v1'), { dir: '/tmp/x', tag: 'v1' });
  assert.deepEqual(parseOciRef('oci:/tmp/x'), { dir: '/tmp/x', tag: undefined });
  assert.deepEqual(parseOciRef('oci:./a:b/c'), { dir: './a:b/c', tag: undefined });
  assert.deepEqual(parseDockerRef('docker://127.0.0.1:5000/demo/hello:enc'), { host: '127.0.0.1:5000', repo: 'demo/hello', tag: 'enc' });
  assert.deepEqual(parseDockerRef('docker://reg.example/app'), { host: 'reg.example', repo: 'app', tag: 'latest' });
  for (const bad of ['docker://app', 'docker://reg/App:x', 'docker://reg/app@sha256:00', 'docker://reg/app:bad tag', 'docker://reg/../x']) {
    assert.throws(() => parseDockerRef(bad), /ENCIMG_USAGE|docker:\/\/HOST/, bad);
  }
});
