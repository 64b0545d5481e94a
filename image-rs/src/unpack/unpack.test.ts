import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { buildTar, sha256, tempDir, type TarSpec } from '@kata-cc/testing';
import { hasCode } from '@kata-cc/errors';
import { applyLayer } from './layer.js';
import type { ApplyLayerOptions } from './layer.js';

const tmp = await tempDir('img-unpack-');
after(() => tmp.cleanup());
let n = 0;

function freshRoot(): { root: string; outside: string } {
  const base = path.join(tmp.dir, `case${n++}`);
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside, { recursive: true });
  return { root, outside };
}

async function apply(root: string, tar: Buffer, opts: ApplyLayerOptions & { gzip?: boolean } = {}): Promise<{ warnings: string[] }> {
  const blob = opts.gzip === true ? gzipSync(tar) : tar;
  return applyLayer(Readable.from([blob]), root, {
    mediaType: opts.gzip === true ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
    digest: sha256(blob), size: blob.length, diffId: sha256(tar),
  }, opts);
}

async function rejects(root: string, entries: TarSpec[], code: string, opts: ApplyLayerOptions = {}): Promise<void> {
  await assert.rejects(apply(root, buildTar(entries), opts), (err) => {
    assert.ok(hasCode(err, code), `expected ${code}, got ${(err as { code?: string }).code}: ${(err as Error).message}`);
    return true;
  });
}

test('applyLayer() writes files, dirs, symlinks, hardlinks with modes, owners and mtimes', async () => {
  const { root } = freshRoot();
  await apply(root, buildTar([
    { path: './', type: 'dir', mode: 0o755 },
    { path: 'usr/', type: 'dir', mode: 0o750, mtime: 1_600_000_000 },
    { path: 'usr/bin/tool', data: 'x', mode: 0o4755, uid: 1000, gid: 1001, mtime: 1_500_000_000 },
    { path: 'usr/bin/alias', type: 'symlink', linkpath: 'tool' },
    { path: 'usr/bin/hard', type: 'hardlink', linkpath: 'usr/bin/tool' },
    { path: `deep/${'d'.repeat(120)}/file`, data: 'long' },
    { path: 'tagged', data: 't', xattrs: { 'user.k': 'v' } },
  ]), { gzip: true });
  const st = statSync(path.join(root, 'usr/bin/tool'));
  assert.equal(st.mode & 0o7777, 0o4755);
  assert.equal(st.uid, 1000);
  assert.equal(st.gid, 1001);
  assert.equal(Math.floor(st.mtimeMs / 1000), 1_500_000_000);
  assert.equal(statSync(path.join(root, 'usr')).mode & 0o777, 0o750);
  assert.equal(Math.floor(statSync(path.join(root, 'usr')).mtimeMs / 1000), 1_600_000_000);
  assert.equal(readlinkSync(path.join(root, 'usr/bin/alias')), 'tool');
  assert.equal(statSync(path.join(root, 'usr/bin/hard')).ino, st.ino);
  assert.equal(readFileSync(path.join(root, `deep/${'d'.repeat(120)}/file`), 'utf8'), 'long');
  assert.match(execFileSync('getfattr', ['-n', 'user.k', '--only-values', path.join(root, 'tagged')]).toString(), /^v/);
});

test('applyLayer() applies xattrs to the right file whatever its name, and drops hostile xattr names', async () => {
  const { root, outside } = freshRoot();
  writeFileSync(path.join(outside, 'victim'), 'v');
  const tricky = 'a\\057..\\057..\\057outside\\057victim b\nc';
  const r = await apply(root, buildTar([
    { path: tricky, data: 'x', xattrs: { 'user.k': 'right' } },
    { path: 'plain', data: 'y', xattrs: { [`user.x=0x00\n# file: ${path.join(outside, 'victim')}\nuser.evil`]: 'z', 'trusted.overlay.opaque': 'y' } },
  ]));
  assert.match(execFileSync('getfattr', ['-n', 'user.k', '--only-values', path.join(root, tricky)]).toString(), /^right/);
  assert.doesNotMatch(execFileSync('getfattr', ['-d', path.join(outside, 'victim')]).toString(), /user\./);
  assert.deepEqual(r.warnings.filter((w) => w.startsWith('dropped xattr')), ['dropped xattr trusted.overlay.opaque']);
});

test('applyLayer() applies no metadata through a directory swapped for a symlink later in the layer', async () => {
  const { root, outside } = freshRoot();
  writeFileSync(path.join(outside, 'f'), 'host file');
  const before = statSync(outside).mtimeMs;
  await apply(root, buildTar([
    { path: 'd/', type: 'dir', mtime: 1000 },
    { path: 'd/f', data: 'x', xattrs: { 'user.k': 'v' } },
    { path: 'd', type: 'symlink', linkpath: '../outside' },
    { path: 'gone/', type: 'dir', mtime: 1000 },
    { path: '.wh.gone' },
  ]));
  assert.doesNotMatch(execFileSync('getfattr', ['-d', path.join(outside, 'f')]).toString(), /user\.k/);
  assert.equal(statSync(outside).mtimeMs, before);
  assert.ok(lstatSync(path.join(root, 'd')).isSymbolicLink());
  assert.ok(!existsSync(path.join(root, 'gone')), 'a whited-out dir is not re-created for its mtime');
});

