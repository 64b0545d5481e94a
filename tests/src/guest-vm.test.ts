/**
 * The guest, booted for real: QEMU (TCG, q35, PVH vmlinux) boots the image builder's kernel,
 * initramfs and dm-verity rootfs; the kata-agent answers over virtio-serial; initdata (with an
 * agent policy) arrives as a block device; the container image is pulled INSIDE the guest from a
 * real registry on the host's loopback (guestfwd). One boot for the whole file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import {
  busyboxImage, initdataDisk, pushImage, repoRoot, requireTool, startGuestVm, startRegistry, tempDir,
  type GuestVm, type TestRegistry,
} from '@kata-cc/testing';

type Msg = Record<string, unknown>;
interface AgentClientLike {
  call<T = Msg>(method: string, request?: Msg, options?: { timeoutMs?: number }): Promise<T>;
  check(options?: { timeoutMs?: number }): Promise<number>;
  readAll(containerId: string, execId: string, which?: 'ReadStdout' | 'ReadStderr'): Promise<Buffer>;
  close(): void;
}

const repo = repoRoot();
const POLICY = `package agent_policy

default AllowRequestsFailingPolicy := false
default CreateSandboxRequest := true
default DestroySandboxRequest := true
default CreateContainerRequest := true
default StartContainerRequest := true
default RemoveContainerRequest := true
default WaitProcessRequest := true
default SignalProcessRequest := true
default ReadStreamRequest := true
default WriteStreamRequest := true
default CloseStdinRequest := true
default StatsContainerRequest := true
default GuestDetailsRequest := true
default GetOOMEventRequest := true
default UpdateContainerRequest := true
default TtyWinResizeRequest := true
default SetPolicyRequest := false
default ExecProcessRequest := false

# Only /bin/sh may be exec'd into a container (genpolicy-style allow list on input.process.Args).
ExecProcessRequest {
  input.process.Args[0] == "/bin/sh"
}
`;
const INITDATA = `version = "0.1.0"
algorithm = "sha256"
[data]
"policy.rego" = '''
${POLICY}'''
`;

let tmp: { dir: string; cleanup: () => Promise<void> };
let reg: TestRegistry;
let vm: GuestVm | undefined;
let agent: AgentClientLike;
let imageRef: string;
const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The AGENT_* code a failed call carries (ttRPC ErrorInfo reason), or its message. */
async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: String((err as { code?: unknown }).code), message: (err as Error).message };
  }
  assert.fail('expected the call to fail');
}

async function readUntil(containerId: string, execId: string, re: RegExp): Promise<string> {
  let out = '';
  while (!re.test(out)) {
    const r = await agent.call<{ data: Buffer }>('ReadStdout', { container_id: containerId, exec_id: execId, len: 32768 }, { timeoutMs: 120_000 });
    out += Buffer.from(r.data).toString();
  }
  return out;
}

before(async () => {
  requireTool('qemu-system-x86_64');
  tmp = await tempDir('kcc-guest-vm-');
  reg = await startRegistry();
  await pushImage(reg, 'kcc/bb', '1', await busyboxImage(['sh', '-c', 'echo hello-from-guest-pull; cat /hello.txt; exec sleep 600']));
  imageRef = '10.0.2.100:5000/kcc/bb:1';
  const out = execFileSync(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { encoding: 'utf8', timeout: 900_000 });
  const image = JSON.parse(out) as { kernel: string; initrd: string; rootfs: string; cmdline: string };
  const initdata = path.join(tmp.dir, 'initdata.img');
  await writeFile(initdata, initdataDisk(INITDATA));
  const port = Number(new URL(reg.url).port);
  vm = await startGuestVm({
    image, disks: [initdata], memMiB: 1024,
    forwards: [{ guestPort: 5000, hostPort: port }],
    append: 'kata_cc.insecure_registries=10.0.2.100:5000 kata_cc.extra_server_addr=vsock://-1:1024 kata_cc.vsock_selfcheck=1',
    // KATA_CC_GUEST_CONSOLE=1 shows the guest's serial console (kernel, init, agent logs).
    ...(process.env['KATA_CC_GUEST_CONSOLE'] ? { onLine: (l: string) => process.stderr.write(`[guest] ${l}\n`) } : {}),
  });
  await vm.waitForLine(/MARK agent-ready/, 240_000);
  const { AgentClient } = (await import(path.join(repo, 'guest-components/agent/dist/index.js'))) as { AgentClient: new (s: Duplex) => AgentClientLike };
  agent = new AgentClient(await vm.connectAgent());
});

after(async () => {
  agent?.close();
  await vm?.stop();
  await reg?.stop();
  await tmp?.cleanup();
});

