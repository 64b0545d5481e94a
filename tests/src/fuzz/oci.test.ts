/**
 * Fuzz: OCI manifests, indexes, image configs and layer tar streams (@kata-cc/image-rs).
 * A hostile registry (an in-process HTTP server playing the distribution API, because a real
 * registry refuses malformed manifests on push) serves mutated documents around a valid image;
 * pullImage must finish or fail with an IMG_ KccError, in time. Layer tars (byte-mutated,
 * random, gzip-wrapped) go through applyLayer with digests that match the mutated bytes, so the
 * tar parser and extractor see them; nothing may be written outside the unpack root (a sentinel
 * directory beside the roots is scanned after every input).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { buildTar, imageBlobs, sha256, tempDir, type TarSpec } from '@kata-cc/testing';
import { applyLayer, pullImage } from '@kata-cc/image-rs';
import { expectKcc, fuzz, mutate, mutationArb, test, within } from './budget.js';
import { jsonMutant, type Json } from './json-mutant.js';

const tmp = await tempDir('fuzz-oci-');
const outside = path.join(tmp.dir, 'outside');
mkdirSync(outside);
writeFileSync(path.join(outside, 'sentinel'), 'untouched');
mkdirSync(path.join(tmp.dir, 'roots'));
let n = 0;

/** SECURITY check of the test: nothing appeared or changed beside the roots. */
function sentinelIntact(what: string): void {
  assert.deepEqual(readdirSync(outside), ['sentinel'], `${what}: something was written into the sentinel dir`);
  assert.equal(readFileSync(path.join(outside, 'sentinel'), 'utf8'), 'untouched', `${what}: the sentinel changed`);
  assert.deepEqual(readdirSync(tmp.dir).sort(), ['outside', 'roots'], `${what}: something was written beside the roots`);
  for (const e of readdirSync('/tmp')) if (e === 'pwned' || e === 'fuzz-escape') assert.fail(`${what}: /tmp/${e} was created`);
}

// ---- seed layer: every entry kind, plus links that point outside ----
const seedEntries: TarSpec[] = [
  { path: 'etc/', type: 'dir' },
  { path: 'etc/hostname', type: 'file', data: 'fuzz\n' },
  { path: 'bin/', type: 'dir' },
  { path: 'bin/sh', type: 'file', data: '#!/bin/true\n', mode: 0o4755 } as TarSpec,
  { path: 'link', type: 'symlink', linkpath: '../../outside' },
  { path: 'abs', type: 'symlink', linkpath: outside },
  { path: 'hard', type: 'hardlink', linkpath: 'etc/hostname' },
  { path: `deep/${'d'.repeat(120)}/file`, type: 'file', data: 'long path via pax' },
  { path: 'etc/.wh.gone', type: 'file' },
  { path: 'x', type: 'file', data: 'x', xattrs: { 'user.fuzz': 'v' } },
];
const SEED_TAR = buildTar(seedEntries);

async function unpack(tar: Uint8Array, gzip: boolean): Promise<string> {
  const root = path.join(tmp.dir, 'roots', String(n++));
  mkdirSync(root);
  const blob = gzip ? gzipSync(tar, { level: 1 }) : Buffer.from(tar);
  try {
    await within(10_000, 'applyLayer', applyLayer(Readable.from([blob]), root, {
      mediaType: gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
      digest: sha256(blob), size: blob.length, diffId: sha256(Buffer.from(tar)),
    }));
    return 'unpacked';
  } catch (e) {
    return expectKcc(e, 'IMG_', 'applyLayer').code;
  } finally {
    sentinelIntact('applyLayer');
    rmSync(root, { recursive: true, force: true });
  }
}

