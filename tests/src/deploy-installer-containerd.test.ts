import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, tempDir } from '@kata-cc/testing';
import { criClient, criRuntimes, importPauseImage, privateContainerd, waitReady, type CriClient, type PrivateContainerd } from './deploy-containerd.js';

// The installer against a REAL containerd 1.6: install registers the kata-cc handlers with
// CRI (containerd restarted through --restart-cmd, like systemctl on a node), a pod sandbox
// with handler kata-cc-dev reaches our shim with our configuration, and uninstall gives the
// original config.toml back byte for byte.
const run = promisify(execFile);
const SANDBOX_IMAGE = 'registry.local/kata-cc/pause:latest';
const HANDLERS = ['kata-cc', 'kata-cc-dev', 'kata-cc-se', 'kata-cc-snp', 'kata-cc-tdx'];
let work: { dir: string; cleanup: () => Promise<void> };
let ctd: PrivateContainerd;
let cri: CriClient;
let prefix: string;
let payload: string;

function installer(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [path.join(repoRoot(), 'runtime/installer/bin/kata-cc-installer.js'), ...args], { env: { ...process.env, KATA_CC_LOG_LEVEL: 'warn' } });
}
const common = (): string[] => ['--root', '/', '--prefix', prefix, '--containerd-config', ctd.config, '--shim-link-dir', path.join(work.dir, 'usr/local/bin'), '--containerd-socket', ctd.socket, '--restart-cmd', `${ctd.control} restart`, '--no-label'];

before(async () => {
  work = await tempDir('kcc-deploy-ctd-');
  prefix = path.join(work.dir, 'opt/kata-cc');
  ctd = await privateContainerd(work.dir, SANDBOX_IMAGE);
  ctd.start();
  await waitReady(ctd);
  importPauseImage(ctd, SANDBOX_IMAGE);
  cri = criClient(ctd.socket);
  // The real payload builder, linked to this checkout; the shim launcher is wrapped so the
  // test sees exactly how containerd invoked it (argv and the runtime options on stdin).
  payload = path.join(work.dir, 'payload');
  await run(process.execPath, [path.join(repoRoot(), 'deploy/images/build-payload.mjs'), '--out', payload, '--link', '--prefix', prefix]);
  const shim = path.join(payload, 'bin/containerd-shim-kata-cc-v2');
  await rename(shim, `${shim}.real`);
  await writeFile(shim, `#!/bin/sh\necho "$@" >> ${work.dir}/shim-calls\ncat > ${work.dir}/shim-stdin.$$\nexec "$0.real" "$@" < ${work.dir}/shim-stdin.$$\n`);
  await chmod(shim, 0o755);
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
  await work?.cleanup();
});

const sandbox = (handler: string): Record<string, unknown> => ({
  runtime_handler: handler,
  config: {
    metadata: { name: `pod-${handler}`, uid: `uid-${handler}-${Date.now()}`, namespace: 'default', attempt: 0 },
    log_directory: path.join(work.dir, 'pod-logs'),
    annotations: { 'io.katacontainers.config.hypervisor.cc_init_data': 'H4sIAAAAAAAAA0vOyS9KUUhKLCpRSM7PBQA3qHUmDwAAAA==' },
    linux: { security_context: { namespace_options: { network: 'NODE', pid: 'POD', ipc: 'POD' } } },
  },
});

test('kata-cc-installer registers the kata-cc handlers with a real containerd 1.6 and uninstall restores config.toml byte for byte', { timeout: 180_000 }, async () => {
  const original = await readFile(ctd.config);
  assert.deepEqual(Object.keys(await criRuntimes(cri)), ['runc']);
  await assert.rejects(cri.call('RunPodSandbox', sandbox('kata-cc')), /no runtime for "kata-cc" is configured/);

  const { stdout } = await installer('install', '--artifacts', payload, '--tee', 'none', ...common());
  assert.deepEqual(JSON.parse(stdout), { tee: 'none', mode: 'in-place', schema: 2, configChanged: true, restarted: true, files: JSON.parse(stdout).files });

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

  // A pod sandbox on kata-cc-dev: containerd starts OUR shim with OUR configuration.
  let sandboxId: string | undefined;
  let runError: Error | undefined;
  try {
    sandboxId = (await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', sandbox('kata-cc-dev'), 120_000)).pod_sandbox_id;
  } catch (err) {
    runError = err as Error;
  }
  const callsFile = path.join(work.dir, 'shim-calls');
  assert.ok(existsSync(callsFile), `containerd never started the shim: ${String(runError?.message)}`);
  const calls = readFileSync(callsFile, 'utf8');
  assert.match(calls, /-namespace k8s\.io -address \S+containerd\.sock -publish-binary \S+ -id [0-9a-f]{64}( -debug)? start/);
  const stdinFiles = readdirSync(work.dir).filter((f) => f.startsWith('shim-stdin.'));
  const options = stdinFiles.map((f) => readFileSync(path.join(work.dir, f), 'latin1')).join('');
  assert.ok(options.includes('runtimeoptions.v1.Options') && options.includes(`${prefix}/share/defaults/kata-cc/configuration-dev.toml`), 'CRI passes options.ConfigPath to the shim');
  if (sandboxId !== undefined) {
    await cri.call('StopPodSandbox', { pod_sandbox_id: sandboxId }, 60_000);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: sandboxId }, 60_000);
  } else {
    // The shim (runtime/shim) decides whether the VM starts here; the handler itself resolved.
    assert.doesNotMatch(String(runError?.message), /no runtime for/);
  }

  const un = await installer('uninstall', ...common());
  assert.deepEqual(JSON.parse(un.stdout), { config: 'restored', restarted: true, wasInstalled: true });
  assert.deepEqual(await readFile(ctd.config), original, 'the original config.toml, byte for byte');
  assert.equal(existsSync(prefix), false);
  assert.deepEqual(Object.keys(await criRuntimes(cri)), ['runc'], 'containerd was restarted without the handlers');
});