test('agent serves grpc.Health and GetGuestDetails over virtio-serial; initdata policy is in force', async () => {
  assert.equal(await agent.check({ timeoutMs: 30_000 }), 1);
  const d = await agent.call<{ agent_details: { storage_handlers: string[]; version: string } }>('GetGuestDetails', { mem_block_size: true });
  assert.ok(d.agent_details.storage_handlers.includes('image_guest_pull'));
  assert.ok(vm?.lines.some((l) => /initdata loaded/.test(l) && /"digest":"[0-9a-f]{64}"/.test(l)), 'the agent logs the initdata digest');
});

test('vsock: the agent also listens on AF_VSOCK port 1024 (native addon); a Health/Check over the guest loopback transport succeeds', async () => {
  const line = await vm?.waitForLine(/MARK vsock-check ok|vsock-check failed/, 120_000);
  assert.match(line ?? '', /MARK vsock-check ok \d+ status=1/);
});

test('sandbox + pause container from the guest image; app container pulled in the guest; output read', async () => {
  await agent.call('CreateSandbox', { sandbox_id: 'sb1', hostname: 'kcc-guest' });
  await agent.call('CreateContainer', {
    container_id: 'pause', exec_id: 'pause',
    storages: [{ driver: 'image_guest_pull', source: 'pause', fstype: 'overlay', mount_point: '/run/kata-containers/pause/rootfs',
      driver_options: [`image_guest_pull=${JSON.stringify({ metadata: { 'io.kubernetes.cri.container-type': 'sandbox' } })}`] }],
    OCI: { Version: '1.0.2', Root: { Path: 'rootfs' } },
  }, { timeoutMs: 120_000 });
  await agent.call('StartContainer', { container_id: 'pause' }, { timeoutMs: 120_000 });
  // The image config (Cmd, Env, WorkingDir) applies: the spec from the host carries no args.
  await agent.call('CreateContainer', {
    container_id: 'app', exec_id: 'app',
    storages: [{ driver: 'image_guest_pull', source: imageRef, fstype: 'overlay', mount_point: '/run/kata-containers/app/rootfs' }],
    OCI: { Version: '1.0.2', Root: { Path: 'rootfs' }, Linux: { Resources: { Memory: { Limit: 256 * 1024 * 1024 } } } },
  }, { timeoutMs: 300_000 });
  await agent.call('StartContainer', { container_id: 'app' }, { timeoutMs: 120_000 });
  const out = await readUntil('app', 'app', /hello from kata-cc test image/);
  assert.match(out, /hello-from-guest-pull\nhello from kata-cc test image\n/);
  assert.ok(vm?.lines.some((l) => /image pulled in the guest/.test(l) && l.includes('kcc/bb')), 'the agent pulled the image');
});

test('exec into the running container: stdout, stderr, stdin and the exit code', async () => {
  await agent.call('ExecProcess', { container_id: 'app', exec_id: 'e1', process: { Args: ['/bin/sh', '-c', 'echo exec-ok; cat /hello.txt; echo to-stderr >&2; exit 7'], Cwd: '/' } });
  const [stdout, stderr] = await Promise.all([agent.readAll('app', 'e1'), agent.readAll('app', 'e1', 'ReadStderr')]);
  assert.equal(stdout.toString(), 'exec-ok\nhello from kata-cc test image\n');
  assert.equal(stderr.toString(), 'to-stderr\n');
  assert.equal((await agent.call<{ status: number }>('WaitProcess', { container_id: 'app', exec_id: 'e1' })).status, 7);

  await agent.call('ExecProcess', { container_id: 'app', exec_id: 'e2', process: { Args: ['/bin/sh', '-c', 'read line; echo got-$line'], Cwd: '/' } });
  assert.equal((await agent.call<{ len: number }>('WriteStdin', { container_id: 'app', exec_id: 'e2', data: Buffer.from('abc\n') })).len, 4);
  await agent.call('CloseStdin', { container_id: 'app', exec_id: 'e2' });
  assert.equal((await agent.readAll('app', 'e2')).toString(), 'got-abc\n');
  assert.equal((await agent.call<{ status: number }>('WaitProcess', { container_id: 'app', exec_id: 'e2' })).status, 0);
});

test('requests the initdata policy denies are refused with PERMISSION_DENIED naming the request', async () => {
  const exec = await rejection(agent.call('ExecProcess', { container_id: 'app', exec_id: 'e3', process: { Args: ['/bin/cat', '/hello.txt'], Cwd: '/' } }));
  assert.equal(exec.code, 'AGENT_POLICY_DENIED');
  assert.match(exec.message, /^ExecProcess is blocked by policy/);
  const setPolicy = await rejection(agent.call('SetPolicy', { policy: 'package agent_policy\ndefault ExecProcessRequest := true\n' }));
  assert.equal(setPolicy.code, 'AGENT_POLICY_DENIED');
  assert.match(setPolicy.message, /SetPolicy is blocked by policy/);
});

