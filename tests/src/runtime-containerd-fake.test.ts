/**
 * The shim under a real containerd 1.6 (ctr and CRI as kubelet), with the FAKE hypervisor and
 * FAKE agent (container processes run on the host): Task API, events, stdio, exit codes,
 * one shim per pod, teardown and faults. The same flow with the real guest is in
 * runtime-cri-guest.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { isKccError } from '@kata-cc/errors';
import { EVENTS_SERVICE, NAMESPACE_METADATA_KEY, codec } from '@kata-cc/shim';
import { TtrpcClient } from '@kata-cc/ttrpc';
import {
  CRI_CONTAINER_STATE, busyboxImage, criClient, pushImage, repoRoot, shimDirFor, startContainerd, startRegistry,
  type CriClient, type TestContainerd, type TestRegistry,
} from '@kata-cc/testing';

const repo = repoRoot();
const FAKE_AGENT = path.join(repo, 'runtime/sandbox/dist/fake-agent/main.js');
let tmp: string;
let reg: TestRegistry;
let ctd: TestContainerd;
let cri: CriClient;
let shimDir: { dir: string; cleanup: () => Promise<void> };
let bb: string;
let stateDir: string;

/** The shim's per-sandbox state dir (runtime/sandbox sandboxDir). */
const vmDir = (id: string): string => path.join(stateDir, 'sbs', createHash('sha256').update(id).digest('hex').slice(0, 16));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kcc-rt-fake-'));
  stateDir = path.join(tmp, 'state');
  const fakeCfg = path.join(tmp, 'fake.toml');
  await writeFile(fakeCfg, `[hypervisor.fake]\nguest_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_AGENT)}]\n[runtime]\nstate_dir = ${JSON.stringify(stateDir)}\n`);
  const hangCfg = path.join(tmp, 'hang.toml');
  await writeFile(hangCfg, `[hypervisor.fake]\nguest_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE_AGENT)}, "--hang"]\n[agent.kata]\ndial_timeout = 2\n[runtime]\nstate_dir = ${JSON.stringify(stateDir)}\n`);
  reg = await startRegistry();
  bb = `${reg.host}/kcc/bb:latest`;
  await pushImage(reg, 'kcc/bb', 'latest', await busyboxImage());
  await pushImage(reg, 'kcc/pause', 'latest', await busyboxImage(['sleep', '2147483647']));
  shimDir = await shimDirFor(repo);
  ctd = await startContainerd({ shimDir: shimDir.dir, kataConfigPath: fakeCfg, sandboxImage: `${reg.host}/kcc/pause:latest`, registry: reg.host, extraHandlers: { 'kata-cc-hang': hangCfg } });
  cri = criClient(ctd.socket);
});

after(async () => {
  cri?.close();
  // Also on failure: shims (they name containerd's socket) and fake VMs (they live in stateDir).
  for (const pid of [...(ctd ? processesWith(ctd.socket) : []), ...(stateDir ? processesWith(stateDir) : [])]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  await ctd?.stop();
  await reg?.stop();
  await shimDir?.cleanup();
  await rm(tmp, { recursive: true, force: true });
});

/** Processes whose command line mentions `needle` (our shims, fake VMs). */
function processesWith(needle: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle); } catch { return false; }
  }).map(Number).filter((p) => p !== process.pid);
}

const podConfig = (name: string) => ({
  metadata: { name, uid: `uid-${name}-${Date.now()}`, namespace: 'default', attempt: 0 },
  log_directory: path.join(tmp, 'logs', name),
  annotations: { 'io.katacontainers.config.hypervisor.default_memory': '256' },
  linux: { security_context: { namespace_options: { network: 2, pid: 0, ipc: 0 } } },
});

async function waitState(id: string, state: number, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await cri.call('ContainerStatus', { container_id: id })) as { status: Record<string, unknown> };
    if (s.status['state'] === state) return s.status;
    if (Date.now() > deadline) throw new Error(`container ${id} stayed in state ${String(s.status['state'])}`);
    await sleep(100);
  }
}

test('fake: ctr run streams stdout/stderr and returns the exit code; nothing is left behind', async () => {
  assert.equal((await ctd.ctr(['image', 'pull', '--plain-http', bb])).code, 0);
  const r = await ctd.ctr(['run', '--rm', '--runtime', 'io.containerd.kata-cc.v2', '--runtime-config-path', path.join(tmp, 'fake.toml'),
    '--annotation', `io.kubernetes.cri.image-name=${bb}`, bb, 'ctr1', 'sh', '-c', 'echo out-line; echo err-line >&2; exit 7'], { timeoutMs: 60_000 });
  assert.equal(r.stdout, 'out-line\n');
  assert.equal(r.stderr, 'err-line\n');
  assert.equal(r.code, 7);
  await sleep(300);
  assert.deepEqual(processesWith(vmDir('ctr1')), []);
  assert.equal(existsSync(vmDir('ctr1')), false);
});

