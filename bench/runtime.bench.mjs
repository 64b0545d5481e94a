#!/usr/bin/env node
// Runtime benchmark: pod start latency split by phase, next to a bare QEMU boot of the same kernel,
// initramfs and rootfs in the same run; host memory per pod (shim RSS, QEMU RSS) and guest memory.
//  1. bare boot: libs/testing startGuestVm (QEMU TCG, same image) -> MARK initramfs / agent-ready
//  2. sandbox library: @kata-cc/sandbox (what the shim runs) with the serial console polled for
//     the guest's MARK lines: QEMU spawn, guest kernel (initramfs), agent ready, image pulled,
//     container started (first output)
//  3. CRI as kubelet through a private containerd 1.6 + containerd-shim-kata-cc-v2:
//     RunPodSandbox, CreateContainer (guest pull), StartContainer, first log line; shim and QEMU
//     RSS while the pod runs; guest MemTotal-MemAvailable via ExecSync.
// `--runs N` repeats 1 and 2 (default 1: every boot is ~20-60 s of TCG on a shared machine).
// Writes bench/results/runtime.json.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const T = await import(path.join(repo, 'libs/testing/dist/index.js'));
const { parseConfig, decodeInitdata, initdataDiskImage } = await import(path.join(repo, 'runtime/hypervisor/dist/index.js'));
const { Sandbox, sandboxDir } = await import(path.join(repo, 'runtime/sandbox/dist/index.js'));
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 0) || 1;
const median = (xs) => { const s = xs.filter((x) => x != null).sort((a, b) => a - b); return s.length ? Math.round(s[Math.floor((s.length - 1) / 2)]) : null; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid) => { try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]); } catch { return null; } };

console.error('bench runtime: guest image');
const g = JSON.parse(execFileSync(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { encoding: 'utf8' }));
const reg = await T.startRegistry();
const port = reg.host.split(':')[1];
const guestRegistry = `10.0.2.2:${port}`;
await T.pushImage(reg, 'bench/bb', '1', await T.busyboxImage(['sh', '-c', 'echo first-output; exec sleep 600']));
await T.pushImage(reg, 'bench/pause', '1', await T.busyboxImage(['sleep', '2147483647']));
const guestRef = `${guestRegistry}/bench/bb:1`;
const work = mkdtempSync(path.join(tmpdir(), 'kcc-bench-rt-'));
const initdata = `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"cdh.toml" = '''\n[kbc]\nname = "cc_kbc"\nurl = "http://10.0.2.2:1"\n[[image.registry_config.registry]]\nlocation = "${guestRegistry}"\ninsecure = true\n'''\n`;
const annotations = { 'io.katacontainers.config.hypervisor.cc_init_data': (await import('node:zlib')).gzipSync(initdata).toString('base64') };
const tomlCfg = {
  hypervisor: { qemu: { tee: 'none', accel: 'tcg', kernel: g.kernel, initrd: g.initrd, image: g.rootfs, rootfs_type: 'erofs', default_memory: 1024, kernel_params: `${g.cmdline} lpj=9780000`, agent_channel: 'virtio-serial', network: 'user' } },
  agent: { kata: { dial_timeout: 300 } },
  runtime: { create_container_timeout: 300, state_dir: path.join(work, 'state') },
};
const results = { machine: 'shared 2-core, QEMU TCG (no nested KVM), 1 vCPU, 1 GiB guest', runs, bare: [], sandbox: [], cri: null };

