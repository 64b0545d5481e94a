import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildTar, busyboxImage, pushImage, repoRoot, startRegistry, tempDir, type PushedImage, type TestRegistry } from '@kata-cc/testing';
import { criClient, criRuntimes, privateContainerd, waitReady, type CriClient, type PrivateContainerd } from './deploy-containerd.js';

// The installer against a REAL containerd 1.6: install registers the kata-cc handlers with
// CRI (containerd restarted through --restart-cmd, like systemctl on a node), a pod on
// handler kata-cc-dev runs through the installed shim with the installed configuration, and
// uninstall gives the original config.toml back byte for byte. The VM is the FAKE hypervisor
// (no nested KVM here; runtime-cri-guest.test.ts boots the real guest under TCG).
const run = promisify(execFile);
const FAKE_AGENT = path.join(repoRoot(), 'runtime/sandbox/dist/fake-agent/main.js');
let reg: TestRegistry;
let bb: string;
const HANDLERS = ['kata-cc', 'kata-cc-dev', 'kata-cc-se', 'kata-cc-snp', 'kata-cc-tdx'];
let work: { dir: string; cleanup: () => Promise<void> };
let ctd: PrivateContainerd;
let cri: CriClient;
let prefix: string;
let payload: string;
let gp: PushedImage;

function installer(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [path.join(repoRoot(), 'runtime/installer/bin/kata-cc-installer.js'), ...args], { env: { ...process.env, KATA_CC_LOG_LEVEL: 'warn' } });
}
// The snapshotter from the installed payload, started and stopped the way the host's systemd
// would run the unit the installer writes (its ExecStart), in the background.
const snap = (): { socket: string; root: string; unitDir: string } => ({ socket: path.join(work.dir, 'run/kcc-snap/snapshotter.sock'), root: path.join(work.dir, 'var/lib/kata-cc-snapshotter'), unitDir: path.join(work.dir, 'etc/systemd/system') });
const common = (): string[] => [
  '--root', '/', '--prefix', prefix, '--containerd-config', ctd.config, '--shim-link-dir', path.join(work.dir, 'usr/local/bin'), '--containerd-socket', ctd.socket, '--restart-cmd', `${ctd.control} restart`, '--no-label',
  '--snapshotter-start-cmd', `${prefix}/bin/kata-cc-snapshotter --root ${snap().root} --address ${snap().socket} >>${work.dir}/snapshotter.log 2>&1 </dev/null & echo $! > ${work.dir}/snapshotter.pid`,
  '--snapshotter-stop-cmd', `kill $(cat ${work.dir}/snapshotter.pid)`,
];
const installArgs = (): string[] => ['--snapshotter-socket', snap().socket, '--snapshotter-root', snap().root, '--unit-dir', snap().unitDir];

before(async () => {
  work = await tempDir('kcc-deploy-ctd-');
  prefix = path.join(work.dir, 'opt/kata-cc');
  reg = await startRegistry();
  bb = `${reg.host}/kcc/bb:latest`;
  await pushImage(reg, 'kcc/bb', 'latest', await busyboxImage());
  await pushImage(reg, 'kcc/pause', 'latest', await busyboxImage(['sleep', '2147483647']));
  // Its own top layer: no other image of this test shares that blob.
  const gpImage = await busyboxImage(['cat', '/guest-pull.txt']);
  gp = await pushImage(reg, 'kcc/guest-pull', 'latest', { ...gpImage, layers: [...gpImage.layers, { tar: buildTar([{ path: 'guest-pull.txt', data: `guest pull ${Date.now()}\n` }]), compression: 'gzip' }] });
  ctd = await privateContainerd(work.dir, `${reg.host}/kcc/pause:latest`, reg.host);
  ctd.start();
  await waitReady(ctd);
  cri = criClient(ctd.socket);
  // The real payload builder, linked to this checkout; the shim launcher is wrapped so the
  // test sees exactly how containerd invoked it (argv and the runtime options on stdin).
  payload = path.join(work.dir, 'payload');
  await run(process.execPath, [path.join(repoRoot(), 'deploy/images/build-payload.mjs'), '--out', payload, '--link', '--prefix', prefix]);
  const shim = path.join(payload, 'bin/containerd-shim-kata-cc-v2');
  await rename(shim, `${shim}.real`);
  await writeFile(shim, `#!/bin/sh\necho "$@" >> ${work.dir}/shim-calls\ncat > ${work.dir}/shim-stdin.$$\nexec "$(readlink -f "$0").real" "$@" < ${work.dir}/shim-stdin.$$\n`);
  await chmod(shim, 0o755);
  // kata-cc-dev's configuration with the FAKE hypervisor in place of QEMU.
  await writeFile(path.join(payload, 'share/defaults/kata-cc/configuration-dev.toml'),
    `[hypervisor.fake]\nguest_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_AGENT)}]\n[runtime]\nstate_dir = ${JSON.stringify(path.join(work.dir, 'kata-state'))}\n`);
});

