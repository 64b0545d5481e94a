import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildTar, pushImage, pushIndex, startRegistry, tempDir, type TestRegistry } from '@kata-cc/testing';
import { hasCode } from '@kata-cc/errors';
import { pullImage } from '../pull.js';
import { parseAuthFile } from './credentials.js';
import { parseChallenges } from './challenge.js';

const layer = (name: string, content: string): Buffer => buildTar([{ path: name, data: content }]);
let plain: TestRegistry;
let tls: TestRegistry;
let token: TestRegistry;
const tmp = await tempDir('img-reg-');

before(async () => {
  [plain, tls, token] = await Promise.all([startRegistry(), startRegistry({ mode: 'tls' }), startRegistry({ mode: 'token' })]);
  await pushImage(plain, 't/app', 'v1', { layers: [{ tar: layer('a.txt', 'A') }, { tar: layer('b.txt', 'B'), compression: 'zstd' }, { tar: layer('c.txt', 'C'), compression: 'none' }] });
  await pushImage(plain, 't/docker', 'v1', { format: 'docker', layers: [{ tar: layer('d.txt', 'D') }] });
  await pushIndex(plain, 't/multi', 'v1', [
    { architecture: 'amd64', layers: [{ tar: layer('arch', 'amd64') }] },
    { architecture: 'arm64', layers: [{ tar: layer('arch', 'arm64') }] },
  ]);
  await pushImage(tls, 't/private', 'v1', { layers: [{ tar: layer('p.txt', 'private') }] });
  await pushImage(token, 't/tok', 'v1', { layers: [{ tar: layer('t.txt', 'token') }] });
});
after(async () => {
  await Promise.all([plain?.stop(), tls?.stop(), token?.stop()]);
  await tmp.cleanup();
});

let n = 0;
const dest = (): string => path.join(tmp.dir, `b${n++}`);
const read = (d: string, f: string): string => readFileSync(path.join(d, 'rootfs', f), 'utf8');

test('pullImage() pulls gzip, zstd and uncompressed layers by tag and by digest', async () => {
  const d = dest();
  const r = await pullImage(`${plain.host}/t/app:v1`, { dest: d, insecureRegistries: [plain.host] });
  assert.equal(read(d, 'a.txt') + read(d, 'b.txt') + read(d, 'c.txt'), 'ABC');
  assert.ok(existsSync(path.join(d, 'config.json')));
  const d2 = dest();
  const r2 = await pullImage(`${plain.host}/t/app@${r.manifestDigest}`, { dest: d2, insecureRegistries: [plain.host] });
  assert.equal(r2.manifestDigest, r.manifestDigest);
});

test('pullImage() reads Docker schema 2 manifests', async () => {
  const d = dest();
  await pullImage(`${plain.host}/t/docker:v1`, { dest: d, insecureRegistries: [plain.host] });
  assert.equal(read(d, 'd.txt'), 'D');
});

test('pullImage() selects the platform from an index', async () => {
  for (const arch of ['amd64', 'arm64']) {
    const d = dest();
    const r = await pullImage(`${plain.host}/t/multi:v1`, { dest: d, insecureRegistries: [plain.host], platform: `linux/${arch}` });
    assert.equal(read(d, 'arch'), arch);
    assert.ok(r.indexDigest?.startsWith('sha256:'));
  }
  await assert.rejects(pullImage(`${plain.host}/t/multi:v1`, { dest: dest(), insecureRegistries: [plain.host], platform: 'linux/s390x' }), (e) => hasCode(e, 'IMG_PLATFORM_NOT_FOUND'));
});

test('pullImage() refuses plain HTTP to a registry not listed as insecure', async () => {
  await assert.rejects(pullImage(`${plain.host}/t/app:v1`, { dest: dest() }), (e) => hasCode(e, 'IMG_REGISTRY_UNREACHABLE'));
});