after(async () => {
  // Retries: should a late writer appear again (see the late-write tests below), cleanup must not become a hook failure.
  rmSync(tmp.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

test('tar: the seed layer unpacks (links outside are neutralized), so mutations start from valid input', async () => {
  assert.equal(await unpack(SEED_TAR, false), 'unpacked');
});

test('fuzz: mutated and random tar streams unpack inside the root or fail with IMG_ codes', async () => {
  await fuzz('image-rs/applyLayer(mutated tar)', [mutationArb(SEED_TAR.length), fc.boolean()], (ms, gz) => unpack(mutate(SEED_TAR, ms), gz), { runs: 300, seconds: 4 });
  // Header-only mutations: the 512-byte headers are where sizes, types and names live.
  const headerAt = fc.integer({ min: 0, max: Math.floor(SEED_TAR.length / 512) - 1 }).map((b) => b * 512);
  await fuzz('image-rs/applyLayer(header fields)', [headerAt, fc.constantFrom(0, 100, 124, 136, 156, 157, 257, 345), fc.uint8Array({ minLength: 1, maxLength: 12 })], (blk, off, bytes) => {
    const t = Buffer.from(SEED_TAR);
    t.set(bytes.subarray(0, 512 - off), blk + off);
    return unpack(t, false);
  }, { runs: 300, seconds: 4 });
  await fuzz('image-rs/applyLayer(random bytes)', [fc.uint8Array({ maxLength: 3000 }), fc.boolean()], (b, gz) => unpack(b, gz), { runs: 150, seconds: 2 });
});

// ---- hostile registry ----

const seed = imageBlobs({ layers: [{ tar: SEED_TAR, compression: 'gzip' }] });
const manifests = new Map<string, { body: Buffer; type: string }>();
const blobs = new Map<string, Buffer>(seed.blobs);
let registry: Server;
let host = '';

before(async () => {
  registry = createServer((req, res): void => {
    const u = req.url ?? '';
    if (u === '/v2/' || u === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const m = /^\/v2\/fuzz\/img\/(manifests|blobs)\/([^/?]+)$/.exec(u);
    const key = decodeURIComponent(m?.[2] ?? '');
    if (m?.[1] === 'manifests' && manifests.has(key)) {
      const { body, type } = manifests.get(key)!;
      res.writeHead(200, { 'content-type': type, 'content-length': String(body.length), 'docker-content-digest': sha256(body) }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (m?.[1] === 'blobs' && blobs.has(key)) {
      const b = blobs.get(key)!;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(b.length) }).end(req.method === 'HEAD' ? undefined : b);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const a = registry.address();
  host = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
after(async () => {
  registry.closeAllConnections();
  await new Promise<void>((r) => registry.close(() => r()));
});

async function pull(tag: string): Promise<string> {
  const dest = path.join(tmp.dir, 'roots', String(n++));
  try {
    await within(15_000, 'pullImage', pullImage(`${host}/fuzz/img:${tag}`, { dest, insecureRegistries: [host], platform: 'linux/amd64' }));
    return 'pulled';
  } catch (e) {
    return expectKcc(e, 'IMG_', 'pullImage').code;
  } finally {
    sentinelIntact('pullImage');
    rmSync(dest, { recursive: true, force: true });
    settled.set(dest, `${tag} settled at ${Date.now()}`);
  }
}

/** Pull roots whose pull settled (and which were removed then): anything found there later was written after pullImage returned. */
const settled = new Map<string, string>();

function lateWrites(): string[] {
  const roots = path.join(tmp.dir, 'roots');
  return readdirSync(roots).map((d) => path.join(roots, d)).filter((d) => settled.has(d))
    .map((d) => `${d} (${settled.get(d) ?? ''}, seen at ${Date.now()}): ${readdirSync(d, { recursive: true }).slice(0, 20).join(', ')}`);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const mediaType = fc.constantFrom(OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/json', 'text/html', '');

test('hostile registry: the seed image pulls', async () => {
  manifests.set('seed', { body: seed.manifest, type: OCI_MANIFEST });
  assert.equal(await pull('seed'), 'pulled');
});

test('fuzz: mutated manifests', async () => {
  await fuzz('image-rs/pull(mutated manifest)', [jsonMutant(JSON.parse(seed.manifest.toString()) as Json), mediaType], async (body, type) => {
    manifests.set('m', { body: Buffer.from(body), type });
    return pull('m');
  }, { runs: 200, seconds: 4 });
});

test('fuzz: mutated indexes', async () => {
  manifests.set(seed.pushed.manifestDigest, { body: seed.manifest, type: OCI_MANIFEST });
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [
    { mediaType: OCI_MANIFEST, digest: seed.pushed.manifestDigest, size: seed.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: OCI_MANIFEST, digest: `sha256:${'0'.repeat(64)}`, size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ] };
  await fuzz('image-rs/pull(mutated index)', [jsonMutant(index as unknown as Json), mediaType], async (body, type) => {
    manifests.set('i', { body: Buffer.from(body), type });
    return pull('i');
  }, { runs: 200, seconds: 4 });
});

/** A manifest pointing at `config` (and the seed layer, or a replacement layer blob). */
function withBlobs(config: Buffer, layer?: { blob: Buffer; mediaType: string }): Buffer {
  const m = JSON.parse(seed.manifest.toString()) as { config: { digest: string; size: number }; layers: { digest: string; size: number; mediaType: string }[] };
  blobs.set(sha256(config), config);
  m.config.digest = sha256(config);
  m.config.size = config.length;
  if (layer) {
    blobs.set(sha256(layer.blob), layer.blob);
    m.layers = [{ mediaType: layer.mediaType, digest: sha256(layer.blob), size: layer.blob.length }];
  }
  return Buffer.from(JSON.stringify(m));
}

test('fuzz: mutated image configs (digests consistent, so the config parser sees them)', async () => {
  const config = JSON.parse(seed.blobs.get(seed.pushed.configDigest)!.toString()) as Json;
  const scalars = fc.constantFrom('null', '[]', '"x"', '0', 'true', '{}', '{"rootfs":null}', '{"rootfs":{"diff_ids":null}}').map((t) => new Uint8Array(Buffer.from(t)));
  await fuzz('image-rs/pull(mutated config)', [fc.oneof({ weight: 4, arbitrary: jsonMutant(config) }, { weight: 1, arbitrary: scalars })], async (body) => {
    manifests.set('c', { body: withBlobs(Buffer.from(body)), type: OCI_MANIFEST });
    return pull('c');
  }, { runs: 150, seconds: 4 });
});

test('fuzz: mutated layers through a whole pull (diff_ids consistent)', async () => {
  await fuzz('image-rs/pull(mutated layer)', [mutationArb(SEED_TAR.length), fc.boolean()], async (ms, gz) => {
    const tar = Buffer.from(mutate(SEED_TAR, ms));
    const blob = gz ? gzipSync(tar, { level: 1 }) : tar;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } }));
    manifests.set('l', { body: withBlobs(config, { blob, mediaType: gz ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar' }), type: OCI_MANIFEST });
    return pull('l');
  }, { runs: 100, seconds: 4 });
  assert.ok(statSync(outside).isDirectory());
});

// A pull root that reappears after its pull settled (and was removed) means image-rs kept
// writing after pullImage returned (seen under load before applyLayer awaited the parser).
test('no pull root is written after pullImage settled (checked after all pull properties)', () => {
  assert.deepEqual(lateWrites(), []);
  assert.deepEqual(readdirSync(path.join(tmp.dir, 'roots')), []);
});

test('fuzz: a layer stream that fails mid-way (network error after many entries) leaves nothing written after applyLayer rejects', async () => {
  const entries: TarSpec[] = [];
  // Some xattrs (applied asynchronously) keep the parser busy when the stream fails.
  for (let i = 0; i < 100; i++) entries.push({ path: `d${i}/`, type: 'dir' }, { path: `d${i}/f`, type: 'file', data: 'x'.repeat(100), ...(i % 10 === 0 ? { xattrs: { 'user.a': 'b' } } : {}) });
  const tar = buildTar(entries);
  await fuzz('image-rs/applyLayer(stream error mid-layer)', [fc.integer({ min: 512, max: tar.length - 1024 }), fc.constantFrom('ECONNRESET', 'Z_DATA_ERROR')], async (cut, code) => {
    const root = path.join(tmp.dir, 'roots', String(n++));
    mkdirSync(root);
    async function* source(): AsyncGenerator<Buffer> {
      yield tar.subarray(0, cut);
      await new Promise((r) => setTimeout(r, 2));
      throw Object.assign(new Error('stream failed'), { code });
    }
    let out = 'unpacked';
    try {
      await within(10_000, 'applyLayer', applyLayer(Readable.from(source()), root, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(tar), size: tar.length, diffId: sha256(tar) }, { verifyDigest: false }));
    } catch (e) {
      out = expectKcc(e, 'IMG_', 'applyLayer').code;
    }
    const atReturn = readdirSync(root, { recursive: true }).length;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(readdirSync(root, { recursive: true }).length, atReturn, 'entries were created after applyLayer returned');
    sentinelIntact('applyLayer');
    rmSync(root, { recursive: true, force: true });
    return out;
  }, { runs: 15, seconds: 3 });
});
