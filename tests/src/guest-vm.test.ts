/**
 * The guest, booted for real: QEMU (TCG, q35, PVH vmlinux) boots the image builder's kernel,
 * initramfs and dm-verity rootfs; the kata-agent answers over virtio-serial; initdata (with an
 * agent policy) arrives as a block device; the container image is pulled INSIDE the guest from a
 * real registry on the host's loopback (guestfwd). initdata also configures the attestation
 * agent and the CDH (sample TEE) for the real KBS, run as a process on the host: an image whose
 * layers are encrypted (skopeo) is pulled by the CDH, which unwraps the layer keys with a KEK
 * the KBS releases after attestation. One boot for the whole file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { decryptJwe, loadPrivateKey } from '@kata-cc/image-rs';
import {
  buildTar, busyboxImage, httpRaw, initdataDisk, pushImage, pushManifest, repoRoot, requireTool, startGuestVm, startRegistry, tempDir, writeOciLayout,
  type GuestVm, type TestRegistry,
} from '@kata-cc/testing';
import { kbsCli, startKbs, type RunningKbs } from './kbs-harness.js';

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
default ListInterfacesRequest := true
default ListRoutesRequest := true
default UpdateInterfaceRequest := true
default UpdateRoutesRequest := true
default SetGuestDateTimeRequest := true
default SetPolicyRequest := false
default ExecProcessRequest := false

# Only /bin/sh may be exec'd into a container (genpolicy-style allow list on input.process.Args).
ExecProcessRequest {
  input.process.Args[0] == "/bin/sh"
}
`;
/** KBS and registry as the guest reaches them (guestfwd to the host's loopback). */
const GUEST_KBS = 'http://10.0.2.100:8080';
const GUEST_REG = '10.0.2.100:5000';
const INITDATA = `version = "0.1.0"
algorithm = "sha256"
[data]
"aa.toml" = '''
[token_configs.kbs]
url = "${GUEST_KBS}"
'''
"cdh.toml" = '''
[kbc]
name = "cc_kbc"
url = "${GUEST_KBS}"
[[image.registry_config.registry]]
location = "${GUEST_REG}"
insecure = true
'''
"policy.rego" = '''
${POLICY}'''
`;
const ENC_KEYS_JWE = 'org.opencontainers.image.enc.keys.jwe';
const ENC_KEYS_PROVIDER = 'org.opencontainers.image.enc.keys.provider.';
const kek = randomBytes(32);
let kbs: RunningKbs;

/**
 * Re-wraps the layer keys skopeo wrapped for an RSA key as coco-keyprovider does: the
 * `attestation-agent` key provider annotation, AES-256-GCM under a KEK stored in the KBS.
 */
