import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { chmod, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fixturePath, tempDir } from '@kata-cc/testing';
import { hasCode } from '@kata-cc/errors';
import { install } from './installer.js';
import type { NodeLabeler } from './labeler/labeler.js';
import { makeLayout } from './layout.js';
import { loadState } from './state.js';
import { uninstall } from './uninstall.js';

let work: { dir: string; cleanup: () => Promise<void> };
let payload: string;
before(async () => {
  work = await tempDir('kcc-installer-');
  payload = path.join(work.dir, 'payload');
  await mkdir(path.join(payload, 'bin'), { recursive: true });
  await mkdir(path.join(payload, 'share/defaults/kata-cc'), { recursive: true });
  await mkdir(path.join(payload, 'share/kata-cc'), { recursive: true });
  await writeFile(path.join(payload, 'bin/containerd-shim-kata-cc-v2'), '#!/bin/sh\nexit 1\n');
  await writeFile(path.join(payload, 'bin/kata-cc-snapshotter'), '#!/bin/sh\nexit 1\n');
  await chmod(path.join(payload, 'bin/containerd-shim-kata-cc-v2'), 0o755);
  for (const tee of ['tdx', 'snp', 'se', 'dev']) await writeFile(path.join(payload, `share/defaults/kata-cc/configuration-${tee}.toml`), `# ${tee}\n`);
  await writeFile(path.join(payload, 'share/kata-cc/vmlinuz'), 'kernel');
});
after(() => work.cleanup());

async function freshRoot(name: string, config: string | null): Promise<string> {
  const root = path.join(work.dir, name);
  await mkdir(path.join(root, 'etc/containerd'), { recursive: true });
  if (config !== null) await writeFile(path.join(root, 'etc/containerd/config.toml'), await readFile(fixturePath(import.meta.url, `testdata/configs/${config}`)));
  return root;
}

function recorder(): { labeler: NodeLabeler; calls: Array<Record<string, string | null>>; restarts: number; restart: () => Promise<void> } {
  const r = {
    calls: [] as Array<Record<string, string | null>>,
    restarts: 0,
    labeler: { setLabels: async (node: string, labels: Record<string, string | null>) => void r.calls.push({ node, ...labels }) },
    restart: async () => void r.restarts++,
  };
  return r;
}

test('install() then uninstall() on a temporary root: files, handlers, labels, and the original config back byte for byte', async () => {
  const root = await freshRoot('r1', 'aks-v2.toml');
  const original = await readFile(path.join(root, 'etc/containerd/config.toml'));
  const layout = makeLayout({ root });
  const rec = recorder();
  await mkdir(path.join(root, 'sys/module/kvm_amd/parameters'), { recursive: true });
  await writeFile(path.join(root, 'sys/module/kvm_amd/parameters/sev_snp'), 'Y\n'); // sample sysfs of an SNP host
  const res = await install({ layout, artifacts: payload, nodeName: 'node-1' }, { labeler: rec.labeler, restartContainerd: rec.restart });
  assert.deepEqual({ tee: res.tee, mode: res.mode, schema: res.schema, changed: res.configChanged, restarted: res.restarted }, { tee: 'snp', mode: 'in-place', schema: 2, changed: true, restarted: true });
  const shim = await stat(path.join(root, 'opt/kata-cc/bin/containerd-shim-kata-cc-v2'));
  assert.equal(await readlink(path.join(root, 'usr/local/bin/containerd-shim-kata-cc-v2')), '/opt/kata-cc/bin/containerd-shim-kata-cc-v2');
  assert.equal(shim.mode & 0o777, 0o755);
  assert.equal(await readFile(path.join(root, 'opt/kata-cc/share/defaults/kata-cc/configuration.toml'), 'utf8'), '# snp\n');
  assert.equal(await readFile(path.join(root, 'opt/kata-cc/share/kata-cc/vmlinuz'), 'utf8'), 'kernel');
  const config = await readFile(path.join(root, 'etc/containerd/config.toml'), 'utf8');
  assert.match(config, /runtimes\.kata-cc-snp\]/);
  assert.deepEqual(rec.calls, [
    { node: 'node-1', 'kata-cc.io/runtime': 'installing' },
    { node: 'node-1', 'kata-cc.io/runtime': 'true', 'kata-cc.io/tee': 'snp', 'kata-cc.io/cc-ready': 'true' },
  ]);

  await writeFile(path.join(root, 'opt/kata-cc/share/kata-cc/old-guest.img'), 'x'); // pretend an older payload shipped it
  const st = await loadState(layout);
  await writeFile(path.join(root, 'opt/kata-cc/state/install.json'), JSON.stringify({ ...st, installedFiles: [...(st?.installedFiles ?? []), 'share/kata-cc/old-guest.img'] }));
  const again = await install({ layout, artifacts: payload, nodeName: 'node-1' }, { labeler: rec.labeler, restartContainerd: rec.restart });
  assert.equal(existsSync(path.join(root, 'opt/kata-cc/share/kata-cc/old-guest.img')), false, 'an upgrade drops files the new payload no longer has');
  assert.equal(again.configChanged, false, 'a second install is a no-op for containerd');
  assert.equal(rec.restarts, 1);
  assert.equal(await readFile(path.join(root, 'etc/containerd/config.toml'), 'utf8'), config);

  const un = await uninstall({ layout }, { labeler: rec.labeler, restartContainerd: rec.restart });
  assert.deepEqual(un, { config: 'restored', restarted: true, wasInstalled: true });
  assert.deepEqual(await readFile(path.join(root, 'etc/containerd/config.toml')), original);
  assert.deepEqual((await readdir(path.join(root, 'opt'))).sort(), [], 'the prefix install created is gone');
  assert.deepEqual((await readdir(root)).sort(), ['etc', 'opt', 'sys'], 'the shim link and the directories made for it are gone');
  assert.deepEqual(rec.calls.at(-1), { node: 'node-1', 'kata-cc.io/runtime': null, 'kata-cc.io/tee': null, 'kata-cc.io/cc-ready': null });
  assert.deepEqual(await uninstall({ layout }, {}), { config: 'untouched', restarted: false, wasInstalled: false }, 'uninstall is idempotent');
});

