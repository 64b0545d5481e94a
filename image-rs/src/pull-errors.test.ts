import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { hasCode } from '@kata-cc/errors';
import { buildTar, httpRaw, imageBlobs, pushImage, pushManifest, sha256, startRegistry, tempDir, type TestRegistry } from '@kata-cc/testing';
import { pullImage } from './pull.js';
import { RegistryClient } from './registry/client.js';
import { credentialsFor, parseAuthFile } from './registry/credentials.js';
import { selectPlatform } from './manifest.js';
import { applyLayer } from './unpack/layer.js';

const tmp = await tempDir('img-err-');
let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  await tmp.cleanup();
});
let n = 0;
const dest = (): string => path.join(tmp.dir, `d${n++}`);
const OCI = 'application/vnd.oci.image.manifest.v1+json';

test('pullImage() enforces the manifest size limit (IMG_MANIFEST_TOO_LARGE)', async () => {
  await pushImage(reg, 'e/small', 'v1', { layers: [{ tar: buildTar([{ path: 'a', data: 'a' }]) }] });
  const client = new RegistryClient({ insecureRegistries: [reg.host], maxManifestBytes: 100 });
  try {
    await assert.rejects(pullImage(`${reg.host}/e/small:v1`, { dest: dest(), client }), (e) => hasCode(e, 'IMG_MANIFEST_TOO_LARGE'));
  } finally {
    await client.close();
  }
});

test('pullImage() refuses a blob longer than its descriptor (IMG_SIZE_MISMATCH) and leaves nothing behind', async () => {
  const { manifest } = imageBlobs({ layers: [{ tar: buildTar([{ path: 'a', data: 'x'.repeat(5000) }]) }] });
  await pushImage(reg, 'e/size', 'base', { layers: [{ tar: buildTar([{ path: 'a', data: 'x'.repeat(5000) }]) }] });
  const m = JSON.parse(manifest.toString()) as { layers: { size: number }[] };
  (m.layers[0] as { size: number }).size -= 10;
  const put = await httpRaw('PUT', `${reg.url}/v2/e/size/manifests/short`, { 'content-type': OCI }, Buffer.from(JSON.stringify(m)));
  assert.equal(put.status, 201, put.body.toString());
  for (const store of [undefined, path.join(tmp.dir, 'store')]) {
    const d = dest();
    await assert.rejects(pullImage(`${reg.host}/e/size:short`, { dest: d, insecureRegistries: [reg.host], ...(store ? { store } : {}) }), (e) => hasCode(e, 'IMG_SIZE_MISMATCH'));
    assert.deepEqual(readdirSync(d), []);
  }
});

test('pullImage() refuses a layer whose content differs from the config diff_id (IMG_DIFF_ID_MISMATCH)', async () => {
  const img = imageBlobs({ layers: [{ tar: buildTar([{ path: 'a', data: 'real' }]) }] });
  const base = await pushImage(reg, 'e/diff', 'base', { layers: [{ tar: buildTar([{ path: 'a', data: 'real' }]) }] });
  // A config naming a different diff_id (a registry swapping configs).
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(Buffer.from('other'))] } }));
  const start = await httpRaw('POST', `${reg.url}/v2/e/diff/blobs/uploads/`, {});
  const loc = new URL(String(start.headers.location), reg.url);
  loc.searchParams.set('digest', sha256(cfg));
  await httpRaw('PUT', loc.toString(), { 'content-type': 'application/octet-stream' }, cfg);
  const m = JSON.parse(img.manifest.toString()) as { config: { digest: string; size: number } };
  m.config = { ...m.config, digest: sha256(cfg), size: cfg.length };
  await pushManifest(reg, 'e/diff', 'bad', Buffer.from(JSON.stringify(m)), OCI);
  assert.ok(base.manifestDigest);
  const d = dest();
  await assert.rejects(pullImage(`${reg.host}/e/diff:bad`, { dest: d, insecureRegistries: [reg.host] }), (e) => hasCode(e, 'IMG_DIFF_ID_MISMATCH'));
  assert.deepEqual(readdirSync(d), []);
});

test('pullImage() only runs linux images (IMG_CONFIG_INVALID)', async () => {
  await pushImage(reg, 'e/win', 'v1', { os: 'windows', layers: [{ tar: buildTar([{ path: 'a', data: 'a' }]) }] });
  await assert.rejects(pullImage(`${reg.host}/e/win:v1`, { dest: dest(), insecureRegistries: [reg.host], platform: 'windows/amd64' }), (e) => hasCode(e, 'IMG_CONFIG_INVALID'));
});

test('applyLayer() reports corrupt gzip and zstd as IMG_DECOMPRESS_FAILED', async () => {
  const root = path.join(tmp.dir, 'root');
  mkdirSync(root);
  const tar = buildTar([{ path: 'a', data: 'a'.repeat(1000) }]);
  const gz = gzipSync(tar);
  gz[gz.length - 12] = (gz[gz.length - 12] ?? 0) ^ 0xff;
  const zst = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff]);
  for (const [blob, mediaType] of [[gz, 'application/vnd.oci.image.layer.v1.tar+gzip'], [zst, 'application/vnd.oci.image.layer.v1.tar+zstd']] as const) {
    await assert.rejects(
      applyLayer(Readable.from([blob]), root, { mediaType, digest: sha256(blob), size: blob.length, diffId: sha256(tar) }),
      (e) => hasCode(e, 'IMG_DECOMPRESS_FAILED'),
    );
  }
});

test('credentialsFor() picks the longest matching auth.json key and maps docker.io', () => {
  const b = (s: string): string => Buffer.from(s).toString('base64');
  const f = parseAuthFile(JSON.stringify({ auths: {
    'r.io': { auth: b('host:1') }, 'r.io/team': { auth: b('team:2') }, 'https://index.docker.io/v1/': { auth: b('hub:3') },
  } }));
  assert.equal(credentialsFor(f, 'r.io', 'team/app')?.username, 'team');
  assert.equal(credentialsFor(f, 'r.io', 'other/app')?.username, 'host');
  assert.equal(credentialsFor(f, 'docker.io', 'library/busybox')?.username, 'hub');
  assert.equal(credentialsFor(f, 'q.io', 'x'), undefined);
  assert.equal(String(credentialsFor(f, 'r.io', 'x')?.password), '<redacted>');
});

test('selectPlatform() prefers the exact variant, then arm64 v8, then any', () => {
  const d = (arch: string, variant?: string): { mediaType: string; digest: string; size: number; platform: { os: string; architecture: string; variant?: string } } =>
    ({ mediaType: OCI, digest: `sha256:${arch}${variant ?? ''}`, size: 1, platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) } });
  const index = { schemaVersion: 2 as const, manifests: [d('arm', 'v6'), d('arm', 'v7'), d('arm64', 'v8'), d('amd64')] };
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest, 'sha256:armv7');
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' })?.digest, 'sha256:arm64v8');
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' })?.digest, 'sha256:amd64');
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'riscv64' }), undefined);
});