after(async () => {
  cri?.close();
  ctd?.stop();
  // Shim processes containerd started for our sandboxes carry our temp dir in their argv/env.
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(work.dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await run('sh', ['-c', `grep ' ${work.dir}' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l`]).catch(() => {});
  await reg?.stop();
  await work?.cleanup();
});

const sandbox = (handler: string): Record<string, unknown> => ({
  runtime_handler: handler,
  config: {
    metadata: { name: `pod-${handler}`, uid: `uid-${handler}-${Date.now()}`, namespace: 'default', attempt: 0 },
    log_directory: path.join(work.dir, 'pod-logs'),
    // The initdata annotation exactly as the operator's guide makes it.
    annotations: { 'io.katacontainers.config.hypervisor.cc_init_data': execFileSync(path.join(repoRoot(), 'deploy/examples/make-initdata.sh'), ['--annotation', 'http://10.0.0.10:8080'], { encoding: 'utf8' }).trim() },
    linux: { security_context: { namespace_options: { network: 'NODE', pid: 'POD', ipc: 'POD' } } },
  },
});

test('kata-cc-installer registers the kata-cc handlers with a real containerd 1.6 and uninstall restores config.toml byte for byte', { timeout: 180_000 }, async () => {
  const original = await readFile(ctd.config);
  assert.deepEqual(Object.keys(await criRuntimes(cri)), ['runc']);
  await assert.rejects(cri.call('RunPodSandbox', sandbox('kata-cc')), /no runtime for "kata-cc" is configured/);

  const { stdout } = await installer('install', '--artifacts', payload, '--tee', 'none', ...common(), ...installArgs());
  assert.deepEqual(JSON.parse(stdout), { tee: 'none', mode: 'in-place', schema: 2, configChanged: true, restarted: true, files: JSON.parse(stdout).files, guestPull: 'per-runtime' });
  // containerd 1.6 accepts (and ignores) the per-handler snapshotter; CRI keeps overlayfs globally.
  const criConfig = JSON.parse((await cri.call<{ info: Record<string, string> }>('Status', { verbose: true })).info['config'] ?? '{}') as { containerd: { snapshotter: string } };
  assert.equal(criConfig.containerd.snapshotter, 'overlayfs');
  assert.ok(existsSync(snap().socket), 'the snapshotter runs (its unit\'s ExecStart)');

  // CRI now knows every handler, pointing at the installed shim and its configuration.
  const runtimes = await criRuntimes(cri);
  assert.deepEqual(Object.keys(runtimes).sort(), [...HANDLERS, 'runc']);
  for (const h of HANDLERS) {
    const r = runtimes[h];
    assert.equal(r?.runtimeType, 'io.containerd.kata-cc.v2');
    assert.equal(r?.runtimePath, `${prefix}/bin/containerd-shim-kata-cc-v2`);
    assert.deepEqual(r?.PodAnnotations, ['io.katacontainers.*']);
    assert.equal(r?.privileged_without_host_devices, true);
    const suffix = h === 'kata-cc' ? '' : `-${h.slice('kata-cc-'.length)}`;
    assert.deepEqual(r?.options, { ConfigPath: `${prefix}/share/defaults/kata-cc/configuration${suffix}.toml` });
    assert.ok(existsSync(`${prefix}/share/defaults/kata-cc/configuration${suffix}.toml`));
  }

  // A pod on kata-cc-dev, as kubelet runs it: containerd starts OUR shim with OUR configuration.
  await cri.call('PullImage', { image: { image: bb } }, 60_000);
  const cfg = sandbox('kata-cc-dev');
  const { pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', cfg, 60_000);
  const calls = readFileSync(path.join(work.dir, 'shim-calls'), 'utf8');
  assert.match(calls, /-namespace k8s\.io -address \S+containerd\.sock -publish-binary \S+ -id [0-9a-f]{64}( -debug)? start/);
  const options = readdirSync(work.dir).filter((f) => f.startsWith('shim-stdin.')).map((f) => readFileSync(path.join(work.dir, f), 'latin1')).join('');
  assert.ok(options.includes('runtimeoptions.v1.Options') && options.includes(`${prefix}/share/defaults/kata-cc/configuration-dev.toml`), 'CRI passes options.ConfigPath to the shim');
  const sandboxConfig = cfg['config'] as Record<string, unknown>;
  const { container_id: c } = await cri.call<{ container_id: string }>('CreateContainer', {
    pod_sandbox_id: pod, sandbox_config: sandboxConfig,
    config: { metadata: { name: 'hello', attempt: 0 }, image: { image: bb }, command: ['/bin/sh', '-c', 'echo hello from kata-cc-dev; exit 0'], log_path: 'hello.log' },
  }, 60_000);
  await cri.call('StartContainer', { container_id: c }, 60_000);
  let status: { state: string; exit_code: number } = { state: '', exit_code: -1 };
  for (let i = 0; i < 200 && status.state !== 'CONTAINER_EXITED'; i++) {
    status = (await cri.call<{ status: { state: string; exit_code: number } }>('ContainerStatus', { container_id: c })).status;
    if (status.state !== 'CONTAINER_EXITED') await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual({ state: status.state, exit: status.exit_code }, { state: 'CONTAINER_EXITED', exit: 0 });
  assert.match(readFileSync(path.join(work.dir, 'pod-logs/hello.log'), 'utf8'), /stdout F hello from kata-cc-dev/);
  await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000);
  await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000);

  const un = await installer('uninstall', ...common());
  assert.deepEqual(JSON.parse(un.stdout), { config: 'restored', restarted: true, wasInstalled: true });
  assert.deepEqual(await readFile(ctd.config), original, 'the original config.toml, byte for byte');
  assert.equal(existsSync(prefix), false);
  assert.deepEqual(Object.keys(await criRuntimes(cri)), ['runc'], 'containerd was restarted without the handlers');
});

test('kata-cc-installer --guest-pull-global: CRI of a real containerd 1.6 pulls through the installed kata-cc-snapshotter (no layer on the host); uninstall restores config.toml byte for byte', { timeout: 180_000 }, async () => {
  const original = await readFile(ctd.config);
  const { stdout } = await installer('install', '--artifacts', payload, '--tee', 'none', '--guest-pull-global', ...common(), ...installArgs());
  assert.equal(JSON.parse(stdout).guestPull, 'global');
  assert.match(readFileSync(path.join(snap().unitDir, 'kata-cc-snapshotter.service'), 'utf8'), new RegExp(`^ExecStart=${prefix}/bin/kata-cc-snapshotter --root ${snap().root} --address ${snap().socket}$`, 'm'));
  // CRI's configuration dump: the global snapshotter is the proxy plugin.
  const status = JSON.parse((await cri.call<{ info: Record<string, string> }>('Status', { verbose: true })).info['config'] ?? '{}') as { containerd: { snapshotter: string } };
  assert.equal(status.containerd.snapshotter, 'kata-cc');
  assert.ok(Object.keys(await criRuntimes(cri)).includes('kata-cc'));
  // A CRI pull goes through the snapshotter: it recorded the layer, the host never fetched it.
  await cri.call('PullImage', { image: { image: `${reg.host}/kcc/guest-pull:latest` } }, 60_000);
  const layer = gp.layers[1];
  assert.ok(layer !== undefined && gp.layers[0] !== undefined);
  const metadata = readFileSync(path.join(snap().root, 'metadata.json'), 'utf8');
  assert.ok(metadata.includes(gp.layers[0].diffId), 'the snapshotter answered for the base layer (chainID = its diffID)');
  assert.ok((metadata.match(/sha256:[0-9a-f]{64}/g) ?? []).length >= 2, 'and for the top layer');
  assert.equal(existsSync(path.join(work.dir, 'var/lib/containerd/io.containerd.content.v1.content/blobs/sha256', layer.digest.slice('sha256:'.length))), false, 'no layer blob in the host content store');
  assert.ok(existsSync(path.join(work.dir, 'var/lib/containerd/io.containerd.content.v1.content/blobs/sha256', gp.configDigest.slice('sha256:'.length))), 'the config is there (CRI needs it)');

  const un = await installer('uninstall', ...common());
  assert.deepEqual(JSON.parse(un.stdout), { config: 'restored', restarted: true, wasInstalled: true });
  assert.deepEqual(await readFile(ctd.config), original, 'the original config.toml, byte for byte');
  assert.equal(existsSync(path.join(snap().unitDir, 'kata-cc-snapshotter.service')), false);
  assert.equal(existsSync(snap().root), false);
  const after = JSON.parse((await cri.call<{ info: Record<string, string> }>('Status', { verbose: true })).info['config'] ?? '{}') as { containerd: { snapshotter: string } };
  assert.equal(after.containerd.snapshotter, 'overlayfs');
});