test('install() on containerd 2.x with conf.d imports writes only a drop-in; uninstall removes it', async () => {
  const root = await freshRoot('r2', 'v3-confd.toml');
  const original = await readFile(path.join(root, 'etc/containerd/config.toml'));
  const layout = makeLayout({ root });
  const res = await install({ layout, artifacts: payload, tee: 'none' }, { restartContainerd: null });
  assert.equal(res.mode, 'drop-in-glob');
  assert.equal(res.restarted, false);
  assert.deepEqual(await readFile(path.join(root, 'etc/containerd/config.toml')), original);
  assert.match(await readFile(path.join(root, 'etc/containerd/conf.d/kata-cc.toml'), 'utf8'), /io\.containerd\.cri\.v1\.runtime/);
  assert.equal((await loadState(layout))?.dropIn?.createdDirs.join(), '/etc/containerd/conf.d');
  await uninstall({ layout });
  assert.deepEqual(await readdir(path.join(root, 'etc/containerd')), ['config.toml'], 'drop-in and the conf.d dir install created are gone');
  assert.deepEqual(await readFile(path.join(root, 'etc/containerd/config.toml')), original);
});

test('install() creates a config file when there is none, and uninstall() deletes it again', async () => {
  const root = await freshRoot('r3', null);
  const layout = makeLayout({ root });
  const res = await install({ layout, artifacts: payload, tee: 'none', containerdMajor: 1 }, {});
  assert.equal(res.mode, 'new-file');
  assert.equal((await uninstall({ layout })).config, 'removed');
  assert.deepEqual(await readdir(path.join(root, 'etc/containerd')), []);
});

test('uninstall() after someone edited the config removes only the managed block and keeps their edit', async () => {
  const root = await freshRoot('r4', 'aks-v2.toml');
  const file = path.join(root, 'etc/containerd/config.toml');
  const original = await readFile(file, 'utf8');
  const layout = makeLayout({ root });
  await install({ layout, artifacts: payload, tee: 'none' }, {});
  await writeFile(file, (await readFile(file, 'utf8')) + '[timeouts]\n  "io.containerd.timeout.shim.shutdown" = "3s"\n');
  assert.equal((await uninstall({ layout })).config, 'stripped');
  assert.equal(await readFile(file, 'utf8'), original + '[timeouts]\n  "io.containerd.timeout.shim.shutdown" = "3s"\n');
});

test('install() fails with stable codes on a missing payload, a bad root and a path escaping the root', async () => {
  const root = await freshRoot('r5', 'aks-v2.toml');
  await assert.rejects(install({ layout: makeLayout({ root }), artifacts: path.join(work.dir, 'nope') }), (e) => hasCode(e, 'INST_ARTIFACTS_MISSING'));
  await assert.rejects(install({ layout: makeLayout({ root: path.join(work.dir, 'missing-root') }), artifacts: payload }), (e) => hasCode(e, 'INST_ROOT_INVALID'));
  assert.throws(() => makeLayout({ root, prefix: '/opt/../etc' }), (e) => hasCode(e, 'INST_BAD_ARGUMENT'));
  assert.throws(() => makeLayout({ root, containerdConfig: 'etc/containerd/config.toml' }), (e) => hasCode(e, 'INST_BAD_ARGUMENT'));
  await assert.rejects(install({ layout: makeLayout({ root }), artifacts: payload, tee: 'none' }, { restartContainerd: async () => Promise.reject(new Error('unit failed')) }), (e) => hasCode(e, 'INST_RESTART_FAILED'));
  // The config is written but containerd never restarted: the next run still restarts it.
  let restarts = 0;
  const again = await install({ layout: makeLayout({ root }), artifacts: payload, tee: 'none' }, { restartContainerd: async () => void restarts++ });
  assert.deepEqual({ changed: again.configChanged, restarted: again.restarted, restarts }, { changed: false, restarted: true, restarts: 1 });
  assert.equal((await install({ layout: makeLayout({ root }), artifacts: payload, tee: 'none' }, { restartContainerd: async () => void restarts++ })).restarted, false, 'and only once');
});