async function rewrapForKeyProvider(repo: string, tag: string, kid: string, rsaKey: string): Promise<void> {
  const mres = await httpRaw('GET', `${reg.url}/v2/${repo}/manifests/v1`, { accept: 'application/vnd.oci.image.manifest.v1+json' });
  const manifest = JSON.parse(mres.body.toString()) as { layers: { annotations: Record<string, string> }[] };
  for (const l of manifest.layers) {
    const jwe = JSON.parse(Buffer.from(l.annotations[ENC_KEYS_JWE] ?? '', 'base64').toString()) as Parameters<typeof decryptJwe>[0];
    const opts = decryptJwe(jwe, [loadPrivateKey(await readFile(rsaKey))]).plaintext as Buffer;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    const wrapped = Buffer.concat([c.update(opts), c.final(), c.getAuthTag()]);
    delete l.annotations[ENC_KEYS_JWE];
    l.annotations[`${ENC_KEYS_PROVIDER}attestation-agent`] = Buffer.from(JSON.stringify({ kid, wrapped_data: wrapped.toString('base64'), iv: iv.toString('base64'), wrap_type: 'A256GCM' })).toString('base64');
  }
  await pushManifest(reg, repo, tag, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
}

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
  imageRef = `${GUEST_REG}/kcc/bb:1`;
  // The encrypted image: busybox plus a secret layer, encrypted by skopeo, keys re-wrapped for the KBS KEK.
  const skopeo = requireTool('skopeo');
  const rsa = path.join(tmp.dir, 'rsa.pem');
  execFileSync('openssl', ['genrsa', '-out', rsa, '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', rsa, '-pubout', '-out', `${rsa}.pub`], { stdio: 'ignore' });
  const bb = await busyboxImage(['cat', '/secret.txt']);
  writeOciLayout(path.join(tmp.dir, 'layout'), 'v1', { ...bb, layers: [...bb.layers, { tar: buildTar([{ path: 'secret.txt', data: 'decrypted in the guest\n' }]) }] });
  execFileSync(skopeo, ['copy', '--quiet', '--dest-tls-verify=false', '--encryption-key', `jwe:${rsa}.pub`, `oci:${path.join(tmp.dir, 'layout')}:v1`, `docker://${reg.host}/enc/bb:v1`]);
  await rewrapForKeyProvider('enc/bb', 'kp', 'kbs:///default/image-kek/1', rsa);
  await rewrapForKeyProvider('enc/bb', 'kp-missing', 'kbs:///default/image-kek/missing', rsa);
  kbs = await startKbs(tmp.dir);
  await writeFile(path.join(tmp.dir, 'kek.bin'), kek);
  const set = await kbsCli(['--url', kbs.url, '--admin-key', kbs.adminKey, 'set-resource', '--path', 'default/image-kek/1', '--file', path.join(tmp.dir, 'kek.bin')]);
  assert.equal(set.code, 0, set.stderr);
  const out = execFileSync(process.execPath, [path.join(repo, 'guest-components/image-builder/bin/kata-cc-build-guest.js'), '--json'], { encoding: 'utf8', timeout: 900_000 });
  const image = JSON.parse(out) as { kernel: string; initrd: string; rootfs: string; cmdline: string };
  const initdata = path.join(tmp.dir, 'initdata.img');
  await writeFile(initdata, initdataDisk(INITDATA));
  const port = Number(new URL(reg.url).port);
  vm = await startGuestVm({
    image, disks: [initdata], memMiB: 1024,
    forwards: [{ guestPort: 5000, hostPort: port }, { guestPort: 8080, hostPort: Number(new URL(kbs.url).port) }],
    append: 'kata_cc.aa_allow_sample=1 kata_cc.insecure_registries=10.0.2.100:5000 kata_cc.extra_server_addr=vsock://-1:1024 kata_cc.vsock_selfcheck=1',
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
  await kbs?.stop();
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
  assert.ok(vm?.lines.some((l) => /"imagePuller":"cdh"/.test(l)), 'guest pull goes through the CDH (initdata has cdh.toml)');
});

test('encrypted image: the CDH in the guest unwraps the layer keys with the KEK the KBS releases after sample attestation', async () => {
  await agent.call('CreateContainer', {
    container_id: 'enc', exec_id: 'enc',
    storages: [{ driver: 'image_guest_pull', source: `${GUEST_REG}/enc/bb:kp`, fstype: 'overlay', mount_point: '/run/kata-containers/enc/rootfs' }],
    OCI: { Version: '1.0.2', Root: { Path: 'rootfs' } },
  }, { timeoutMs: 600_000 });
  await agent.call('StartContainer', { container_id: 'enc' }, { timeoutMs: 120_000 });
  assert.equal((await agent.readAll('enc', 'enc')).toString(), 'decrypted in the guest\n');
  assert.equal((await agent.call<{ status: number }>('WaitProcess', { container_id: 'enc', exec_id: 'enc' })).status, 0);
  await agent.call('RemoveContainer', { container_id: 'enc' });
  // Without the key in the KBS nothing is unpacked and CreateContainer fails with a clear code.
  const missing = await rejection(agent.call('CreateContainer', {
    container_id: 'enc2', exec_id: 'enc2',
    storages: [{ driver: 'image_guest_pull', source: `${GUEST_REG}/enc/bb:kp-missing`, fstype: 'overlay', mount_point: '/run/kata-containers/enc2/rootfs' }],
    OCI: { Version: '1.0.2', Root: { Path: 'rootfs' } },
  }, { timeoutMs: 600_000 }));
  assert.equal(missing.code, 'AGENT_IMAGE_PULL_FAILED');
  assert.match(missing.message, /image-kek\/missing/);
  await assert.rejects(agent.call('StatsContainer', { container_id: 'enc2' }), { code: 'AGENT_CONTAINER_NOT_FOUND' });
});

test('exec into the running container: stdout, stderr, stdin, exit code, terminal and resize', async () => {
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

  // A terminal process: its stdio is a pty in the container; TtyWinResize reaches it.
  await agent.call('ExecProcess', { container_id: 'app', exec_id: 'tty', process: { Terminal: true, Args: ['/bin/sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo on-a-tty; sleep 2; /bin/busybox stty size'], Cwd: '/' } });
  await agent.call('TtyWinResize', { container_id: 'app', exec_id: 'tty', row: 40, column: 100 });
  assert.match((await agent.readAll('app', 'tty')).toString(), /^on-a-tty\r?\n40 100\r?\n$/);
  assert.equal((await agent.call<{ status: number }>('WaitProcess', { container_id: 'app', exec_id: 'tty' })).status, 0);
  assert.equal((await rejection(agent.call('TtyWinResize', { container_id: 'app', exec_id: 'e2', row: 40, column: 100 }))).code, 'AGENT_TTY_UNSUPPORTED');
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
  assert.equal((await rejection(agent.call('GetIPTables', {}))).code, 'AGENT_POLICY_DENIED');

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

test('networking RPCs: ListInterfaces/ListRoutes read the guest network; UpdateInterface/UpdateRoutes apply one', async () => {
  type Iface = { name: string; hwAddr: string; mtu: number; IPAddresses: { family: number; address: string; mask: string }[] };
  type Route = { dest: string; gateway: string; device: string };
  const { Interfaces } = await agent.call<{ Interfaces: Iface[] }>('ListInterfaces', {});
  const eth0 = Interfaces.find((i) => i.name === 'eth0');
  assert.ok(eth0, 'eth0 is listed');
  assert.deepEqual(eth0.IPAddresses.filter((a) => a.family === 0), [{ family: 0, address: '10.0.2.15', mask: '24' }]);
  assert.match(eth0.hwAddr, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  const { Routes } = await agent.call<{ Routes: Route[] }>('ListRoutes', {});
  assert.ok(Routes.some((r) => r.dest === '' && r.gateway === '10.0.2.2' && r.device === 'eth0'), JSON.stringify(Routes));
  // As kata's runtime does at sandbox start: the interface (found by MAC) and the routes are set.
  const updated = await agent.call<Iface>('UpdateInterface', { interface: { name: 'eth0', hwAddr: eth0.hwAddr, mtu: 1400, IPAddresses: [{ family: 0, address: '10.0.2.15', mask: '24' }] } });
  assert.equal(updated.mtu, 1400);
  const routes = await agent.call<{ Routes: Route[] }>('UpdateRoutes', { routes: { Routes: [{ dest: '10.0.2.0/24', device: 'eth0', scope: 253, family: 0 }, { dest: '', gateway: '10.0.2.2', device: 'eth0', family: 0 }] } });
  assert.ok(routes.Routes.some((r) => r.dest === '' && r.gateway === '10.0.2.2'));
  assert.ok(routes.Routes.some((r) => r.dest === '10.0.2.0/24' && r.device === 'eth0'));
  await agent.call('SetGuestDateTime', { Sec: Math.floor(Date.now() / 1000), Usec: 0 });
});
