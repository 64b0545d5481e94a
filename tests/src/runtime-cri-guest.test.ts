/**
 * CRI as kubelet against a real containerd 1.6 and the REAL guest: QEMU (profile none, TCG)
 * boots the image builder's kernel + initramfs + dm-verity rootfs, the in-guest kata-agent
 * answers over virtio-serial, initdata travels as a block device. One VM boot for the file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CRI_CONTAINER_STATE, busyboxImage, criClient, pushImage, repoRoot, shimDirFor, startContainerd, startRegistry,
  type CriClient, type TestContainerd, type TestRegistry,
} from '@kata-cc/testing';

const repo = repoRoot();
let tmp: string;
let reg: TestRegistry;
let ctd: TestContainerd;
let cri: CriClient;
let shimDir: { dir: string; cleanup: () => Promise<void> };
let stateDir: string;
let guestRef: string;

const vmDir = (id: string): string => path.join(stateDir, 'sbs', createHash('sha256').update(id).digest('hex').slice(0, 16));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface GuestImage { kernel: string; initrd: string; rootfs: string; cmdline: string }

/** The guest image from the image builder (cached by input hash; built when missing). */
function guestImage(): GuestImage {
  const out = execFileSync(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { encoding: 'utf8', timeout: 900_000 });
  return JSON.parse(out) as GuestImage;
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kcc-rt-guest-'));
  stateDir = path.join(tmp, 'state');
  const g = guestImage();
  reg = await startRegistry();
  const port = reg.host.split(':')[1];
  // The guest reaches the host's loopback as 10.0.2.2 (QEMU user networking); containerd on the
  // host pulls the same name through a mirror to 127.0.0.1.
  const guestRegistry = `10.0.2.2:${port}`;
  guestRef = `${guestRegistry}/kcc/bb:latest`;
  await pushImage(reg, 'kcc/bb', 'latest', await busyboxImage());
  await pushImage(reg, 'kcc/pause', 'latest', await busyboxImage(['sleep', '2147483647']));
  const cfg = path.join(tmp, 'guest.toml');
  await writeFile(cfg, `[hypervisor.qemu]
tee = "none"
accel = "tcg"
kernel = ${JSON.stringify(g.kernel)}
initrd = ${JSON.stringify(g.initrd)}
image = ${JSON.stringify(g.rootfs)}
rootfs_type = "erofs"
default_memory = 1024
kernel_params = ${JSON.stringify(`${g.cmdline} lpj=9780000`)}
agent_channel = "virtio-serial"
network = "user"
[agent.kata]
dial_timeout = 240
[runtime]
create_container_timeout = 300
state_dir = ${JSON.stringify(stateDir)}
`);
  shimDir = await shimDirFor(repo);
  ctd = await startContainerd({ shimDir: shimDir.dir, kataConfigPath: cfg, sandboxImage: `${guestRegistry}/kcc/pause:latest`, mirrors: { [guestRegistry]: reg.host } });
  cri = criClient(ctd.socket);
});

after(async () => {
  cri?.close();
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if ((ctd && cmd.includes(ctd.socket)) || (stateDir && cmd.includes(stateDir))) process.kill(Number(p), 'SIGKILL');
    } catch { /* gone */ }
  }
  await ctd?.stop();
  await reg?.stop();
  await shimDir?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

const initdata = (registry: string): string => `version = "0.1.0"
algorithm = "sha384"
[data]
"aa.toml" = '''
[token_configs.kbs]
url = "http://10.0.2.2:8080"
'''
"cdh.toml" = '''
[kbc]
name = "cc_kbc"
url = "http://10.0.2.2:8080"
[[image.registry_config.registry]]
location = "${registry}"
insecure = true
'''
`;