test('pullImage() uses TLS with a custom CA and Basic credentials from auth.json', async () => {
  const auth = parseAuthFile(JSON.stringify({ auths: { [tls.host]: { auth: Buffer.from(`${tls.user}:${tls.password}`).toString('base64') } } }));
  const d = dest();
  await pullImage(`${tls.host}/t/private:v1`, { dest: d, ca: [tls.caPem as string], auth });
  assert.equal(read(d, 'p.txt'), 'private');
  await assert.rejects(pullImage(`${tls.host}/t/private:v1`, { dest: dest(), auth }), (e) => hasCode(e, 'IMG_REGISTRY_UNREACHABLE') && /certificate/i.test((e as Error).message));
  await assert.rejects(pullImage(`${tls.host}/t/private:v1`, { dest: dest(), ca: [tls.caPem as string] }), (e) => hasCode(e, 'IMG_REGISTRY_UNAUTHORIZED'));
  const wrong = parseAuthFile(JSON.stringify({ auths: { [tls.host]: { username: 'tester', password: 'nope' } } }));
  await assert.rejects(pullImage(`${tls.host}/t/private:v1`, { dest: dest(), ca: [tls.caPem as string], auth: wrong }), (e) => {
    assert.ok(hasCode(e, 'IMG_REGISTRY_UNAUTHORIZED'));
    assert.ok(!(e as Error).message.includes('nope'));
    return true;
  });
});

test('pullImage() gets bearer tokens: anonymous GET, and OAuth2 POST with credentials', async () => {
  token.tokenRequests.length = 0;
  const d = dest();
  await pullImage(`${token.host}/t/tok:v1`, { dest: d, insecureRegistries: [token.host] });
  assert.equal(read(d, 't.txt'), 'token');
  assert.deepEqual(token.tokenRequests, [{ method: 'GET', user: '' }]);
  token.tokenRequests.length = 0;
  const auth = parseAuthFile(JSON.stringify({ auths: { [token.host]: { auth: Buffer.from('tester:testpass').toString('base64') } } }));
  await pullImage(`${token.host}/t/tok:v1`, { dest: dest(), insecureRegistries: [token.host], auth });
  assert.deepEqual(token.tokenRequests, [{ method: 'POST', user: 'tester' }]);
});

test('pullImage() detects a tampered blob and leaves no rootfs behind', async () => {
  const img = await pushImage(plain, 't/tamper', 'v1', { layers: [{ tar: layer('ok', 'fine') }, { tar: layer('evil', 'original'), compression: 'none' }] });
  const hex = (img.layers[1]?.digest ?? '').slice(7);
  const blob = path.join(plain.dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const bytes = readFileSync(blob);
  bytes.write('tampered', bytes.indexOf('original'));
  writeFileSync(blob, bytes);
  for (const store of [undefined, path.join(tmp.dir, 'store-tamper')]) {
    const d = dest();
    await assert.rejects(pullImage(`${plain.host}/t/tamper:v1`, { dest: d, insecureRegistries: [plain.host], ...(store ? { store } : {}) }), (e) => hasCode(e, 'IMG_DIGEST_MISMATCH'));
    assert.deepEqual(readdirSync(d), []);
  }
});

test('pullImage() refuses to overwrite an existing bundle unless asked', async () => {
  const d = dest();
  await pullImage(`${plain.host}/t/docker:v1`, { dest: d, insecureRegistries: [plain.host] });
  await assert.rejects(pullImage(`${plain.host}/t/docker:v1`, { dest: d, insecureRegistries: [plain.host] }), (e) => hasCode(e, 'IMG_BUNDLE_EXISTS'));
  await pullImage(`${plain.host}/t/app:v1`, { dest: d, insecureRegistries: [plain.host], overwrite: true });
  assert.ok(!existsSync(path.join(d, 'rootfs', 'd.txt')));
  assert.ok(statSync(path.join(d, 'rootfs', 'a.txt')).isFile());
});

test('pullImage() reports a missing tag and repository as IMG_MANIFEST_NOT_FOUND', async () => {
  await assert.rejects(pullImage(`${plain.host}/t/app:nope`, { dest: dest(), insecureRegistries: [plain.host] }), (e) => hasCode(e, 'IMG_MANIFEST_NOT_FOUND'));
});

test('parseChallenges() reads Bearer and Basic challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://a/token",service="reg",scope="repository:x:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="r"'), [{ scheme: 'basic', params: { realm: 'r' } }]);
});
