/**
 * The guest image builder: two builds from the same pinned inputs give byte-identical images and
 * the same dm-verity root hash; the root hash in the kernel command line fragment verifies the
 * rootfs with the real veritysetup, and a single flipped byte fails verification.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot, requireTool, tempDir } from '@kata-cc/testing';

interface GuestImage { dir: string; kernel: string; initrd: string; rootfs: string; rootHash: string; hashOffset: number; cmdline: string; components: string[] }

const repo = repoRoot();
const builder = path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js');
let tmp: { dir: string; cleanup: () => Promise<void> };
let a: GuestImage;
let b: GuestImage;

const build = (out: string): GuestImage =>
  JSON.parse(execFileSync(process.execPath, [builder, '--json', '--force', '--out', out], { encoding: 'utf8', timeout: 900_000 })) as GuestImage;
const digest = async (f: string): Promise<string> => createHash('sha256').update(await readFile(f)).digest('hex');

before(async () => {
  for (const t of ['mkfs.erofs', 'veritysetup', 'cpio', 'dpkg', 'xz']) requireTool(t);
  tmp = await tempDir('kcc-guest-image-');
  a = build(path.join(tmp.dir, 'a'));
  b = build(path.join(tmp.dir, 'b'));
});

after(async () => {
  await tmp?.cleanup();
});

test('same inputs, same images and the same root hash', async () => {
  assert.match(a.rootHash, /^[0-9a-f]{64}$/);
  assert.equal(a.rootHash, b.rootHash);
  assert.equal(await digest(a.rootfs), await digest(b.rootfs));
  assert.equal(await digest(a.initrd), await digest(b.initrd));
  assert.equal(a.cmdline, `kata_cc.roothash=${a.rootHash} kata_cc.hashoffset=${a.hashOffset}`);
  assert.ok(a.components.includes('kata-agent.mjs'));
});

test('the kernel is the ELF vmlinux (PVH boot) and the rootfs is erofs', async () => {
  const fh = await open(a.kernel, 'r');
  const head = Buffer.alloc(4);
  await fh.read(head, 0, 4, 0);
  await fh.close();
  assert.deepEqual(head, Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  const sb = Buffer.alloc(4);
  const r = await open(a.rootfs, 'r');
  await r.read(sb, 0, 4, 1024);
  await r.close();
  assert.equal(sb.readUInt32LE(0), 0xe0f5e1e2);
});

test('veritysetup verifies the rootfs against the root hash; a flipped byte fails', async () => {
  const verify = (img: string): number => spawnSync('veritysetup', ['verify', img, img, a.rootHash, `--hash-offset=${a.hashOffset}`]).status ?? -1;
  assert.equal(verify(a.rootfs), 0);
  const bad = path.join(tmp.dir, 'bad.img');
  await copyFile(a.rootfs, bad);
  const fh = await open(bad, 'r+');
  const one = Buffer.alloc(1);
  await fh.read(one, 0, 1, 8192);
  one[0] = (one[0] ?? 0) ^ 0xff;
  await fh.write(one, 0, 1, 8192);
  await fh.close();
  assert.notEqual(verify(bad), 0);
});