test('fake: stdin flows from ctr through the FIFO and WriteStdin; the writer closing ends it', async () => {
  const r = await ctd.ctr(['run', '--rm', '--runtime', 'io.containerd.kata-cc.v2', '--runtime-config-path', path.join(tmp, 'fake.toml'),
    '--annotation', `io.kubernetes.cri.image-name=${bb}`, bb, 'ctr-stdin', 'sh', '-c', 'read a; read b; echo "got $a+$b"; cat; echo eof'], { input: 'one\ntwo\nrest\n', timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'got one+two\nrest\neof\n');
});

test('fake: ctr run without an image annotation fails with a clear error (no host rootfs sharing)', async () => {
  const r = await ctd.ctr(['run', '--rm', '--runtime', 'io.containerd.kata-cc.v2', '--runtime-config-path', path.join(tmp, 'fake.toml'), bb, 'ctr2', 'true'], { timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /io\.kubernetes\.cri\.image-name/);
  assert.equal(existsSync(vmDir('ctr2')), false);
});

test('fake: CRI pod lifecycle as kubelet runs it (one shim per pod, logs, ExecSync, stop, remove)', async () => {
  await cri.call('PullImage', { image: { image: bb } });
  const cfg = podConfig('pod-a');
  const { pod_sandbox_id: pod } = (await cri.call('RunPodSandbox', { config: cfg, runtime_handler: 'kata-cc' })) as { pod_sandbox_id: string };
  const c1 = (await cri.call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: cfg, config: { metadata: { name: 'c1', attempt: 0 }, image: { image: bb }, command: ['/bin/sh', '-c', 'echo hello-from-pod; sleep 1; exit 3'], log_path: 'c1.log' } })) as { container_id: string };
  await cri.call('StartContainer', { container_id: c1.container_id });
  // The `sleep 1` keeps the exit after containerd's started_at, which it stamps only once Start
  // has returned: an instant exit can carry an earlier timestamp with any shim.
  const st = await waitState(c1.container_id, CRI_CONTAINER_STATE.EXITED);
  assert.equal(st['exit_code'], 3);
  assert.ok(Number(st['finished_at']) >= Number(st['started_at']));
  const log = await readFile(path.join(cfg.log_directory, 'c1.log'), 'utf8');
  assert.match(log, /^\S+ stdout F hello-from-pod$/m);

  const c2 = (await cri.call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: cfg, config: { metadata: { name: 'c2', attempt: 0 }, image: { image: bb }, command: ['/bin/sh', '-c', 'sleep 600'], log_path: 'c2.log' } })) as { container_id: string };
  await cri.call('StartContainer', { container_id: c2.container_id });
  await waitState(c2.container_id, CRI_CONTAINER_STATE.RUNNING);
  const ex = (await cri.call('ExecSync', { container_id: c2.container_id, cmd: ['/bin/sh', '-c', 'echo exec-out; echo exec-err >&2; exit 5'], timeout: 20 })) as { stdout: Buffer; stderr: Buffer; exit_code: number };
  assert.equal(Buffer.from(ex.stdout).toString(), 'exec-out\n');
  assert.equal(Buffer.from(ex.stderr).toString(), 'exec-err\n');
  assert.equal(ex.exit_code, 5);

  // One shim per pod: the containers' bundles point at the sandbox's socket and run no shim.
  const bundles = path.join(ctd.dir, 'state/io.containerd.runtime.v2.task/k8s.io');
  const podAddress = readFileSync(path.join(bundles, pod, 'address'), 'utf8');
  assert.equal(readFileSync(path.join(bundles, c2.container_id, 'address'), 'utf8'), podAddress);
  assert.equal(existsSync(path.join(bundles, c2.container_id, 'shim.pid')), false);
  const shimPid = Number(readFileSync(path.join(bundles, pod, 'shim.pid'), 'utf8'));

  // Without TaskExit events containerd retries for ~60 s: the deadline makes that a failure.
  await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 30_000);
  await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 30_000);
  for (let i = 0; i < 50 && existsSync(`/proc/${shimPid}`); i++) await sleep(100);
  assert.equal(existsSync(`/proc/${shimPid}`), false, 'the pod shim exited');
  assert.equal(existsSync(vmDir(pod)), false, 'the VM state is gone');
  assert.equal(existsSync(podAddress.replace('unix://', '')), false, 'the shim socket is gone');
  assert.deepEqual(processesWith(vmDir(pod)), []);
});