test('real guest: RunPodSandbox boots the VM (initdata disk, pause bundle), a container runs with guest pull; QEMU killed -> TaskExit; stop and remove leave nothing', async (t) => {
  const cfg = {
    metadata: { name: 'guest-pod', uid: `uid-guest-${Date.now()}`, namespace: 'default', attempt: 0 },
    log_directory: path.join(tmp, 'logs'),
    annotations: { 'io.katacontainers.config.hypervisor.cc_init_data': gzipSync(Buffer.from(initdata(guestRef.split('/')[0] as string))).toString('base64') },
    linux: { security_context: { namespace_options: { network: 2, pid: 0, ipc: 0 } } },
  };
  const { pod_sandbox_id: pod } = (await cri.call('RunPodSandbox', { config: cfg, runtime_handler: 'kata-cc' }, 300_000)) as { pod_sandbox_id: string };
  const dir = vmDir(pod);
  const qemuPid = Number(readFileSync(path.join(dir, 'vmm.pid'), 'utf8'));
  assert.match(readFileSync(`/proc/${qemuPid}/cmdline`, 'utf8'), /qemu-system-x86_64/);
  // initdata reached QEMU as a read-only disk with the kata layout
  const img = await readFile(path.join(dir, 'initdata.img'));
  assert.equal(img.subarray(0, 8).toString(), 'initdata');
  const st = (await cri.call('PodSandboxStatus', { pod_sandbox_id: pod })) as { status: { state: number } };
  assert.equal(st.status.state, 0, 'SANDBOX_READY');
  let containerId = '';

  await t.test('container from a guest-pulled image: output, exit code, ExecSync', async () => {
    await cri.call('PullImage', { image: { image: guestRef } });
    const c = (await cri.call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: cfg, config: { metadata: { name: 'hello', attempt: 0 }, image: { image: guestRef }, command: ['/bin/sh', '-c', 'cat /hello.txt; sleep 600'], log_path: 'hello.log' } }, 300_000)) as { container_id: string };
    await cri.call('StartContainer', { container_id: c.container_id });
    for (let i = 0; i < 100; i++) {
      if (existsSync(path.join(cfg.log_directory, 'hello.log')) && /hello from kata-cc test image/.test(readFileSync(path.join(cfg.log_directory, 'hello.log'), 'utf8'))) break;
      await sleep(200);
    }
    assert.match(readFileSync(path.join(cfg.log_directory, 'hello.log'), 'utf8'), /stdout F hello from kata-cc test image/);
    const ex = (await cri.call('ExecSync', { container_id: c.container_id, cmd: ['/bin/sh', '-c', 'uname -r; exit 4'], timeout: 60 })) as { stdout: Buffer; exit_code: number };
    assert.equal(ex.exit_code, 4);
    assert.match(Buffer.from(ex.stdout).toString(), /6\.1\.0-\d+-amd64/, 'runs on the guest kernel, not the host');
    const s = (await cri.call('ContainerStatus', { container_id: c.container_id })) as { status: { state: number } };
    assert.equal(s.status.state, CRI_CONTAINER_STATE.RUNNING);
    containerId = c.container_id;
  });

  await t.test('fault: QEMU dies under a running container -> TaskExit (255) reaches CRI', async () => {
    assert.ok(containerId, 'the container subtest ran');
    process.kill(qemuPid, 'SIGKILL');
    let st: { state: number; exit_code: number } = { state: -1, exit_code: -1 };
    for (let i = 0; i < 100; i++) {
      st = ((await cri.call('ContainerStatus', { container_id: containerId })) as { status: typeof st }).status;
      if (st.state === CRI_CONTAINER_STATE.EXITED) break;
      await sleep(200);
    }
    assert.equal(st.state, CRI_CONTAINER_STATE.EXITED);
    assert.equal(st.exit_code, 255);
  });

  await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000);
  await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000);
  for (let i = 0; i < 50 && existsSync(`/proc/${qemuPid}`); i++) await sleep(100);
  assert.equal(existsSync(`/proc/${qemuPid}`), false, 'QEMU is gone');
  assert.equal(existsSync(dir), false, 'VM state removed');
});