test('install() refuses to replace a containerd-shim-kata-cc-v2 that is not its own, and uninstall leaves it alone', async () => {
  const root = await freshRoot('r6', 'aks-v2.toml');
  await mkdir(path.join(root, 'usr/local/bin'), { recursive: true });
  await symlink('/usr/bin/someone-elses-shim', path.join(root, 'usr/local/bin/containerd-shim-kata-cc-v2'));
  await assert.rejects(install({ layout: makeLayout({ root }), artifacts: payload, tee: 'none' }), (e) => hasCode(e, 'INST_CONFIG_CONFLICT'));
  await install({ layout: makeLayout({ root, shimLinkDir: null }), artifacts: payload, tee: 'none' });
  await uninstall({ layout: makeLayout({ root }) });
  assert.equal(await readlink(path.join(root, 'usr/local/bin/containerd-shim-kata-cc-v2')), '/usr/bin/someone-elses-shim', 'never touches a link that is not ours');
});

test('install() edits the file a symlinked config.toml points at (absolute link = host path) and keeps the link', async () => {
  const root = await freshRoot('r7', null);
  await mkdir(path.join(root, 'var/lib/rancher/containerd'), { recursive: true });
  const target = path.join(root, 'var/lib/rancher/containerd/config.toml');
  await writeFile(target, await readFile(fixturePath(import.meta.url, 'testdata/configs/aks-v2.toml')));
  const original = await readFile(target);
  await symlink('/var/lib/rancher/containerd/config.toml', path.join(root, 'etc/containerd/config.toml'));
  const layout = makeLayout({ root });
  await install({ layout, artifacts: payload, tee: 'none' });
  assert.equal(await readlink(path.join(root, 'etc/containerd/config.toml')), '/var/lib/rancher/containerd/config.toml', 'still a link');
  assert.match(await readFile(target, 'utf8'), /runtimes\.kata-cc\]/);
  await uninstall({ layout });
  assert.deepEqual(await readFile(target), original);
  assert.equal(await readlink(path.join(root, 'etc/containerd/config.toml')), '/var/lib/rancher/containerd/config.toml');
});

test('install() with guest pull writes the snapshotter unit, starts it before restarting containerd; uninstall stops it and restores everything', async () => {
  const root = await freshRoot('gp', 'aks-v2.toml');
  const original = await readFile(path.join(root, 'etc/containerd/config.toml'));
  const layout = makeLayout({ root });
  const order: string[] = [];
  let server: net.Server | null = null;
  const socketOnRoot = path.join(root, 'run/kata-cc-snapshotter/snapshotter.sock');
  const deps = {
    restartContainerd: async () => void order.push('restart containerd'),
    startSnapshotter: async () => {
      order.push('start snapshotter');
      await mkdir(path.dirname(socketOnRoot), { recursive: true });
      server = net.createServer((c) => c.end());
      await new Promise<void>((r) => server?.listen(socketOnRoot, r));
    },
    stopSnapshotter: async () => {
      order.push('stop snapshotter');
      await new Promise<void>((r) => (server === null ? r() : server.close(() => r())));
    },
  };
  const res = await install({ layout, artifacts: payload, tee: 'none', guestPull: 'global' }, deps);
  assert.equal(res.guestPull, 'global');
  assert.deepEqual(order, ['start snapshotter', 'restart containerd']);
  const unit = await readFile(path.join(root, 'etc/systemd/system/kata-cc-snapshotter.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/opt\/kata-cc\/bin\/kata-cc-snapshotter --root \/var\/lib\/kata-cc-snapshotter --address \/run\/kata-cc-snapshotter\/snapshotter\.sock$/m);
  assert.match(unit, /^Before=containerd\.service$/m);
  const config = await readFile(path.join(root, 'etc/containerd/config.toml'), 'utf8');
  assert.match(config, /\[proxy_plugins\."kata-cc"\]\n {2}type = "snapshot"\n {2}address = "\/run\/kata-cc-snapshotter\/snapshotter\.sock"/);
  assert.match(config, /^ {2}snapshotter = "kata-cc"$/m);
  assert.ok(existsSync(path.join(root, 'opt/kata-cc/bin/kata-cc-snapshotter')));

  const un = await uninstall({ layout }, deps);
  assert.deepEqual(un, { config: 'restored', restarted: true, wasInstalled: true });
  assert.deepEqual(order.slice(2), ['restart containerd', 'stop snapshotter'], 'containerd lets go of the snapshotter before it stops');
  assert.deepEqual(await readFile(path.join(root, 'etc/containerd/config.toml')), original);
  assert.equal(existsSync(path.join(root, 'etc/systemd')), false, 'the unit and the directories made for it are gone');
});
