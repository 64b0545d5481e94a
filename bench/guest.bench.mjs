#!/usr/bin/env node
// Guest benchmark: boots the built guest under QEMU TCG (q35, PVH vmlinux, 1 vCPU, 1 GiB) and
// measures, per phase, the time to agent-ready and to the first output of a container whose image
// is pulled in the guest; then guest memory (agent RSS, used memory) idle and with one container.
// Runs `--runs N` boots (default 2). Writes bench/results/guest.json.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startGuestVm, startRegistry, pushImage, busyboxImage } = await import(path.join(repo, 'libs/testing/dist/index.js'));
const { AgentClient } = await import(path.join(repo, 'guest-components/agent/dist/index.js'));
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 0) || 2;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; };
const round = (x) => (x == null ? null : Math.round(x));

console.error('bench guest: building (or reusing) the guest image');
const image = JSON.parse(execFileSync(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { encoding: 'utf8' }));
const reg = await startRegistry();
await pushImage(reg, 'bench/bb', '1', await busyboxImage(['sh', '-c', 'echo first-output; exec sleep 600']));
const port = Number(new URL(reg.url).port);

/** Memory as the guest sees it, read by a probe container sharing the guest's pid namespace. */
async function guestMemory(agent, id) {
  await agent.call('CreateContainer', {
    container_id: id, exec_id: id,
    storages: [{ driver: 'image_guest_pull', source: 'pause', fstype: 'overlay', mount_point: `/run/kata-containers/${id}/rootfs` }],
    OCI: {
      Version: '1.0.2', Root: { Path: 'rootfs' }, Linux: { Namespaces: [{ Type: 'mount' }] },
      Process: { Args: ['/bin/sh', '-c', 'cat /proc/meminfo; for p in /proc/[0-9]*; do if grep -q kata-agent $p/cmdline 2>/dev/null; then grep VmRSS $p/status; fi; done'], Cwd: '/', Env: ['PATH=/bin'] },
    },
  }, { timeoutMs: 120_000 });
  await agent.call('StartContainer', { container_id: id }, { timeoutMs: 120_000 });
  const out = (await agent.readAll(id, id)).toString();
  await agent.call('RemoveContainer', { container_id: id });
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(out)?.[1] ?? NaN);
  const rss = [...out.matchAll(/VmRSS:\s+(\d+) kB/g)].map((m) => Number(m[1]));
  return { guest_used_mib: round((kb('MemTotal') - kb('MemAvailable')) / 1024), agent_rss_mib: round(Math.max(...rss) / 1024) };
}

const results = [];
try {
for (let i = 0; i < runs; i++) {
  console.error(`bench guest: boot ${i + 1}/${runs}`);
  const vm = await startGuestVm({ image, memMiB: 1024, forwards: [{ guestPort: 5000, hostPort: port }], append: 'kata_cc.insecure_registries=10.0.2.100:5000' });
  try {
    await vm.waitForLine(/MARK agent-ready/, 300_000);
    const agent = new AgentClient(await vm.connectAgent());
    const t0 = performance.now();
    await agent.check({ timeoutMs: 60_000 });
    const firstCall = performance.now() - t0;
    await agent.call('CreateSandbox', { sandbox_id: 'bench' });
    const idle = await guestMemory(agent, 'probe-idle');
    const t1 = performance.now();
    await agent.call('CreateContainer', {
      container_id: 'app', exec_id: 'app',
      storages: [{ driver: 'image_guest_pull', source: '10.0.2.100:5000/bench/bb:1', fstype: 'overlay', mount_point: '/run/kata-containers/app/rootfs' }],
      OCI: { Version: '1.0.2', Root: { Path: 'rootfs' } },
    }, { timeoutMs: 300_000 });
    const t2 = performance.now();
    await agent.call('StartContainer', { container_id: 'app' }, { timeoutMs: 120_000 });
    const t3 = performance.now();
    let out = '';
    while (!out.includes('first-output')) out += Buffer.from((await agent.call('ReadStdout', { container_id: 'app', exec_id: 'app', len: 4096 })).data).toString();
    const t4 = performance.now();
    const busy = await guestMemory(agent, 'probe-busy');
    const qemuRss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${vm.process.pid}/status`, 'utf8'))?.[1] ?? 0);
    await agent.call('DestroySandbox', {}, { timeoutMs: 120_000 });
    agent.close();
    const m = (k) => vm.marks.get(k)?.hostMs ?? null;
    const ready = m('agent-ready');
    results.push({
      kernel_to_initramfs_ms: m('initramfs'), modules_ms: m('modules') - m('initramfs'), verity_mount_ms: m('verity') - m('modules'),
      rcs_ms: m('rcS') - m('verity'), node_agent_start_ms: ready - m('rcS'), agent_ready_ms: ready,
      first_ttrpc_call_ms: round(firstCall),
      pull_and_create_ms: round(t2 - t1), start_ms: round(t3 - t2), first_output_after_start_ms: round(t4 - t3),
      first_output_from_spawn_ms: round(ready + (t4 - t0)),
      memory_idle: idle, memory_one_container: busy, qemu_rss_mib: round(qemuRss / 1024),
    });
    console.error(JSON.stringify(results.at(-1)));
  } finally {
    await vm.stop();
  }
}
} finally {
  await reg.stop();
}
const keys = Object.keys(results[0]).filter((k) => typeof results[0][k] === 'number');
const summary = Object.fromEntries(keys.map((k) => [k, median(results.map((r) => r[k]))]));
const out = {
  benchmark: 'guest',
  date: new Date().toISOString(),
  machine: 'QEMU 7.2 TCG (no KVM), q35 + PVH vmlinux, 1 vCPU, 1 GiB; host: 2 shared cores',
  image: { rootHash: image.rootHash, components: image.components },
  runs: results.length,
  median: summary,
  memory_idle_median: { guest_used_mib: median(results.map((r) => r.memory_idle.guest_used_mib)), agent_rss_mib: median(results.map((r) => r.memory_idle.agent_rss_mib)) },
  memory_one_container_median: { guest_used_mib: median(results.map((r) => r.memory_one_container.guest_used_mib)), agent_rss_mib: median(results.map((r) => r.memory_one_container.agent_rss_mib)) },
  raw: results,
};
mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
writeFileSync(path.join(repo, 'bench/results/guest.json'), JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out.median, null, 2));