test('stats, OOM event, signals and bad requests', async () => {
  const stats = await agent.call<{ cgroup_stats: { memory_stats: { usage: { usage: number; limit: number } }; pids_stats: { current: number } } }>('StatsContainer', { container_id: 'app' });
  assert.ok(stats.cgroup_stats.memory_stats.usage.usage > 0);
  assert.equal(stats.cgroup_stats.memory_stats.usage.limit, 256 * 1024 * 1024);
  assert.ok(stats.cgroup_stats.pids_stats.current >= 1);

  // A container over its memory limit is OOM-killed; GetOOMEvent reports it.
  await agent.call('CreateContainer', {
    container_id: 'oom', exec_id: 'oom',
    storages: [{ driver: 'image_guest_pull', source: imageRef, fstype: 'overlay', mount_point: '/run/kata-containers/oom/rootfs' }],
    OCI: { Version: '1.0.2', Process: { Args: ['/bin/sh', '-c', 'x=a; while true; do x=$x$x; done'], Cwd: '/', Env: ['PATH=/bin'] }, Root: { Path: 'rootfs' }, Linux: { Resources: { Memory: { Limit: 24 * 1024 * 1024 } } } },
  }, { timeoutMs: 300_000 });
  const oom = agent.call<{ container_id: string }>('GetOOMEvent', {}, { timeoutMs: 180_000 });
  await agent.call('StartContainer', { container_id: 'oom' }, { timeoutMs: 120_000 });
  assert.equal((await oom).container_id, 'oom');
  assert.equal((await agent.call<{ status: number }>('WaitProcess', { container_id: 'oom', exec_id: 'oom' }, { timeoutMs: 120_000 })).status, 137);
  await agent.call('RemoveContainer', { container_id: 'oom' });

  assert.equal((await rejection(agent.call('StartContainer', { container_id: 'nope' }))).code, 'AGENT_CONTAINER_NOT_FOUND');
  assert.equal((await rejection(agent.call('CreateContainer', { container_id: '../evil', exec_id: 'x' }))).code, 'AGENT_INVALID_ID');
  assert.equal((await rejection(agent.call('CreateSandbox', { sandbox_id: 'sb2' }))).code, 'AGENT_SANDBOX_EXISTS');
  assert.equal((await rejection(agent.call('ListRoutes', {}))).code, 'AGENT_POLICY_DENIED');

  await agent.call('SignalProcess', { container_id: 'app', exec_id: '', signal: 9 });
  assert.equal((await agent.call<{ status: number }>('WaitProcess', { container_id: 'app', exec_id: 'app' }, { timeoutMs: 60_000 })).status, 137);
});

test('DestroySandbox removes every container and leaves no container process in the guest', async () => {
  await agent.call('DestroySandbox', {}, { timeoutMs: 120_000 });
  assert.equal((await rejection(agent.call('StatsContainer', { container_id: 'pause' }))).code, 'AGENT_CONTAINER_NOT_FOUND');
  // A probe container WITHOUT a pid namespace sees every process of the guest in /proc.
  await agent.call('CreateSandbox', { sandbox_id: 'probe' });
  await agent.call('CreateContainer', {
    container_id: 'probe', exec_id: 'probe',
    storages: [{ driver: 'image_guest_pull', source: 'pause', fstype: 'overlay', mount_point: '/run/kata-containers/probe/rootfs' }],
    OCI: {
      Version: '1.0.2', Root: { Path: 'rootfs' },
      Process: { Args: ['/bin/sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done'], Cwd: '/', Env: ['PATH=/bin'] },
      Linux: { Namespaces: [{ Type: 'mount' }, { Type: 'ipc' }, { Type: 'uts' }] },
    },
  }, { timeoutMs: 120_000 });
  await agent.call('StartContainer', { container_id: 'probe' }, { timeoutMs: 120_000 });
  const ps = (await agent.readAll('probe', 'probe')).toString();
  assert.match(ps, /kata-agent\.mjs/, 'the probe sees the guest processes');
  const others = ps.split('\n').filter((l) => !l.includes('/probe') && !l.includes('for p in'));
  assert.deepEqual(others.filter((l) => /sleep|runc|while true|\/pause/.test(l)), []);
  await agent.call('DestroySandbox', {}, { timeoutMs: 120_000 });
  await sleepMs(0);
});
