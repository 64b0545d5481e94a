import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hasCode } from '@kata-cc/errors';
import path from 'node:path';
import { buildTar, pushImage, repoRoot, startRegistry, tempDir, type PushedImage, type TestRegistry } from '@kata-cc/testing';
import { pullImage } from '../pull.js';
import { LayerStore } from './layer-store.js';

const tmp = await tempDir('img-store-');
let reg: TestRegistry;
let a: PushedImage;
let b: PushedImage;
const base = buildTar([{ path: 'base.bin', data: Buffer.alloc(200_000, 7) }]);

before(async () => {
  reg = await startRegistry();
  a = await pushImage(reg, 's/a', 'v1', { layers: [{ tar: base }, { tar: buildTar([{ path: 'a', data: 'a' }]) }] });
  b = await pushImage(reg, 's/b', 'v1', { layers: [{ tar: base }, { tar: buildTar([{ path: 'b', data: 'b' }]) }] });
});
after(async () => {
  await reg?.stop();
  await tmp.cleanup();
});

let n = 0;
const pull = (repo: string, store: string | LayerStore): ReturnType<typeof pullImage> =>
  pullImage(`${reg.host}/${repo}:v1`, { dest: path.join(tmp.dir, `b${n++}`), insecureRegistries: [reg.host], store });

test('LayerStore: a second pull transfers nothing and a shared layer is fetched once', async () => {
  const dir = path.join(tmp.dir, 'store1');
  const first = await pull('s/a', dir);
  assert.deepEqual(first.layers.map((l) => l.transferred), a.layers.map((l) => l.size));
  const second = await pull('s/a', dir);
  assert.deepEqual(second.layers.map((l) => l.transferred), [0, 0]);
  assert.equal(readFileSync(path.join(second.rootfs, 'a'), 'utf8'), 'a');
  const other = await pull('s/b', dir);
  assert.deepEqual(other.layers.map((l) => l.transferred), [0, b.layers[1]?.size]);
});

test('LayerStore: concurrent pulls of the same image wait for one download', async () => {
  const store = new LayerStore(path.join(tmp.dir, 'store2'));
  const results = await Promise.all([pull('s/a', store), pull('s/a', store), pull('s/b', store)]);
  const total = results.flatMap((r) => r.layers).reduce((s, l) => s + l.transferred, 0);
  const unique = new Map([...a.layers, ...b.layers].map((l) => [l.digest, l.size]));
  assert.equal(total, [...unique.values()].reduce((s, x) => s + x, 0));
  for (const r of results) assert.ok(existsSync(path.join(r.rootfs, 'base.bin')));
});

test('LayerStore.gc() removes only blobs no recorded image uses', async () => {
  const store = new LayerStore(path.join(tmp.dir, 'store3'));
  await pull('s/a', store);
  await pull('s/b', store);
  assert.deepEqual((await store.gc()).removed, []);
  assert.ok(await store.removeImage(`${reg.host}/s/a:v1`));
  const { removed } = await store.gc();
  assert.deepEqual(removed, [a.layers[1]?.digest]);
  assert.ok(await store.has(a.layers[0]?.digest ?? ''));
  assert.equal((await store.images()).length, 1);
  const unpin = store.pin([b.layers[1]?.digest ?? '']);
  assert.ok(await store.removeImage(`${reg.host}/s/b:v1`));
  assert.ok(!(await store.gc()).removed.includes(b.layers[1]?.digest ?? ''), 'a pinned blob survives gc');
  unpin();
  assert.deepEqual((await store.gc()).removed, [b.layers[1]?.digest]);
});

test('LayerStore: concurrent CLI processes share one store (meta lock, cross-process pins)', async () => {
  const dir = path.join(tmp.dir, 'store4');
  const bin = path.join(repoRoot(), 'image-rs', 'bin', 'image-rs.js');
  const runs = ['s/a', 's/b', 's/a'].map((repo, i) => new Promise<number>((resolve) => {
    const c = spawn(process.execPath, [bin, 'pull', `${reg.host}/${repo}:v1`, '--dest', path.join(tmp.dir, `cli${i}`), '--insecure-registry', reg.host, '--store', dir], { stdio: 'ignore', env: { ...process.env, KATA_CC_LOG_LEVEL: 'warn' } });
    c.on('exit', (code) => resolve(code ?? -1));
  }));
  assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
  const store = new LayerStore(dir);
  assert.deepEqual((await store.images()).map((i) => i.reference).sort(), [`${reg.host}/s/a:v1`, `${reg.host}/s/b:v1`]);
  // A pin taken through another instance (as another process would) is honoured by gc.
  const other = new LayerStore(dir);
  const unpin = other.pin([a.layers[1]?.digest ?? '']);
  await store.removeImage(`${reg.host}/s/a:v1`);
  assert.deepEqual((await store.gc()).removed, []);
  unpin();
  assert.deepEqual((await store.gc()).removed, [a.layers[1]?.digest]);
});

test('pullImage() stops on its abort signal with IMG_PULL_CANCELLED and leaves nothing behind', async () => {
  const ac = new AbortController();
  const d = path.join(tmp.dir, 'cancelled');
  await assert.rejects(
    pullImage(`${reg.host}/s/a:v1`, {
      dest: d, insecureRegistries: [reg.host], store: path.join(tmp.dir, 'store5'), signal: ac.signal,
      onProgress: (e) => { if (e.type === 'resolved') ac.abort(); },
    }),
    (e) => hasCode(e, 'IMG_PULL_CANCELLED'),
  );
  assert.deepEqual(readdirSync(d), []);
});