try {
  for (let i = 0; i < runs; i++) {
    console.error(`bench runtime: bare QEMU boot ${i + 1}/${runs}`);
    // Same initdata disk as the pod, so the guest does the same work (the agent starts AA/CDH).
    const initdataImg = path.join(work, 'initdata.img');
    writeFileSync(initdataImg, initdataDiskImage(decodeInitdata(annotations['io.katacontainers.config.hypervisor.cc_init_data'])));
    const vm = await T.startGuestVm({ image: g, memMiB: 1024, disks: [initdataImg] });
    try {
      await vm.waitForLine(/MARK agent-ready/, 300_000);
      results.bare.push({ initramfsMs: vm.marks.get('initramfs')?.hostMs ?? null, agentReadyMs: vm.marks.get('agent-ready')?.hostMs ?? null });
    } finally { await vm.stop(); }

    console.error(`bench runtime: sandbox phases ${i + 1}/${runs}`);
    const config = parseConfig(tomlCfg);
    const id = `bench-${i}`;
    const serial = path.join(sandboxDir(config, id), 'serial.log');
    const marks = {};
    let polling = true;
    const t0 = Date.now();
    const poll = (async () => {
      while (polling) {
        if (existsSync(serial)) for (const m of readFileSync(serial, 'latin1').matchAll(/MARK (\S+)/g)) marks[m[1]] ??= Date.now() - t0;
        await sleep(25);
      }
    })();
    const sb = await Sandbox.create({ id, config, annotations });
    const phases = { vmSpawnedMs: sb.timings.vmSpawned - t0, agentReadyMs: sb.timings.agentReady - t0, sandboxCreatedMs: sb.timings.sandboxCreated - t0 };
    await sb.createContainer('pause', { process: { args: ['/pause'] }, annotations: { 'io.kubernetes.cri.container-type': 'sandbox' }, root: { path: 'rootfs' } });
    await sb.createContainer('c', { process: { args: ['sh', '-c', 'echo first-output; exec sleep 600'], env: ['PATH=/bin'], cwd: '/' }, annotations: { 'io.kubernetes.cri.image-name': guestRef, 'io.kubernetes.cri.container-type': 'container' }, root: { path: 'rootfs' } });
    phases.imagePulledMs = Date.now() - t0;
    await sb.agent.call('StartContainer', { container_id: 'c' });
    await sb.agent.call('ReadStdout', { container_id: 'c', exec_id: '', len: 4096 }, 0);
    phases.firstOutputMs = Date.now() - t0;
    phases.guestKernelToInitMs = marks['initramfs'] ?? null;
    phases.guestAgentMarkMs = marks['agent-ready'] ?? null;
    phases.qemuRssKiB = rssKiB(sb.pid);
    polling = false;
    await poll;
    await sb.destroy();
    results.sandbox.push(phases);
  }

  console.error('bench runtime: CRI pod through containerd + shim');
  const cfgFile = path.join(work, 'cri.toml');
  writeFileSync(cfgFile, `[hypervisor.qemu]\ntee = "none"\naccel = "tcg"\nkernel = ${JSON.stringify(g.kernel)}\ninitrd = ${JSON.stringify(g.initrd)}\nimage = ${JSON.stringify(g.rootfs)}\nrootfs_type = "erofs"\ndefault_memory = 1024\nkernel_params = ${JSON.stringify(`${g.cmdline} lpj=9780000`)}\nagent_channel = "virtio-serial"\n[agent.kata]\ndial_timeout = 300\n[runtime]\ncreate_container_timeout = 300\nstate_dir = ${JSON.stringify(path.join(work, 'cstate'))}\n`);
  const shimDir = await T.shimDirFor(repo);
  const ctd = await T.startContainerd({ shimDir: shimDir.dir, kataConfigPath: cfgFile, sandboxImage: `${guestRegistry}/bench/pause:1`, mirrors: { [guestRegistry]: reg.host } });
  const cri = T.criClient(ctd.socket);
  try {
    const pod = { metadata: { name: 'bench', uid: `u-${Date.now()}`, namespace: 'default', attempt: 0 }, log_directory: path.join(work, 'logs'), annotations, linux: { security_context: { namespace_options: { network: 2, pid: 0, ipc: 0 } } } };
    await cri.call('PullImage', { image: { image: `${guestRegistry}/bench/pause:1` } });
    await cri.call('PullImage', { image: { image: guestRef } });
    let t = Date.now();
    const { pod_sandbox_id: podId } = await cri.call('RunPodSandbox', { config: pod, runtime_handler: 'kata-cc' }, 600_000);
    const runPodSandboxMs = Date.now() - t;
    t = Date.now();
    const { container_id: cid } = await cri.call('CreateContainer', { pod_sandbox_id: podId, sandbox_config: pod, config: { metadata: { name: 'c', attempt: 0 }, image: { image: guestRef }, log_path: 'c.log' } }, 600_000);
    const createContainerMs = Date.now() - t;
    t = Date.now();
    await cri.call('StartContainer', { container_id: cid });
    const startContainerMs = Date.now() - t;
    const logFile = path.join(pod.log_directory, 'c.log');
    while (!(existsSync(logFile) && readFileSync(logFile, 'utf8').includes('first-output'))) await sleep(25);
    const firstLogMs = Date.now() - t;
    const bundle = path.join(ctd.dir, 'state/io.containerd.runtime.v2.task/k8s.io', podId);
    const shimPid = Number(readFileSync(path.join(bundle, 'shim.pid'), 'utf8'));
    const vmDir = path.join(work, 'cstate', 'sbs', createHash('sha256').update(podId).digest('hex').slice(0, 16));
    const qemuPid = Number(readFileSync(path.join(vmDir, 'vmm.pid'), 'utf8'));
    const shimRssKiB = rssKiB(shimPid);
    const qemuRssKiB = rssKiB(qemuPid);
    const ex = await cri.call('ExecSync', { container_id: cid, cmd: ['cat', '/proc/meminfo'], timeout: 60 }, 120_000);
    const mi = Buffer.from(ex.stdout).toString();
    const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(mi)?.[1]);
    t = Date.now();
    await cri.call('StopPodSandbox', { pod_sandbox_id: podId }, 120_000);
    const stopPodSandboxMs = Date.now() - t;
    await cri.call('RemovePodSandbox', { pod_sandbox_id: podId }, 120_000);
    results.cri = {
      // CRI creates the task (shim Create = guest pull) in StartContainer, not CreateContainer.
      runPodSandboxMs, createContainerMs, startContainerIncludingGuestPullMs: startContainerMs, firstLogMs, stopPodSandboxMs,
      podStartToFirstLogMs: runPodSandboxMs + createContainerMs + firstLogMs,
      shimRssKiB, qemuRssKiB, guestMemTotalKiB: kib('MemTotal'), guestMemUsedKiB: kib('MemTotal') - kib('MemAvailable'),
    };
  } finally {
    cri.close();
    await ctd.stop();
    await shimDir.cleanup();
  }
} finally {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}

results.summary = {
  bareBootToAgentReadyMs: median(results.bare.map((b) => b.agentReadyMs)),
  bareBootToInitramfsMs: median(results.bare.map((b) => b.initramfsMs)),
  sandboxQemuSpawnMs: median(results.sandbox.map((s) => s.vmSpawnedMs)),
  sandboxGuestKernelToInitMs: median(results.sandbox.map((s) => s.guestKernelToInitMs)),
  sandboxAgentReadyMs: median(results.sandbox.map((s) => s.agentReadyMs)),
  sandboxImagePulledMs: median(results.sandbox.map((s) => s.imagePulledMs)),
  sandboxFirstOutputMs: median(results.sandbox.map((s) => s.firstOutputMs)),
  runtimeOverheadOverBareMs: (median(results.sandbox.map((s) => s.agentReadyMs)) ?? 0) - (median(results.bare.map((b) => b.agentReadyMs)) ?? 0),
};
mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
writeFileSync(path.join(repo, 'bench/results/runtime.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