test('applyLayer() applies whiteouts and opaque directories over lower layers', async () => {
  const { root } = freshRoot();
  await apply(root, buildTar([
    { path: 'a/', type: 'dir' }, { path: 'a/keep', data: '1' }, { path: 'a/gone', data: '2' },
    { path: 'b/', type: 'dir' }, { path: 'b/old1', data: '3' }, { path: 'b/sub/x', data: '4' },
  ]));
  await apply(root, buildTar([
    { path: 'a/.wh.gone' },
    { path: 'b/new', data: '5' },
    { path: 'b/.wh..wh..opq' },
  ]));
  assert.ok(existsSync(path.join(root, 'a/keep')));
  assert.ok(!existsSync(path.join(root, 'a/gone')));
  assert.ok(!existsSync(path.join(root, 'a/.wh.gone')));
  assert.ok(existsSync(path.join(root, 'b/new')));
  assert.ok(!existsSync(path.join(root, 'b/old1')));
  assert.ok(!existsSync(path.join(root, 'b/sub')));
});

test('applyLayer() replaces a file with a directory and a directory with a file', async () => {
  const { root } = freshRoot();
  await apply(root, buildTar([{ path: 'x', data: 'f' }, { path: 'y/', type: 'dir' }, { path: 'y/z', data: 'z' }]));
  await apply(root, buildTar([{ path: 'x/', type: 'dir' }, { path: 'y', data: 'now a file' }]));
  assert.ok(statSync(path.join(root, 'x')).isDirectory());
  assert.equal(readFileSync(path.join(root, 'y'), 'utf8'), 'now a file');
});

test('applyLayer() refuses ".." paths (IMG_UNPACK_PATH_ESCAPE)', async () => {
  const { root, outside } = freshRoot();
  await rejects(root, [{ path: '../outside/pwned', data: 'x' }], 'IMG_UNPACK_PATH_ESCAPE');
  await rejects(root, [{ path: 'a/../../outside/pwned', data: 'x' }], 'IMG_UNPACK_PATH_ESCAPE');
  assert.ok(!existsSync(path.join(outside, 'pwned')));
});

test('applyLayer() refuses absolute paths (IMG_UNPACK_PATH_ESCAPE)', async () => {
  const { root, outside } = freshRoot();
  await rejects(root, [{ path: `${outside}/pwned`, data: 'x' }], 'IMG_UNPACK_PATH_ESCAPE');
  assert.ok(!existsSync(path.join(outside, 'pwned')));
});

test('applyLayer() refuses writing through a symlink that climbs out of the root (IMG_UNPACK_LINK_ESCAPE)', async () => {
  const { root, outside } = freshRoot();
  await rejects(root, [
    { path: 'evil', type: 'symlink', linkpath: '../outside' },
    { path: 'evil/pwned', data: 'x' },
  ], 'IMG_UNPACK_LINK_ESCAPE');
  await rejects(root, [
    { path: 'a/b', type: 'symlink', linkpath: '../../../../../../../../tmp' },
    { path: 'a/b/pwned', data: 'x' },
  ], 'IMG_UNPACK_LINK_ESCAPE');
  assert.ok(!existsSync(path.join(outside, 'pwned')));
});

test('applyLayer() keeps an absolute symlink target inside the root (chroot semantics)', async () => {
  const { root, outside } = freshRoot();
  await apply(root, buildTar([
    { path: 'evil', type: 'symlink', linkpath: outside },
    { path: 'evil/inside', data: 'x' },
  ]));
  assert.ok(!existsSync(path.join(outside, 'inside')));
  assert.equal(readFileSync(path.join(root, outside, 'inside'), 'utf8'), 'x');
});

test('applyLayer() is not fooled by a directory swapped for a symlink by a later entry', async () => {
  const { root, outside } = freshRoot();
  await rejects(root, [
    { path: 'd/', type: 'dir' },
    { path: 'd/a', data: '1' },
    { path: 'd', type: 'symlink', linkpath: '../outside' },
    { path: 'd/pwned', data: 'x' },
  ], 'IMG_UNPACK_LINK_ESCAPE');
  assert.ok(!existsSync(path.join(outside, 'pwned')));
});

test('applyLayer() never writes through an existing symlink at the target path', async () => {
  const { root, outside } = freshRoot();
  writeFileSync(path.join(outside, 'victim'), 'original');
  await apply(root, buildTar([
    { path: 'f', type: 'symlink', linkpath: path.join(outside, 'victim') },
    { path: 'f', data: 'overwritten?' },
  ]));
  assert.equal(readFileSync(path.join(outside, 'victim'), 'utf8'), 'original');
  assert.ok(lstatSync(path.join(root, 'f')).isFile());
});