test('fault (fake): the VM dies mid-run -> TaskExit published, pod still stops and is removed', async () => {
  const cfg = podConfig('pod-vmdies');
  const { pod_sandbox_id: pod } = (await cri.call('RunPodSandbox', { config: cfg, runtime_handler: 'kata-cc' })) as { pod_sandbox_id: string };
  const c = (await cri.call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: cfg, config: { metadata: { name: 'long', attempt: 0 }, image: { image: bb }, command: ['/bin/sh', '-c', 'sleep 600'], log_path: 'long.log' } })) as { container_id: string };
  await cri.call('StartContainer', { container_id: c.container_id });
  await waitState(c.container_id, CRI_CONTAINER_STATE.RUNNING);
  const vmPid = Number(readFileSync(path.join(vmDir(pod), 'vmm.pid'), 'utf8'));
  process.kill(vmPid, 'SIGKILL');
  const st = await waitState(c.container_id, CRI_CONTAINER_STATE.EXITED);
  assert.equal(st['exit_code'], 255);
  await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 30_000);
  await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 30_000);
  // The exiting shim removes the VM state after containerd's Remove returns: wait for it.
  for (let i = 0; i < 100 && existsSync(vmDir(pod)); i++) await sleep(100);
  assert.equal(existsSync(vmDir(pod)), false);
});

test('fault (fake): the shim is killed -> containerd runs `shim delete`, which kills the VM and cleans up', async () => {
  const cfg = podConfig('pod-shimdies');
  const { pod_sandbox_id: pod } = (await cri.call('RunPodSandbox', { config: cfg, runtime_handler: 'kata-cc' })) as { pod_sandbox_id: string };
  const bundles = path.join(ctd.dir, 'state/io.containerd.runtime.v2.task/k8s.io');
  const shimPid = Number(readFileSync(path.join(bundles, pod, 'shim.pid'), 'utf8'));
  const vmPid = Number(readFileSync(path.join(vmDir(pod), 'vmm.pid'), 'utf8'));
  process.kill(shimPid, 'SIGKILL');
  await sleep(300);
  await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 30_000);
  await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 30_000);
  // containerd runs `shim delete` for the dead shim in the background: wait for its work.
  for (let i = 0; i < 100 && (existsSync(`/proc/${vmPid}`) || existsSync(vmDir(pod))); i++) await sleep(100);
  assert.equal(existsSync(`/proc/${vmPid}`), false, 'the orphaned VM was killed by shim delete');
  assert.equal(existsSync(vmDir(pod)), false);
});

test('fault (fake): an agent that never answers fails RunPodSandbox with SANDBOX_AGENT_TIMEOUT, no hang, nothing left', async () => {
  const cfg = podConfig('pod-hang');
  await assert.rejects(cri.call('RunPodSandbox', { config: cfg, runtime_handler: 'kata-cc-hang' }, 60_000), (e: Error) => /The agent did not answer grpc.Health\/Check within 2000 ms/.test(e.message));
  // The failed sandbox is torn down after the error returns: wait for that, then check nothing is left.
  for (let i = 0; i < 100 && processesWith('--hang').length > 0; i++) await sleep(100);
  const left = existsSync(path.join(stateDir, 'sbs')) ? readdirSync(path.join(stateDir, 'sbs')) : [];
  assert.deepEqual(left, []);
  assert.deepEqual(processesWith('--hang'), []);
});

test('ttRPC interop with containerd (Go ttrpc): Events/Forward reaches subscribers; a Go error status maps to its kind', async () => {
  const events = spawn('ctr', ['--address', ctd.socket, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let seen = '';
  events.stdout.on('data', (d: Buffer) => { seen += d.toString(); });
  try {
    await sleep(300);
    const client = await TtrpcClient.connect(ctd.ttrpcSocket);
    try {
      const req = codec('containerd.services.events.ttrpc.v1.ForwardRequest');
      const empty = codec('google.protobuf.Empty');
      const envelope = (ns: string) => ({ envelope: { timestamp: { seconds: Math.floor(Date.now() / 1000), nanos: 0 }, namespace: ns, topic: '/tasks/oom', event: { type_url: 'containerd.events.TaskOOM', value: codec('containerd.events.TaskOOM').encode({ container_id: 'interop-oom-1' }) } } });
      await client.request(EVENTS_SERVICE, 'Forward', req, empty, envelope('kcc-interop'), { timeoutMs: 5000, metadata: [{ key: NAMESPACE_METADATA_KEY, value: 'kcc-interop' }] });
      for (let i = 0; i < 50 && !seen.includes('interop-oom-1'); i++) await sleep(100);
      assert.match(seen, /kcc-interop \/tasks\/oom .*interop-oom-1/);
      // containerd validates the namespace and answers a google.rpc.Status from Go
      await assert.rejects(client.request(EVENTS_SERVICE, 'Forward', req, empty, envelope('Bad Namespace!'), { timeoutMs: 5000 }),
        (e: unknown) => isKccError(e) && e.kind === 'INVALID_ARGUMENT' && /namespace/i.test(e.message));
    } finally {
      client.close();
    }
  } finally {
    events.kill('SIGKILL');
  }
});