test('applyLayer() refuses hardlinks out of the root (IMG_UNPACK_PATH_ESCAPE / LINK_ESCAPE)', async () => {
  const { root, outside } = freshRoot();
  writeFileSync(path.join(outside, 'secret'), 's');
  await rejects(root, [{ path: 'h', type: 'hardlink', linkpath: '../outside/secret' }], 'IMG_UNPACK_PATH_ESCAPE');
  await rejects(root, [{ path: 'h', type: 'hardlink', linkpath: path.join(outside, 'secret') }], 'IMG_UNPACK_PATH_ESCAPE');
  await rejects(root, [
    { path: 'l', type: 'symlink', linkpath: '../outside' },
    { path: 'h', type: 'hardlink', linkpath: 'l/secret' },
  ], 'IMG_UNPACK_LINK_ESCAPE');
  assert.ok(!existsSync(path.join(root, 'h')));
});

test('applyLayer() refuses device nodes by default and can skip them (IMG_UNPACK_DEVICE)', async () => {
  const { root } = freshRoot();
  const dev: TarSpec[] = [{ path: 'dev/sda', type: 'blockdev', devmajor: 8, devminor: 0 }];
  await rejects(root, dev, 'IMG_UNPACK_DEVICE');
  await rejects(root, [{ path: 'mem', type: 'chardev', devmajor: 1, devminor: 1 }], 'IMG_UNPACK_DEVICE');
  const r = await apply(root, buildTar(dev), { devices: 'skip' });
  assert.ok(!existsSync(path.join(root, 'dev/sda')));
  assert.match(r.warnings.join(), /skipped device node/);
});

test('applyLayer() creates fifos and, when allowed, device nodes', async () => {
  const { root } = freshRoot();
  await apply(root, buildTar([{ path: 'pipe', type: 'fifo', mode: 0o600 }, { path: 'null', type: 'chardev', devmajor: 1, devminor: 3, mode: 0o666 }]), { devices: 'create' });
  assert.ok(lstatSync(path.join(root, 'pipe')).isFIFO());
  const st = lstatSync(path.join(root, 'null'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, (1 << 8) | 3);
});

test('applyLayer() refuses oversized pax and GNU long-name records (IMG_TAR_HEADER_TOO_LARGE)', async () => {
  const { root } = freshRoot();
  await rejects(root, [{ path: 'f', data: 'x', pax: { comment: 'A'.repeat(2 * 1024 * 1024) } }], 'IMG_TAR_HEADER_TOO_LARGE');
  await rejects(root, [{ path: '././@LongLink', typeflag: 'L', data: 'n'.repeat(5000) }, { path: 'x', data: '' }], 'IMG_TAR_HEADER_TOO_LARGE', { limits: { maxHeaderBytes: 4096 } });
  await rejects(root, [{ path: `${'p/'.repeat(3000)}f`, data: 'x' }], 'IMG_TAR_HEADER_TOO_LARGE');
});

test('applyLayer() stops tar bombs: entry count, content size and expansion ratio (IMG_TAR_BOMB)', async () => {
  const { root } = freshRoot();
  await rejects(root, Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, data: '' })), 'IMG_TAR_BOMB', { limits: { maxEntries: 10 } });
  await rejects(root, [{ path: 'big', data: Buffer.alloc(64 * 1024) }], 'IMG_TAR_BOMB', { limits: { maxContentBytes: 1024 } });
  const zeros = buildTar([{ path: 'z', data: Buffer.alloc(16 * 1024 * 1024) }]);
  await assert.rejects(apply(root, zeros, { gzip: true, limits: { maxRatio: 100, ratioFloorBytes: 1024 * 1024 } }), (e) => hasCode(e, 'IMG_TAR_BOMB'));
});

test('applyLayer() rejects corrupt and truncated archives (IMG_TAR_INVALID, IMG_DIFF_ID_MISMATCH)', async () => {
  const { root } = freshRoot();
  const good = buildTar([{ path: 'f', data: 'hello' }]);
  const bad = Buffer.from(good);
  bad[0] = 0x41; // breaks the header checksum
  await assert.rejects(apply(root, bad), (e) => hasCode(e, 'IMG_TAR_INVALID'));
  const truncated = buildTar([{ path: 'f', data: Buffer.alloc(5000) }], { noEnd: true }).subarray(0, 2048);
  await assert.rejects(apply(root, truncated), (e) => hasCode(e, 'IMG_TAR_INVALID'));
  const blob = good;
  await assert.rejects(
    applyLayer(Readable.from([blob]), root, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(blob), size: blob.length, diffId: sha256(Buffer.from('other')) }),
    (e) => hasCode(e, 'IMG_DIFF_ID_MISMATCH'),
  );
  await assert.rejects(
    applyLayer(Readable.from([blob]), root, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(Buffer.from('x')), size: blob.length, diffId: sha256(blob) }),
    (e) => hasCode(e, 'IMG_DIGEST_MISMATCH'),
  );
  await assert.rejects(
    applyLayer(Readable.from([blob]), root, { mediaType: 'application/x-unknown', digest: sha256(blob), size: blob.length, diffId: sha256(blob) }),
    (e) => hasCode(e, 'IMG_MEDIA_TYPE_UNSUPPORTED'),
  );
});
